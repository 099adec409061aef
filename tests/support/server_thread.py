"""Run the real gateway app under uvicorn on a free loopback port, in a background thread.

Tests then talk to it over real HTTP, with raw httpx and with the official SDK.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from audio_gateway.app import create_app
from audio_gateway.catalog import Plan
from audio_gateway.catalog.reload import CatalogSource
from audio_gateway.observability.telemetry import Telemetry
from audio_gateway.providers import ADAPTERS
from audio_gateway.serving import uvicorn_config
from audio_gateway.settings import Settings

__all__ = ["GatewayServer", "REPO", "CATALOG_DIR"]

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
CATALOG_DIR = REPO / "catalog"


class GatewayServer:
    def __init__(self, env: Mapping[str, str], *, catalog_dir: Path = CATALOG_DIR, telemetry: Telemetry | None = None,
                 clock: Callable[[], datetime] | None = None):
        # A ledger of its own (SQLite in a temporary data directory) unless the test names one.
        self.env = {"AUDIO_GATEWAY_DATA_DIR": tempfile.mkdtemp(prefix="ag-data-"), **env}
        self.settings = Settings.from_env({**self.env, "AUDIO_GATEWAY_CATALOG": str(catalog_dir)})
        self.source = CatalogSource.of(catalog_dir, self.env, ADAPTERS.keys(), self.settings.provider_overrides)
        catalog = self.source.load()
        self.plan: Plan = catalog.plan
        # Tests may put a recording ledger on app.state.
        # `clock`: "now" for budgets and rate limits, moved by the test instead of sleeping.
        self.app = create_app(self.settings, catalog, source=self.source, telemetry=telemetry, clock=clock)
        config = uvicorn_config(self.app, self.settings, host="127.0.0.1", port=0,
                                log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="gateway-under-test", daemon=True)
        self.url = ""

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.serve()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the server's own event loop (a catalog reload, a scrape) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    def reload(self) -> bool:
        """A catalog reload, as SIGHUP would trigger it in `serve`."""
        return self.call(self.app.state.reloader.reload("test"))

    def start(self) -> GatewayServer:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("gateway failed to start")
            self._thread.join(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
