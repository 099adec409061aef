"""Real Redis and S3-compatible (moto) servers on free loopback ports, and worker processes.

Each test session starts its own; nothing is shared with the machine or mocked.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

__all__ = ["free_port", "RedisServer", "MotoS3Server", "WorkerProcess", "GatewayProcess"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(check, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not become ready within {timeout}s")


class RedisServer:
    def __init__(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed; `make test` installs it (scripts/ensure-system-deps.sh)")
        self.port = free_port()
        self._dir = tempfile.mkdtemp(prefix="ag-redis-")
        self._process = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._dir, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(self._ping, "redis-server")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)
        shutil.rmtree(self._dir, ignore_errors=True)


class MotoS3Server:
    def __init__(self) -> None:
        self.port = free_port()
        moto = Path(sys.executable).with_name("moto_server")
        self._process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        _wait_for(self._up, "moto_server")

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/moto-api/", timeout=0.5).status_code < 500
        except httpx.HTTPError:
            return False

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="test",
                     aws_secret_access_key="test").create_bucket(Bucket=name)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)


class WorkerProcess:
    """`audio-gateway worker` in its own process, so a test can kill it like a crashed machine."""

    def __init__(self, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "audio_gateway.cli", "worker", *args],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no re-queue — only SAQ's sweep can rescue its jobs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._log.close()

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, as an orchestrator stopping the machine would; returns the exit status."""
        self.process.terminate()
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


class GatewayProcess:
    """`audio-gateway serve` in its own process, for what a thread cannot show: signals, exit status."""

    def __init__(self, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "audio_gateway.cli", "serve", "--port", str(self.port), *args],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        _wait_for(self._up, "audio-gateway serve")

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"audio-gateway serve exited with {self.process.returncode}; see {self.log_path}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def accepts_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()
