"""A gateway on loopback with a seeded ledger, an admin key, and (once per session) Debian's chromium.

The browser is the system's `/usr/bin/chromium` (installed by scripts/ensure-system-deps.sh), driven by
Playwright; browsers are never downloaded. Screenshots go to the session's artefacts directory, printed
at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from audio_gateway.ledger import LedgerRow
from audio_gateway.ledger.store import LedgerStore

from ..conftest import CLIENT_KEYS, provider_env
from ..support.server_thread import CATALOG_DIR, GatewayServer
from .seed import seed_rows

ADMIN = ("ops", "sk-gw-ops-console-5d1f0a")
CHROMIUM = Path(os.environ.get("AUDIO_GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium"))


async def _insert(url: str, rows: list[LedgerRow]) -> None:
    store = LedgerStore.from_url(url)
    try:
        await store.upgrade()
        await store.write(rows)
    finally:
        await store.close()


class ConsoleGateway:
    def __init__(self, server: GatewayServer, rows: list[LedgerRow], real_request_id: str, catalog: Path):
        self.server, self.url, self.rows, self.real_request_id = server, server.url, rows, real_request_id
        self.catalog = catalog          # the gateway's own copy: a test may break it and reload

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN[1]}"}, timeout=10)

    def sign_in(self, key: str = ADMIN[1]) -> httpx.Response:
        return httpx.post(f"{self.url}/console/session", json={"key": key}, timeout=10)

    def session(self, key: str = ADMIN[1]) -> tuple[httpx.Client, str]:
        """A client holding a signed-in console session (cookie sent by hand: httpx keeps Secure cookies for
        https only, browsers also for loopback http) and its CSRF token."""
        answer = self.sign_in(key)
        answer.raise_for_status()
        cookie = answer.headers["set-cookie"].split(";", 1)[0]
        return httpx.Client(base_url=self.url, headers={"cookie": cookie}, timeout=10), answer.json()["csrf_token"]


@pytest.fixture(scope="session")
def console_gateway(fake_openai, fake_siliconflow, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'ledger.db'}"
    env = provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_DATABASE_URL=url,
                       AUDIO_GATEWAY_ADMIN_KEYS=f"{ADMIN[0]}:{ADMIN[1]}", AUDIO_GATEWAY_LEDGER_FLUSH_INTERVAL="0.05",
                       AUDIO_GATEWAY_KEYS_POLL_INTERVAL="0.1")
    catalog = tmp_path_factory.mktemp("console-catalog") / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    server = GatewayServer(env, catalog_dir=catalog).start()
    rows = seed_rows(datetime.now(UTC))
    server.call(_insert(url, rows))   # on the server's loop: Playwright's sync API may hold this thread's
    # One real request too, so a row made by the gateway itself (its own attempts) is on the pages.
    spoken = httpx.post(f"{server.url}/v1/audio/speech", headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"},
                        json={"model": "tts-1", "voice": "alloy", "input": "Console, this is a real request."}, timeout=10)
    spoken.raise_for_status()
    request_id = spoken.headers["x-request-id"]
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN[1]}"}, timeout=10) as admin:
        while admin.get(f"/v1/usage/requests/{request_id}").status_code != 200:
            assert time.monotonic() < deadline, "the real request's ledger row never appeared"
            time.sleep(0.05)
    yield ConsoleGateway(server, rows, request_id, catalog)
    server.stop()


ARTEFACTS = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory, request):
    directory = Path(os.environ.get("AUDIO_GATEWAY_TEST_ARTEFACTS") or tmp_path_factory.mktemp("console-artefacts"))
    directory.mkdir(parents=True, exist_ok=True)
    request.config.stash[ARTEFACTS] = directory
    return directory


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Where the screenshots are, at the end of the run (also under -q)."""
    directory = config.stash.get(ARTEFACTS, None)
    shots = sorted(directory.glob("*.png")) if directory is not None else []
    if shots:
        terminalreporter.write_line(f"console screenshots ({len(shots)}): {directory}")


# Package scope, not session: Playwright's sync API holds an event loop on this thread while the browser is open,
# and tests elsewhere call asyncio.run(). The console's tests run together, so the browser still starts once.
@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip(f"chromium is not installed ({CHROMIUM}); `sh scripts/ensure-system-deps.sh` installs it")
    from playwright.sync_api import sync_playwright

    executable = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))
    with sync_playwright() as playwright:
        # --no-sandbox only as root (CI containers, these machines), where chromium's sandbox refuses to start.
        args = ["--disable-gpu", *(["--no-sandbox"] if os.geteuid() == 0 else [])]
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        yield chromium
        chromium.close()


def eventually(check, timeout: float = 5.0):
    """Polls `check` until it returns something true (key changes reach the cache within ~1 s, bound 5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)
