"""Everything the soak runs against, all on loopback: fake providers, Redis, S3, the gateway and workers.

The gateway and the workers are real `audio-gateway` processes (not threads in this one), so the soak can
SIGKILL a worker like a crashed machine and read the gateway's RSS and descriptors from /proc without
counting its own. Redis, S3 and the workers come from the test suite's support code, the fakes from
tests/fakes, so the soak exercises exactly what the tests trust.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from tests.fakes import FakeOpenAI, FakeSiliconFlow
from tests.support.services import MotoS3Server, RedisServer, WorkerProcess, free_port

from .config import SoakConfig

__all__ = ["CLIENT_KEYS", "PROVIDER_KEYS", "SERVER_SECRET", "BUCKET", "GatewayProcess", "Stack", "Workers",
           "open_stack"]

CLIENT_KEYS = {"alice": "sk-soak-alice-5b0c7e91", "bob": "sk-soak-bob-c24d18aa"}
PROVIDER_KEYS = {"openai": "sk-soak-provider-openai-SECRET-51f0", "siliconflow": "sk-soak-provider-sf-SECRET-a7e3"}
SERVER_SECRET = "soak-server-secret-3f9a0c5e7b1d2846-not-for-production"
"""AUDIO_GATEWAY_SECRET_KEY: owner ids, and one more secret that must never reach a log."""
BUCKET = "audio-gateway-soak"


def _env(config: SoakConfig, openai: FakeOpenAI, siliconflow: FakeSiliconFlow, redis: RedisServer,
         s3: MotoS3Server) -> dict[str, str]:
    """Gateway and worker environment: short timeouts and heartbeats so faults and crashes resolve in seconds."""
    return {
        "OPENAI_BASE_URL": openai.url,
        "OPENAI_API_KEY": PROVIDER_KEYS["openai"],
        "SILICONFLOW_BASE_URL": siliconflow.url,
        "SILICONFLOW_API_KEY": PROVIDER_KEYS["siliconflow"],
        "AUDIO_GATEWAY_API_KEYS": ",".join(f"{name}:{key}" for name, key in CLIENT_KEYS.items()),
        "AUDIO_GATEWAY_SECRET_KEY": SERVER_SECRET,
        "AUDIO_GATEWAY_UPSTREAM_TIMEOUT": str(config.upstream_timeout),
        "AUDIO_GATEWAY_BREAKER_COOLDOWN": "1",  # breakers open, probe and close many times per run
        "AUDIO_GATEWAY_REQUEST_DEADLINE": "10",
        "AUDIO_GATEWAY_LOCAL": "off",  # the soak checks cloud fallback; local engines have their own benchmark
        "AUDIO_GATEWAY_LOG_LEVEL": "INFO",  # worker logs tell which worker ran, swept or re-queued a job
        "AUDIO_GATEWAY_QUEUE_URL": redis.url(0),
        "AUDIO_GATEWAY_S3_BUCKET": BUCKET,
        "AUDIO_GATEWAY_S3_PREFIX": "soak/",
        "AWS_ENDPOINT_URL": s3.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AUDIO_GATEWAY_WORKER_CONCURRENCY": str(config.worker_concurrency),
        "AUDIO_GATEWAY_JOB_HEARTBEAT": "2",
        "AUDIO_GATEWAY_WORKER_SWEEP": "1",
        "AUDIO_GATEWAY_JOB_ATTEMPTS": "3",
        "AUDIO_GATEWAY_JOB_RETRY_DELAY": "0.2",
        "AUDIO_GATEWAY_JOB_RETRY_BACKOFF_CAP": "1",
        "AUDIO_GATEWAY_JOB_TIMEOUT": "60",
        # A SIGTERMed worker lets running jobs finish for this long, then cancels and re-queues them. Well under
        # the 30 s the soak waits for it to exit: at the default (also 30 s) a job slowed by hang faults could keep
        # the worker draining until the soak's SIGKILL landed mid re-queue, stranding that job.
        "AUDIO_GATEWAY_SHUTDOWN_GRACE": "10",
        "AUDIO_GATEWAY_DATA_DIR": str(config.out_dir / "data"),  # one ledger for the gateway and the workers
        "PYTHONUNBUFFERED": "1",
    }


class GatewayProcess:
    """`audio-gateway serve` on a free port, its output in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "ab")
        executable = Path(sys.executable).with_name("audio-gateway")
        self.process = subprocess.Popen([str(executable), "serve", "--port", str(self.port)],
                                        env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.process.kill()
            self.process.wait(5)
            self._log.close()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"the gateway did not answer /healthz within {timeout}s; see {self.log_path}")

    def stop(self, grace: float = 40.0) -> tuple[int | None, float]:
        """SIGTERM and wait; returns (exit code, seconds it took). SIGKILL only past ``grace``."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return self.process.returncode, time.monotonic() - started


class Workers:
    """The worker pool the soak disrupts: numbered processes, each with its own log."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self._env = env
        self._log_dir = log_dir
        self._spawned = 0
        self.live: list[WorkerProcess] = []
        self.retired: list[WorkerProcess] = []

    def spawn(self) -> WorkerProcess:
        self._spawned += 1
        worker = WorkerProcess(self._env, self._log_dir / f"worker-{self._spawned}.log")
        self.live.append(worker)
        return worker

    def retire(self, worker: WorkerProcess) -> None:
        self.live.remove(worker)
        self.retired.append(worker)

    @property
    def log_paths(self) -> list[Path]:
        return [w.log_path for w in (*self.retired, *self.live)]

    def stop_all(self) -> None:
        for worker in list(self.live):
            worker.stop()
            self.retire(worker)


class Stack:
    def __init__(self, openai: FakeOpenAI, siliconflow: FakeSiliconFlow, gateway: GatewayProcess,
                 workers: Workers, env: dict[str, str]) -> None:
        self.openai = openai
        self.siliconflow = siliconflow
        self.gateway = gateway
        self.workers = workers
        self.env = env
        self.gateway_exit: tuple[int | None, float] | None = None

    @property
    def fakes(self) -> tuple[FakeOpenAI, FakeSiliconFlow]:
        return self.openai, self.siliconflow

    def stop_gateway(self) -> tuple[int | None, float]:
        if self.gateway_exit is None:
            self.gateway_exit = self.gateway.stop()
        return self.gateway_exit


@contextlib.contextmanager
def open_stack(config: SoakConfig, log_dir: Path, workers: int = 2) -> Iterator[Stack]:
    """Start everything (in dependency order) and tear it all down in reverse, whatever happens."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as exits:
        openai = exits.enter_context(FakeOpenAI.start(api_key=PROVIDER_KEYS["openai"]))
        siliconflow = exits.enter_context(FakeSiliconFlow.start(api_key=PROVIDER_KEYS["siliconflow"]))
        redis = RedisServer()
        exits.callback(redis.stop)
        s3 = MotoS3Server()
        exits.callback(s3.stop)
        s3.create_bucket(BUCKET)
        env = _env(config, openai, siliconflow, redis, s3)
        gateway = GatewayProcess(env, log_dir / "gateway.log")
        stack = Stack(openai, siliconflow, gateway, Workers(env, log_dir), env)
        exits.callback(stack.stop_gateway)
        exits.callback(stack.workers.stop_all)
        for _ in range(workers):
            stack.workers.spawn()
        yield stack
