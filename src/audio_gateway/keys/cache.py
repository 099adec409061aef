"""Every replica's view of the keys table: a dict by secret digest, refreshed when the version moves.

A request finds its key in one dict look-up, with no database round trip. A background task polls
the one-integer version counter every `poll_seconds` (1 s by default) and reloads the table when it
changed, so a key created, updated or revoked anywhere is seen everywhere within about a second (the
issue's bound is 5 s). A database that is down keeps the last good view and is retried. Last use is
noted in memory and written in one batch every `touch_seconds`, not once per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from ..ledger.store import STORE_ERRORS
from ..server_secret import ServerSecret
from ..settings import ClientKey, owner_id
from .model import KeyRecord
from .store import KeyStore

__all__ = ["KeyCache"]

log = logging.getLogger("audio_gateway.keys")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class KeyCache:
    def __init__(self, store: KeyStore, server_secret: ServerSecret | None, *, poll_seconds: float = 1.0,
                 touch_seconds: float = 10.0, clock: Callable[[], datetime] = _utc_now):
        self._store = store
        self._secret = server_secret
        self._poll = poll_seconds
        self._touch = touch_seconds
        self._clock = clock
        self._by_digest: dict[bytes, ClientKey] = {}
        self._version: int | None = None
        self._used: dict[str, datetime] = {}

    def __bool__(self) -> bool:
        return bool(self._by_digest)

    def __len__(self) -> int:
        return len(self._by_digest)

    def lookup(self, digest: bytes) -> ClientKey | None:
        key = self._by_digest.get(digest)
        if key is not None:
            self._used[key.name] = self._clock()
        return key

    def keys(self) -> tuple[ClientKey, ...]:
        return tuple(self._by_digest.values())

    def named(self, name: str) -> ClientKey | None:
        """The database key called `name` (names are unique in the table); the console re-checks sessions so."""
        return next((key for key in self._by_digest.values() if key.name == name), None)

    def _client_key(self, record: KeyRecord) -> ClientKey:
        # A database key has no secret to keep: its digest stands in (ClientKey.legacy_owner hashes it, so
        # that id is this key's alone; no job predates it).
        owner = owner_id(self._secret, record.name) if self._secret is not None else record.digest[:32]
        return ClientKey(name=record.name, secret=record.digest, owner=owner, admin=record.admin,
                         limits=record.limits)

    async def refresh(self) -> bool:
        """Reload when the version moved; True when the view changed."""
        version = await self._store.version()
        if version == self._version:
            return False
        version, records = await self._store.snapshot()
        self._by_digest = {bytes.fromhex(r.digest): self._client_key(r) for r in records}
        changed = self._version is not None
        self._version = version
        if changed:
            log.info("keys reloaded: %d database keys (version %d)", len(records), version)
        return True

    async def flush_usage(self) -> None:
        used, self._used = self._used, {}
        try:
            await self._store.touch(used)
        except STORE_ERRORS as exc:
            log.warning("could not record keys' last use (%s); will retry", type(exc).__name__)
            for name, at in used.items():
                self._used.setdefault(name, at)

    async def _poll_forever(self) -> None:
        since_touch = 0.0
        while True:
            await asyncio.sleep(self._poll)
            try:
                await self.refresh()
            except STORE_ERRORS as exc:
                log.warning("could not refresh keys (%s); serving the last known keys", type(exc).__name__)
            since_touch += self._poll
            if since_touch >= self._touch and self._used:
                since_touch = 0.0
                await self.flush_usage()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[KeyCache]:
        try:
            await self.refresh()
        except STORE_ERRORS as exc:
            log.warning("keys database unreachable at start-up (%s); only environment keys work until it is back",
                        type(exc).__name__)
        task = asyncio.create_task(self._poll_forever(), name="key-cache")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if self._used:
                await self.flush_usage()
            await self._store.close()
