"""`serve --workers N`: start up once, then fork N uvicorn workers that share it copy-on-write.

uvicorn's own `--workers` spawns fresh interpreters, each importing everything, compiling the
catalog and loading the 45 MB tokenizer table again. Here the parent does that once, binds the
listening socket, freezes the GC (so collections in the workers do not write to, and thereby
copy, every page the inherited objects live on) and forks; the kernel spreads new connections
over the workers accepting on the shared socket.

The parent never runs an event loop (a loop does not survive a fork); it only supervises. A
worker that dies is replaced, later and later while they keep dying young, so a crash loop
cannot spin the CPU. On SIGTERM or SIGINT it forwards SIGTERM (each worker drains within
`shutdown_grace_seconds`, as a single `serve` does), kills whatever is left a little after
that, reaps everything and exits 0. Its signals stay blocked and are taken with sigtimedwait,
so there is no handler to race with a fork. SIGHUP (reload the catalog) is passed on to every
worker; a worker keeps it blocked until its app is ready to take it, and one forked after a
SIGHUP is told so (`WorkerHooks.child_started`), since the catalog it inherited may be stale.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import msgspec
import uvicorn

from .serving import uvicorn_config
from .settings import Settings

__all__ = ["serve_workers", "WorkerHooks"]

log = logging.getLogger("audio_gateway")

_WATCHED = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
_STOP_MARGIN = 5.0                   # seconds past the grace period before stragglers are SIGKILLed
_YOUNG = 10.0                        # a worker that dies sooner than this counts towards the backoff
_BACKOFF_FIRST, _BACKOFF_CAP = 0.2, 5.0
_STARTUP_FAILURE = 3                 # uvicorn's exit status when the app's lifespan cannot start
_PR_SET_PDEATHSIG = 1


class WorkerHooks(msgspec.Struct, frozen=True, kw_only=True):
    """What the caller does around each worker's life; the supervisor knows nothing of metrics or catalogs."""

    # In the new worker, before it serves: True when a SIGHUP was passed on since the parent started up.
    child_started: Callable[[bool], None] | None = None
    # In the supervisor, for every worker reaped (however it ended).
    child_exited: Callable[[int], None] | None = None


def serve_workers(app: Any, settings: Settings, *, host: str, port: int, workers: int,
                  hooks: WorkerHooks = WorkerHooks()) -> int:
    """Bind host:port, fork `workers` servers of `app` and supervise them; returns the exit status."""
    config = uvicorn_config(app, settings, host=host, port=port)
    sock = config.bind_socket()      # SO_REUSEADDR, inheritable; logs "Uvicorn running on ..."
    sock.listen(config.backlog)      # connections queue from now on, even between two workers
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    gc.freeze()
    log.info("pre-forking %d workers; pid %d supervises", workers, os.getpid())
    return _Supervisor(config, sock, workers, settings.shutdown_grace_seconds, unblocked, hooks).run()


class _Supervisor:
    def __init__(self, config: uvicorn.Config, sock: socket.socket, size: int, grace: float,
                 unblocked: set[int | signal.Signals], hooks: WorkerHooks):
        self.config, self.sock, self.size, self.grace, self.unblocked = config, sock, size, grace, unblocked
        self.hooks = hooks
        self.hangups = 0                               # SIGHUPs passed on: workers forked later may be stale
        self.workers: dict[int, float] = {}           # pid -> when it was forked
        self.young_deaths = 0
        self.respawn_at = 0.0
        self.kill_at: float | None = None              # set once stopping
        self.status = 0

    def run(self) -> int:
        while self.workers or self.kill_at is None:
            now = time.monotonic()
            if self.kill_at is None and len(self.workers) < self.size and now >= self.respawn_at:
                while len(self.workers) < self.size:
                    self._fork()
            elif self.kill_at is not None and now >= self.kill_at:
                self._kill_stragglers()
                continue
            info = signal.sigtimedwait(_WATCHED, self._until_next_deadline())
            if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT) and self.kill_at is None:
                self._stop(f"{signal.Signals(info.si_signo).name} received")
            elif info is not None and info.si_signo == signal.SIGHUP and self.kill_at is None:
                self.hangups += 1
                log.info("SIGHUP received: passing it to %d workers (catalog reload)", len(self.workers))
                self._signal_all(signal.SIGHUP)
            self._reap()
        self.sock.close()
        log.info("all workers stopped; supervisor exits %d", self.status)
        return self.status

    def _until_next_deadline(self) -> float:
        if self.kill_at is not None:
            return max(0.0, self.kill_at - time.monotonic())
        if len(self.workers) < self.size:
            return max(0.0, self.respawn_at - time.monotonic())
        return 60.0

    def _fork(self) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            started = self.hooks.child_started
            _run_worker(self.config, self.sock, self.unblocked, parent=parent,
                        before=(lambda: started(self.hangups > 0)) if started is not None else None)
        self.workers[pid] = time.monotonic()

    def _reap(self) -> None:
        while self.workers:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            started = self.workers.pop(pid, None)
            if started is not None:
                if self.hooks.child_exited is not None:
                    self.hooks.child_exited(pid)
                self._worker_ended(pid, started, os.waitstatus_to_exitcode(wait_status))

    def _worker_ended(self, pid: int, started: float, code: int) -> None:
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        if self.kill_at is not None:
            (log.info if code == 0 else log.warning)("worker %d %s", pid, how)
            return
        if code == _STARTUP_FAILURE:          # the same app would fail again in every worker
            log.error("worker %d %s: the app could not start; stopping", pid, how)
            self.status = _STARTUP_FAILURE
            self._stop("a worker failed to start")
            return
        now = time.monotonic()
        self.young_deaths = self.young_deaths + 1 if now - started < _YOUNG else 0
        delay = min(_BACKOFF_CAP, _BACKOFF_FIRST * 2 ** (self.young_deaths - 1)) if self.young_deaths else 0.0
        self.respawn_at = max(self.respawn_at, now + delay)
        log.error("worker %d %s unexpectedly; forking a replacement in %.1f s", pid, how, delay)

    def _stop(self, why: str) -> None:
        log.info("%s: stopping %d workers (grace %g s)", why, len(self.workers), self.grace)
        self.kill_at = time.monotonic() + self.grace + _STOP_MARGIN
        self.sock.close()                     # the workers close theirs as they stop: new connections are refused
        self._signal_all(signal.SIGTERM)

    def _kill_stragglers(self) -> None:
        log.error("workers %s still running after the grace period: SIGKILL", sorted(self.workers))
        self._signal_all(signal.SIGKILL)
        for pid in list(self.workers):
            os.waitpid(pid, 0)
            del self.workers[pid]
            if self.hooks.child_exited is not None:
                self.hooks.child_exited(pid)

    def _signal_all(self, sig: signal.Signals) -> None:
        for pid in self.workers:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass                          # already dead; reaped on the next pass


def _run_worker(config: uvicorn.Config, sock: socket.socket, unblocked: set[int | signal.Signals], *,
                parent: int, before: Callable[[], None] | None = None) -> NoReturn:
    """The child's whole life: serve until SIGTERM/SIGINT, then exit without returning into the parent's code."""
    code = 1
    try:
        # uvicorn drains on these, then re-raises them to the handler it found: make that a clean exit.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sys.exit(0))
        _die_with(parent)
        if before is not None:
            before()
        # SIGHUP stays blocked: the app unblocks it once its reload handler is installed (catalog/reload.py).
        signal.pthread_sigmask(signal.SIG_SETMASK, {*unblocked, signal.SIGHUP})
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        code = 0 if server.started else _STARTUP_FAILURE  # uvicorn's own `run()` exits 3 the same way
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        log.exception("worker %d crashed", os.getpid())
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _die_with(parent: int) -> None:
    """A supervisor that is SIGKILLed must not leave orphan workers serving unsupervised: they get SIGTERM."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:        # the parent died before prctl took effect
        sys.exit(0)
