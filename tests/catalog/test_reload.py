"""Catalog hot reload in a real `audio-gateway serve` (one process and `--workers 2`): SIGHUP swaps in an
edited catalog at once, streams in flight finish on the plan they began with, a broken edit changes
nothing that is served and shows in /readyz, nothing is lost under load, and `--watch` needs no signal."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from ..conftest import CLIENT_KEYS, provider_env
from ..fakes import synthesize
from ..support.processes import children, only, wait_for_children
from ..support.server_thread import CATALOG_DIR
from ..support.services import GatewayProcess

AUTH = {"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}
TEXT = "A catalog can change under a running gateway."
SPEECH = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "wav"}
OLD_PRICE, NEW_PRICE = "price_usd: 15, per: 1000000", "price_usd: 20, per: 1000000"
EXTRA_MODEL = """models:
  - id: openai/tts-1-reloaded
    kind: tts
    provider: openai
    upstream_model: tts-1
    aliases: [tts-reloaded]
    voices: openai
    capabilities: {response_formats: [mp3, wav], max_input_chars: 4096}
    billing: [{unit: character, price_usd: 42, per: 1000000}]
"""


def cost(price: int, text: str = TEXT) -> str:
    return str(Decimal(len(text)) * price / 1_000_000)


class Catalog:
    """A copy of the shipped catalog that a test edits under a running gateway."""

    def __init__(self, directory: Path):
        self.dir = directory
        shutil.copytree(CATALOG_DIR, directory)

    def edit(self, relative: str, old: str, new: str) -> None:
        text = (self.dir / relative).read_text()
        assert old in text, f"{relative} no longer contains {old!r}"
        self.write(relative, text.replace(old, new, 1))

    def write(self, relative: str, text: str) -> None:
        """As editors save: a whole new file renamed over the old one, never a half-written file."""
        temporary = self.dir / f".{relative.replace('/', '_')}.tmp"
        temporary.write_text(text)
        os.replace(temporary, self.dir / relative)


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    return Catalog(tmp_path / "catalog")


@pytest.fixture
def start(fake_openai, fake_siliconflow, catalog, tmp_path):
    gateways: list[GatewayProcess] = []

    def start_gateway(workers: str = "1", args: tuple[str, ...] = ()) -> GatewayProcess:
        env = provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_CATALOG=str(catalog.dir),
                           AUDIO_GATEWAY_WORKERS=workers, AUDIO_GATEWAY_UPSTREAM_TIMEOUT="5",
                           AUDIO_GATEWAY_SHUTDOWN_GRACE="2")
        gateway = GatewayProcess(env, tmp_path / f"gateway-{len(gateways)}.log", args=args)
        if workers != "1":
            wait_for_children(gateway.process.pid, lambda kids: len(kids) == int(workers))
        gateways.append(gateway)
        return gateway

    yield start_gateway
    for gateway in gateways:
        if gateway.process.poll() is None:
            gateway.process.send_signal(signal.SIGTERM)
            try:
                gateway.process.wait(10)
            except Exception:
                pass
        gateway.stop()


def models(gateway: GatewayProcess) -> set[str]:
    return {m["id"] for m in httpx.get(f"{gateway.url}/v1/models", headers=AUTH, timeout=5).json()["data"]}


def speak(gateway: GatewayProcess, **body) -> httpx.Response:
    response = httpx.post(f"{gateway.url}/v1/audio/speech", json={**SPEECH, **body}, headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response


def ready(gateway: GatewayProcess) -> dict:
    return httpx.get(f"{gateway.url}/readyz", timeout=5).json()


def wait_until(check, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.02)
    return result


def reload_and_wait(gateway: GatewayProcess, before: str, workers: int = 1) -> str:
    """SIGHUP, then wait until every worker reports a version other than `before`."""
    gateway.process.send_signal(signal.SIGHUP)
    pids = sorted(children(gateway.process.pid)) if workers > 1 else [None]
    versions = []
    for pid in pids:
        def moved() -> str | None:
            version = ready(gateway)["catalog"]["version"]
            return version if version != before else None
        if pid is None:
            versions.append(wait_until(moved, "the catalog was not reloaded"))
        else:
            with only(gateway.process.pid, pid):
                versions.append(wait_until(moved, f"worker {pid} did not reload"))
    assert len(set(versions)) == 1, versions
    return versions[0]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sighup_adds_a_model_and_changes_a_price_at_once(start, catalog, workers):
    gateway = start(workers)
    before = ready(gateway)["catalog"]
    before_models = ready(gateway)["models"]
    assert "openai/tts-1-reloaded" not in models(gateway)
    assert speak(gateway).headers["x-gateway-cost-usd"] == cost(15)
    catalog.write("models/extra.yaml", EXTRA_MODEL)
    catalog.edit("models/tts.yaml", OLD_PRICE, NEW_PRICE)
    version = reload_and_wait(gateway, before["version"], int(workers))
    pids = sorted(children(gateway.process.pid)) if workers == "2" else [None]
    for pid in pids:                            # every worker serves the new catalog
        with only(gateway.process.pid, pid) if pid else _nothing():
            assert "openai/tts-1-reloaded" in models(gateway)
            assert speak(gateway).headers["x-gateway-cost-usd"] == cost(20)
            reloaded = speak(gateway, model="tts-reloaded")
            assert reloaded.headers["x-gateway-model"] == "openai/tts-1-reloaded"
            assert reloaded.headers["x-gateway-cost-usd"] == cost(42)
            status = ready(gateway)
            assert status["status"] == "ready" and status["models"] == before_models + 1
            assert status["catalog"]["version"] == version and status["catalog"]["reload_error"] is None
            assert status["catalog"]["loaded_at"] > before["loaded_at"]


def _nothing():
    from contextlib import nullcontext

    return nullcontext()


def test_a_stream_started_before_a_reload_completes_byte_identical_on_its_old_plan(start, catalog, fake_openai):
    gateway = start()
    before = ready(gateway)["catalog"]["version"]
    fake_openai.audio_seconds, fake_openai.chunk_size, fake_openai.chunk_delay = 2.0, 4096, 0.05
    with httpx.stream("POST", f"{gateway.url}/v1/audio/speech", json=SPEECH, headers=AUTH, timeout=20) as response:
        chunks = response.iter_bytes()
        body = next(chunks)
        # The price changes, and so do OpenAI's settings: the new plan gets a new connection pool, while
        # this stream keeps reading from the old one.
        catalog.edit("models/tts.yaml", OLD_PRICE, NEW_PRICE)
        catalog.edit("providers.yaml", "max_connections: 100        #", "max_connections: 90        #")
        reload_and_wait(gateway, before)
        assert speak(gateway, response_format="mp3").headers["x-gateway-cost-usd"] == cost(20)   # new plan
        body += b"".join(chunks)
    assert response.status_code == 200
    assert response.headers["x-gateway-cost-usd"] == cost(15)        # it was priced on the plan it began with
    assert body == synthesize("wav", 2.0)
    assert "Traceback" not in gateway.log_path.read_text()


BROKEN = [  # (file, text replaced, by what, what the problems must say)
    ("models/tts.yaml", "    kind: tts\n", "    kind: tts\n   bad indent: [\n", ["models/tts.yaml:", "not valid YAML"]),
    ("models/tts.yaml", "- {model: alibaba/cosyvoice2-0.5b, priority: 1}", "- {model: alibaba/no-such-model, priority: 1}",
     ["catalog/models/tts.yaml:", ": at $.models[0].fallbacks[0].model: fallback model 'alibaba/no-such-model' "
      "is not defined"]),
]


def test_a_broken_edit_changes_nothing_served_and_shows_in_readyz(start, catalog):
    """Bad YAML, then a fallback to a model that does not exist: each refused whole, then fixed."""
    gateway = start()
    served = models(gateway)
    version = ready(gateway)["catalog"]["version"]
    price = 15
    for path, old, new, expected in BROKEN:
        before = ready(gateway)
        catalog.edit("models/tts.yaml", f"price_usd: {price}, per: 1000000", f"price_usd: {price + 5}, per: 1000000")
        catalog.edit(path, old, new)                        # a good change in the same edit is refused too
        gateway.process.send_signal(signal.SIGHUP)
        status = wait_until(lambda: (s := ready(gateway))["catalog"]["reload_error"] and s, "no reload error shown")
        error = status["catalog"]["reload_error"]
        assert error["trigger"] == "SIGHUP" and error["at"]
        assert all(any(part in problem for problem in error["problems"]) for part in expected), error
        assert status["status"] == "degraded"
        assert status["catalog"]["version"] == before["catalog"]["version"]
        assert status["catalog"]["loaded_at"] == before["catalog"]["loaded_at"]
        assert models(gateway) == served
        assert speak(gateway).headers["x-gateway-cost-usd"] == cost(price)
        log = gateway.log_path.read_text()
        assert "catalog reload (SIGHUP) refused" in log and all(part in log for part in expected)
        # Fixed: the next reload clears the error and serves the edit.
        catalog.edit(path, new, old)
        version = reload_and_wait(gateway, version)
        fixed = ready(gateway)
        assert fixed["status"] == "ready" and fixed["catalog"]["reload_error"] is None
        assert fixed["catalog"]["version"] == version
        price += 5
        assert speak(gateway).headers["x-gateway-cost-usd"] == cost(price)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_200_requests_across_10_reloads_under_load_lose_none(start, catalog, workers):
    gateway = start(workers)
    outcomes: list[tuple[int, str, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    reloads_done = threading.Event()

    def client(at_least: int) -> None:
        """Sends until it has sent `at_least` and every reload has landed, so the load spans them all."""
        with httpx.Client(base_url=gateway.url, headers=AUTH, timeout=20) as http:
            sent = 0
            while sent < at_least or not reloads_done.is_set():
                time.sleep(0.02)                                             # spread over the reloads
                sent += 1
                try:
                    response = http.post("/v1/audio/speech", json={**SPEECH, "response_format": "mp3"})
                    with lock:
                        outcomes.append((response.status_code, response.headers.get("x-gateway-cost-usd", ""),
                                         len(response.content)))
                except BaseException as exc:  # noqa: BLE001 - every failure is reported below
                    with lock:
                        errors.append(exc)

    def served_since(mark: int, price: str) -> bool:
        with lock:
            return any(seen == price for _, seen, _ in outcomes[mark:]) or bool(errors)

    threads = [threading.Thread(target=client, args=(25,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    prices = [OLD_PRICE, NEW_PRICE]
    try:
        for i in range(10):                                                  # ends on the old price
            with lock:
                mark = len(outcomes)
            catalog.edit("models/tts.yaml", prices[i % 2], prices[(i + 1) % 2])
            gateway.process.send_signal(signal.SIGHUP)
            # Each edit lands under load before the next: a slow machine must not coalesce them all away.
            expected = cost(15 if i % 2 else 20)
            wait_until(lambda m=mark, e=expected: served_since(m, e), f"reload {i} never served", 20)
    finally:
        reloads_done.set()
        for thread in threads:
            thread.join(60)
    assert not errors, errors[:3]
    assert len(outcomes) >= 200
    assert {status for status, _, _ in outcomes} == {200}
    assert {price for _, price, _ in outcomes} == {cost(15), cost(20)}      # reloads landed under load
    assert len({size for _, _, size in outcomes}) == 1                       # every body whole
    # Signals that arrive while a reload runs are coalesced into one more; the last edit always lands.
    for pid in sorted(children(gateway.process.pid)) if workers == "2" else [None]:
        with only(gateway.process.pid, pid) if pid else _nothing():
            wait_until(lambda: speak(gateway).headers["x-gateway-cost-usd"] == cost(15), f"{pid} missed the last edit")
    log = gateway.log_path.read_text()
    assert "Traceback" not in log and "refused" not in log


def test_watch_reloads_on_a_file_change_without_a_signal(start, catalog):
    gateway = start(args=("--watch",))
    before = ready(gateway)["catalog"]["version"]
    catalog.write("models/extra.yaml", EXTRA_MODEL)
    wait_until(lambda: "openai/tts-1-reloaded" in models(gateway), "--watch did not pick up the new file")
    assert ready(gateway)["catalog"]["version"] != before
    catalog.edit("models/tts.yaml", OLD_PRICE, NEW_PRICE)
    wait_until(lambda: speak(gateway).headers["x-gateway-cost-usd"] == cost(20), "--watch missed the price edit")
    assert "catalog reload (file change)" in gateway.log_path.read_text()


def test_watch_with_two_workers_reloads_both(start, catalog):
    gateway = start("2", args=("--watch",))
    catalog.write("models/extra.yaml", EXTRA_MODEL)
    for pid in sorted(children(gateway.process.pid)):
        with only(gateway.process.pid, pid):
            wait_until(lambda: "openai/tts-1-reloaded" in models(gateway), f"worker {pid} did not reload")
