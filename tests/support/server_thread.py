"""Run the real gateway app under uvicorn on a free loopback port, in a background thread.

Tests then talk to it over real HTTP, with raw httpx and with the official SDK.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path

import uvicorn

from audio_gateway.app import create_app
from audio_gateway.catalog import Plan, load_plan
from audio_gateway.providers import ADAPTERS
from audio_gateway.serving import uvicorn_config
from audio_gateway.settings import Settings

__all__ = ["GatewayServer", "REPO", "CATALOG_DIR"]

REPO = Path(__file__).resolve().parents[2]
CATALOG_DIR = REPO / "catalog"


class GatewayServer:
    def __init__(self, env: Mapping[str, str], *, catalog_dir: Path = CATALOG_DIR):
        self.env = dict(env)
        self.settings = Settings.from_env({**self.env, "AUDIO_GATEWAY_CATALOG": str(catalog_dir)})
        self.plan: Plan = load_plan(catalog_dir, self.env, ADAPTERS.keys(), overrides=self.settings.provider_overrides)
        self.app = create_app(self.settings, self.plan)
        config = uvicorn_config(self.app, self.settings, host="127.0.0.1", port=0,
                                log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="gateway-under-test", daemon=True)
        self.url = ""

    def _run(self) -> None:
        asyncio.run(self._server.serve())

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
