"""`audio-gateway`: serve, catalog check/show, worker (jobs), db upgrade, usage (the ledger) and keys."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from .catalog import CatalogInvalid, LoadedCatalog, Plan, load_plan
from .catalog.reload import CatalogSource
from .providers import ADAPTERS
from .settings import Settings, SettingsError

__all__ = ["main"]

log = logging.getLogger("audio_gateway")


def _load(settings: Settings, directory: Path | None) -> Plan:
    return load_plan(directory or settings.catalog_dir, os.environ, ADAPTERS.keys(),
                     overrides=settings.provider_overrides)


def _source(settings: Settings, directory: Path | None) -> CatalogSource:
    """The catalog as `serve` and `worker` load it at start and again on every reload."""
    return CatalogSource.of(directory or settings.catalog_dir, os.environ, ADAPTERS.keys(), settings.provider_overrides)


def _hold_sighup() -> None:
    """SIGHUP means "reload the catalog"; until the app has installed that handler it waits, blocked
    (its default action would kill the process)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _database_keys(settings: Settings) -> int:
    """How many keys the database holds (0 when it has none yet, or cannot be read: then open mode stays
    loopback-only, the safe side)."""
    import asyncio

    from .keys.store import KeyStore
    from .ledger.runtime import ledger_url
    from .ledger.store import LedgerStore

    url = ledger_url(settings)
    if url.startswith("sqlite") and not Path(url.split(":///", 1)[-1]).exists():
        return 0   # no ledger file yet, so no keys (and nothing created by asking)

    async def count() -> int:
        ledger = LedgerStore.from_url(url)
        try:
            return len(await KeyStore(ledger.engine).all())
        finally:
            await ledger.close()

    try:
        return asyncio.run(count())
    except Exception:  # no keys table yet (first start), or the database is down: treat as no keys
        return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.auth_enabled and not _database_keys(settings):
        if not _is_loopback(args.host):
            print(f"audio-gateway: refusing to listen on {args.host} without client keys. "
                  "Set AUDIO_GATEWAY_API_KEYS (comma-separated), create one with `audio-gateway keys create`, "
                  "or bind to 127.0.0.1.", file=sys.stderr)
            return 2
        log.warning("AUDIO_GATEWAY_API_KEYS is not set: the gateway is open to anyone on this machine (loopback only)")
    if settings.secret_key is not None:
        settings.secret_key.warn_if_local(log)
    source = _source(settings, args.catalog)
    catalog = source.load()
    from .providers import unavailable_reason

    unconfigured = [f"{name} ({reason})" for name, p in catalog.plan.providers.items()
                    if (reason := unavailable_reason(p))]
    if unconfigured:
        log.warning("providers skipped by routing: %s", ", ".join(unconfigured))
    log.info("catalog version %s: %d models", catalog.version, len(catalog.plan.routes))
    _hold_sighup()
    workers = args.workers or settings.workers
    if workers > 1 and not settings.limits_url:
        log.warning("AUDIO_GATEWAY_REDIS_URL is not set: with %d worker processes, keys' budgets and rate limits "
                    "are enforced by each process on its own (set it to share them)", workers)
    if workers > 1:
        return _serve_prefork(args, settings, source, catalog, workers)
    import uvicorn

    from .app import create_app
    from .serving import uvicorn_config

    app = create_app(settings, catalog, source=source, reload_on_sighup=True, watch=args.watch)
    # uvicorn drains on SIGTERM, then re-raises it to the handler it found: make that a clean exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = uvicorn.Server(uvicorn_config(app, settings, host=args.host, port=args.port))
    server.run()
    return 0 if server.started else 3  # 3: the app could not start (uvicorn's own status for it)


def _serve_prefork(args: argparse.Namespace, settings: Settings, source: CatalogSource, catalog: LoadedCatalog,
                   workers: int) -> int:
    """N forked workers; metrics in prometheus-client's multiprocess mode over a directory made for this start
    (before anything makes a metric), the metrics port bound here and shared like the main socket."""
    from .observability import multiprocess

    directory = multiprocess.prepare_directory() if settings.metrics_enabled else None
    try:
        from .app import create_app
        from .observability.listener import bind_metrics_socket
        from .observability.telemetry import Telemetry
        from .prefork import WorkerHooks, serve_workers

        telemetry = Telemetry(settings, multiprocess=directory is not None)
        metrics_socket = (bind_metrics_socket(settings.metrics_port)
                          if settings.metrics_port is not None and settings.metrics_enabled else None)
        app = create_app(settings, catalog, source=source, telemetry=telemetry, reload_on_sighup=True,
                         watch=args.watch, metrics_socket=metrics_socket)
        reloader = app.state.reloader

        def child_started(stale: bool) -> None:
            # Forked from the start-up state: reload if the others may have moved on since (with --watch the
            # watcher checks the files once it is set up anyway).
            reloader.reload_at_start = stale

        def child_exited(pid: int) -> None:
            if directory is not None:
                multiprocess.worker_exited(pid, directory)

        hooks = WorkerHooks(child_started=child_started, child_exited=child_exited)
        return serve_workers(app, settings, host=args.host, port=args.port, workers=workers, hooks=hooks)
    finally:
        if directory is not None:
            multiprocess.remove_directory(directory)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    import msgspec

    if not settings.jobs_enabled:
        print("audio-gateway: the worker needs AUDIO_GATEWAY_QUEUE_URL (e.g. redis://127.0.0.1:6379/0) and "
              "AUDIO_GATEWAY_S3_BUCKET (plus AWS_ENDPOINT_URL / AWS_* credentials for S3).", file=sys.stderr)
        return 2
    from .jobs.process import WorkerOptions
    from .jobs.shutdown import run_worker
    from .jobs.worker import ExpectedFailureLog, build_worker

    if args.concurrency:
        settings = msgspec.structs.replace(settings, worker_concurrency=args.concurrency)
    source = _source(settings, args.catalog)
    _hold_sighup()
    options = WorkerOptions(source=source, reload_on_sighup=True, metrics_port=args.metrics_port,
                            metrics_host=args.metrics_host)
    worker = build_worker(settings, source.load(), options=options)
    logging.getLogger("saq").addFilter(ExpectedFailureLog())
    log.info("worker started: concurrency %d, queue %s", settings.worker_concurrency, (settings.queue_url or "").split("@")[-1])
    asyncio.run(run_worker(worker))  # SIGTERM/SIGINT drain it: running jobs finish or are re-queued
    return 0


def _check(args: argparse.Namespace, settings: Settings) -> int:
    plan = _load(settings, args.dir)
    kinds = {"tts": 0, "stt": 0}
    for model in plan.models:
        kinds[model.kind] += 1
    print(f"catalog OK: {len(plan.routes)} models ({kinds['tts']} tts, {kinds['stt']} stt), "
          f"{len(plan.providers)} providers, {len(plan.voice_sets)} voice sets, {len(plan.aliases)} aliases")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from .catalog.table import render_table

    print(render_table(_load(settings, args.dir)), end="")
    return 0


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from .ledger.runtime import ledger_url
    from .ledger.usage_cli import upgrade_database

    url, revision = asyncio.run(upgrade_database(ledger_url(settings)))
    print(f"ledger database {url}: at revision {revision} (the latest)")
    return 0


def _usage(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from .ledger.runtime import ledger_url
    from .ledger.usage_cli import NoLedger, usage_text

    try:
        sys.stdout.write(asyncio.run(usage_text(ledger_url(settings), args.since, args.until, args.group_by,
                                                args.format)))
    except (NoLedger, ValueError) as exc:
        print(f"audio-gateway: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, NoLedger) else 2
    return 0


def _when(raw: str) -> datetime:
    from .ledger.usage_cli import parse_when

    try:
        return parse_when(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date (2024-11-01) or date-time (2024-11-01T12:00Z), got {raw!r}") from None


def _at_least_one(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audio-gateway", description="OpenAI-compatible audio gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--catalog", type=Path, default=None, help="catalog directory (default: $AUDIO_GATEWAY_CATALOG or ./catalog)")
    serve.add_argument("--workers", type=_at_least_one, default=None,
                       help="processes serving requests, forked after one start-up (default: $AUDIO_GATEWAY_WORKERS or 1)")
    serve.add_argument("--watch", action="store_true",
                       help="reload the catalog whenever a file under its directory changes (SIGHUP always does)")
    serve.set_defaults(run=_serve)
    worker = commands.add_parser("worker", help="run async job workers (SAQ on Redis)")
    worker.add_argument("--concurrency", type=int, default=None, help="jobs at once (default $AUDIO_GATEWAY_WORKER_CONCURRENCY or 4)")
    worker.add_argument("--catalog", type=Path, default=None)
    worker.add_argument("--metrics-port", type=_port, default=None,
                        help="serve Prometheus /metrics, without a key, on this port (0: any free one)")
    worker.add_argument("--metrics-host", default="127.0.0.1", help="address of the metrics port (default 127.0.0.1)")
    worker.set_defaults(run=_worker)
    catalog = commands.add_parser("catalog", help="validate or display the model catalog")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    for name, run, help_ in (("check", _check, "validate; print a summary or every error"),
                             ("show", _show, "print a table of models, prices and fallbacks")):
        sub = catalog_commands.add_parser(name, help=help_)
        sub.add_argument("dir", nargs="?", type=Path, default=None)
        sub.set_defaults(run=run)
    db = commands.add_parser("db", help="the ledger database ($AUDIO_GATEWAY_DATABASE_URL or the data directory)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply the ledger's schema migrations").set_defaults(run=_db_upgrade)
    usage = commands.add_parser("usage", help="usage and cost totals from the ledger (the same as the usage API)")
    usage.add_argument("--since", type=_when, default=None, help="from this UTC date/time (default: the beginning)")
    usage.add_argument("--until", type=_when, default=None, help="up to this UTC date/time, exclusive (default: now)")
    usage.add_argument("--group-by", choices=("model", "key", "provider", "day"), default="model")
    usage.add_argument("--format", choices=("table", "csv", "json"), default="table")
    usage.set_defaults(run=_usage)
    from .keys.cli import add_keys_commands

    add_keys_commands(commands)
    return parser


def _skip_unused_record_fields() -> None:
    """The log format never shows caller, thread or process, so records need not gather them: one access
    line per request made findCaller's stack walk a cost under load (Logging HOWTO, "Optimization")."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"audio-gateway: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    _skip_unused_record_fields()
    try:
        return args.run(args, settings)
    except CatalogInvalid as exc:
        print(f"audio-gateway: the catalog is invalid ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
