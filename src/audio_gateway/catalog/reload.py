"""Catalog hot reload: load → validate → compile → swap, on SIGHUP or (with `--watch`) a file change.

A reload reads the whole directory again and compiles it exactly as start-up does. A catalog with any
problem is rejected whole: the one being served stays, and the problems (file:line, JSON path and a
sentence each, as `catalog check` prints them) are logged and kept for `/readyz` until a reload
succeeds. Files whose content did not change give the same version, and nothing is swapped.

Reloads never overlap: a trigger that arrives while one runs makes one more run afterwards (a burst of
editor writes costs at most two compilations). Loading runs in a worker thread, so requests keep being
served meanwhile; what is swapped in is applied by the caller's `apply` (the gateway's `swap`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
import msgspec

from . import LoadedCatalog, load_catalog
from .model import ProviderOverrides
from .problems import CatalogInvalid

__all__ = ["CatalogSource", "CatalogReloader", "ReloadFailure", "Apply"]

log = logging.getLogger("audio_gateway.catalog")

Apply = Callable[[LoadedCatalog], Awaitable[object]]


class CatalogSource(msgspec.Struct, frozen=True, kw_only=True):
    """Where the catalog comes from, and what it is compiled with; the same at start-up and on reload."""

    directory: Path
    env: Mapping[str, str]                 # for ${VAR} in the YAML: the environment the process started with
    adapters: tuple[str, ...]
    overrides: ProviderOverrides = ProviderOverrides()

    @classmethod
    def of(cls, directory: Path, env: Mapping[str, str], adapters: Iterable[str],
           overrides: ProviderOverrides = ProviderOverrides()) -> CatalogSource:
        return cls(directory=directory, env=dict(env), adapters=tuple(adapters), overrides=overrides)

    def load(self) -> LoadedCatalog:
        return load_catalog(self.directory, self.env, self.adapters, overrides=self.overrides)


class ReloadFailure(msgspec.Struct, frozen=True, kw_only=True):
    """The last reload that was refused: when, why it ran, and every problem found."""

    at: datetime
    trigger: str
    problems: tuple[str, ...]


class CatalogReloader:
    def __init__(self, source: CatalogSource, apply: Apply, current_version: Callable[[], str]):
        self.source = source
        self._apply = apply
        self._current_version = current_version
        self.last_failure: ReloadFailure | None = None
        self.reloads = 0                    # catalogs swapped in since start
        self.reload_at_start = False        # a forked worker that may have missed a reload sets this
        self._task: asyncio.Task[None] | None = None
        self._again: str | None = None

    async def reload(self, trigger: str) -> bool:
        """Load and, if valid and different, swap in the catalog on disk. True when it is now served."""
        try:
            catalog = await anyio.to_thread.run_sync(self.source.load)
        except CatalogInvalid as exc:
            self._refused(trigger, [str(p) for p in exc.problems])
            return False
        except (OSError, UnicodeDecodeError) as exc:
            self._refused(trigger, [f"{self.source.directory}: cannot be read ({type(exc).__name__}: {exc})"])
            return False
        self.last_failure = None
        previous = self._current_version()
        if catalog.version == previous:
            log.info("catalog reload (%s): unchanged (version %s)", trigger, previous)
            return True
        await self._apply(catalog)
        self.reloads += 1
        log.info("catalog reload (%s): now serving version %s (was %s): %d models, %d providers", trigger,
                 catalog.version, previous, len(catalog.plan.routes), len(catalog.plan.providers))
        return True

    def _refused(self, trigger: str, problems: list[str]) -> None:
        self.last_failure = ReloadFailure(at=datetime.now(UTC), trigger=trigger, problems=tuple(problems))
        log.error("catalog reload (%s) refused, still serving version %s; %d problem(s):\n%s", trigger,
                  self._current_version(), len(problems), "\n".join(f"  {p}" for p in problems))

    # -- triggers -------------------------------------------------------------------------------------

    def request(self, trigger: str) -> None:
        """Ask for a reload from the event loop (a signal handler, a watcher); returns at once."""
        if self._task is not None and not self._task.done():
            self._again = trigger
            return
        self._task = asyncio.get_running_loop().create_task(self._run(trigger), name="catalog-reload")

    async def _run(self, trigger: str) -> None:
        next_trigger: str | None = trigger
        while next_trigger is not None:
            self._again = None
            try:
                await self.reload(next_trigger)
            except Exception:  # a bug must not kill the trigger loop; the old catalog keeps serving
                log.exception("catalog reload (%s) failed unexpectedly", next_trigger)
            next_trigger = self._again

    @asynccontextmanager
    async def running(self, *, sighup: bool = False, watch: bool = False) -> AsyncIterator[CatalogReloader]:
        """Reload on SIGHUP and/or on changes under the directory while the block runs."""
        loop = asyncio.get_running_loop()
        if self.reload_at_start:
            self.reload_at_start = False
            await self.reload("worker start")
        stop = asyncio.Event()
        watcher = loop.create_task(self._watch(stop), name="catalog-watch") if watch else None
        if sighup:
            loop.add_signal_handler(signal.SIGHUP, self.request, "SIGHUP")
            # Held back until now (serve and prefork block it), so a SIGHUP sent during start-up is
            # taken here rather than killing the process or being lost.
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        try:
            yield self
        finally:
            if sighup:
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
                loop.remove_signal_handler(signal.SIGHUP)
            stop.set()
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def _watch(self, stop: asyncio.Event) -> None:
        """watchfiles (inotify) over the whole directory; a burst of writes arrives as one change set.

        An edit made after the catalog was loaded but before the watch began would be missed: so once
        the watch is set up (awatch does so before it first waits), the catalog is checked once more."""
        from watchfiles import awatch

        changes = awatch(self.source.directory, stop_event=stop, recursive=True)
        pending = asyncio.ensure_future(anext(changes))
        await asyncio.sleep(0)
        self.request("watch started")
        while True:
            try:
                batch = await pending
            except StopAsyncIteration:
                return
            log.info("catalog directory changed (%d file(s)): reloading", len(batch))
            self.request("file change")
            pending = asyncio.ensure_future(anext(changes))
