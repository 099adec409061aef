"""Real Redis, S3-compatible (moto) and PostgreSQL servers on free loopback ports, and worker processes.

Each test session starts its own; nothing is shared with the machine or mocked.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

__all__ = ["free_port", "RedisServer", "MotoS3Server", "PostgresServer", "WorkerProcess", "GatewayProcess"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _own_data_dir(env: dict[str, str]) -> dict[str, str]:
    """A process keeps its ledger (and spill files) in a temporary directory unless the test names one."""
    return {"AUDIO_GATEWAY_DATA_DIR": tempfile.mkdtemp(prefix="ag-data-"), **env}


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


class PostgresServer:
    """A throwaway PostgreSQL cluster (Debian's binaries, initdb + pg_ctl) on a free loopback port.

    PostgreSQL refuses to run as root, so as root the cluster belongs to, and runs as, the `postgres`
    user. fsync is off (unless `durable`): the data is thrown away with the directory. `stop()`/`start()` take it down and
    up again on the same port, for outage tests; `close()` removes it.
    """

    def __init__(self, *, durable: bool = False) -> None:
        self._durable = durable            # fsync on, as a real server runs (for benchmarks)
        self._bin = self._binaries()
        self.port = free_port()
        self._dir = tempfile.mkdtemp(prefix="ag-postgres-")
        self._data = os.path.join(self._dir, "data")
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self._dir, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", self._data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync",
                  "--no-instructions")
        self.start()

    @staticmethod
    def _binaries() -> str:
        """Debian keeps the server tools off PATH, in /usr/lib/postgresql/<major>/bin (newest wins)."""
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
        on_path = shutil.which("initdb")
        if found:
            return os.path.dirname(found[-1])
        if on_path:
            return os.path.dirname(os.path.realpath(on_path))
        raise RuntimeError("PostgreSQL is not installed; `make test` installs it (scripts/ensure-system-deps.sh)")

    def _run(self, tool: str, *args: str) -> None:
        command = [os.path.join(self._bin, tool), *args]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self._dir, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.decode(errors='replace').strip()}")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._dir} -c max_connections=200"
        if not self._durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", self._data, "-o", options, "-l", os.path.join(self._dir, "log"), "-w", "-t", "30",
                  "start")

    def stop(self) -> None:
        """A clean, fast shutdown: connections are cut, committed data stays (unlike `-m immediate`, a crash
        that with fsync and synchronous_commit off here would lose the last commits)."""
        self._run("pg_ctl", "-D", self._data, "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        try:
            self._run("pg_ctl", "-D", self._data, "status")
        except RuntimeError:
            return False
        return True

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def postmaster_pid(self) -> int:
        """The server's main process (every backend is forked from it), from its `postmaster.pid`."""
        with open(os.path.join(self._data, "postmaster.pid")) as f:
            return int(f.readline())

    def create_database(self, name: str) -> str:
        """A fresh database in this cluster; returns its URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass  # already stopped
        shutil.rmtree(self._dir, ignore_errors=True)


class WorkerProcess:
    """`audio-gateway worker` in its own process, so a test can kill it like a crashed machine."""

    def __init__(self, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "audio_gateway.cli", "worker", *args],
            env={**os.environ, **_own_data_dir(env), "PYTHONUNBUFFERED": "1"}, stdout=self._log, stderr=subprocess.STDOUT,
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
            env={**os.environ, **_own_data_dir(env), "PYTHONUNBUFFERED": "1"}, stdout=self._log, stderr=subprocess.STDOUT,
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
