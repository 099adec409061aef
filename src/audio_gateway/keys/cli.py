"""`audio-gateway keys create|list|update|revoke`: the key API from a terminal, on the ledger's database.

Every flag is read as text and checked by keys/spec.py, so a bad value is exit 1 with the flag named
(argparse's own errors would be exit 2) and nothing is written. `create` prints the secret alone on
stdout (for scripts), the warning that it is shown once on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from ..ledger.runtime import ledger_url
from ..ledger.store import LedgerStore
from ..settings import Settings
from .admin import KeyAdmin
from .spec import KeyCreate, KeyInputError, KeyPatch
from .store import KeyStore, UnknownKey

__all__ = ["add_keys_commands"]

_CLEAR = "none"   # `keys update NAME --rpm none` removes a limit
_LIMIT_FLAGS = ("models", "budget_usd", "budget_period", "rpm", "characters_per_minute", "audio_seconds_per_minute")


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _int(field: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise KeyInputError(field, f"must be a whole number, got {raw!r}") from None


def _value(field: str, raw: str) -> Any:
    if field == "models":
        return [m.strip() for m in raw.split(",") if m.strip()]
    if field == "budget_usd":
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise KeyInputError(field, f"must be an amount of dollars such as 25 or 0.50, got {raw!r}") from None
    if field == "budget_period":
        return raw
    return _int(field, raw)


def _given(args: argparse.Namespace, *, clearing: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in _LIMIT_FLAGS:
        raw = getattr(args, field)
        if raw is None:
            continue
        out[field] = None if clearing and raw.strip().lower() == _CLEAR else _value(field, raw)
    return out


def _resolver(settings: Settings):
    """Model names resolve against the catalog, loaded only when --models is given."""
    from ..catalog import load_plan
    from ..providers import ADAPTERS

    plan = None

    def resolve(name: str) -> str | None:
        nonlocal plan
        if plan is None:
            plan = load_plan(settings.catalog_dir, os.environ, ADAPTERS.keys(), overrides=settings.provider_overrides)
        route = plan.resolve(name)
        return route.model.id if route is not None else None

    return resolve


@asynccontextmanager
async def _admin(settings: Settings) -> AsyncIterator[KeyAdmin]:
    ledger = LedgerStore.from_url(ledger_url(settings))
    try:
        if settings.db_auto_upgrade:
            await ledger.upgrade()
        else:
            await ledger.check_schema()
        yield KeyAdmin(KeyStore(ledger.engine), ledger, resolve=_resolver(settings),
                       reserved={k.name for k in settings.api_keys}, clock=lambda: datetime.now(UTC))
    finally:
        await ledger.close()


def _table(views: list[dict[str, Any]]) -> str:
    columns = ("name", "admin", "created_at", "last_used_at", "models", "budget_usd", "budget_period", "spend_usd",
               "rpm", "characters_per_minute", "audio_seconds_per_minute")
    heads = ("NAME", "ADMIN", "CREATED", "LAST USED", "MODELS", "BUDGET", "PERIOD", "SPENT", "RPM", "CHARS/MIN",
             "AUDIO S/MIN")

    def cell(view: dict[str, Any], column: str) -> str:
        value = view[column]
        if value is None:
            return "-" if column != "models" else "all"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ",".join(value)
        return str(value)

    grid = [heads, *[tuple(cell(v, c) for c in columns) for v in views]]
    widths = [max(len(row[i]) for row in grid) for i in range(len(columns))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n" for row in grid)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    async with _admin(settings) as admin:
        if args.keys_command == "create":
            spec = KeyCreate(name=args.name, admin=args.admin, **_given(args, clearing=False))
            record, secret = await admin.create(spec)
            print(secret)
            print(f"key {record.name!r} created; the secret above is shown only once", file=sys.stderr)
        elif args.keys_command == "list":
            views = await admin.list()
            sys.stdout.write(msgspec.json.encode(views).decode() + "\n" if args.format == "json" else _table(views))
        elif args.keys_command == "update":
            changes = _given(args, clearing=True)
            if args.admin is not None:
                changes["admin"] = args.admin == "yes"
            record = await admin.update(args.name, KeyPatch(**changes))
            print(f"key {record.name!r} updated")
        else:
            await admin.revoke(args.name)
            print(f"key {args.name!r} revoked")
    return 0


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_run(args, settings))
    except KeyInputError as exc:
        flag = "NAME" if exc.field == "name" else _flag(exc.field)
        print(f"audio-gateway: keys {args.keys_command}: {flag}: {exc.message}", file=sys.stderr)
    except UnknownKey as exc:
        print(f"audio-gateway: keys {args.keys_command}: NAME: no key named {exc.args[0]!r}", file=sys.stderr)
    except msgspec.ValidationError as exc:
        print(f"audio-gateway: keys {args.keys_command}: {exc}", file=sys.stderr)
    return 1


def _limit_flags(parser: argparse.ArgumentParser, *, update: bool) -> None:
    clear = f" ({_CLEAR!r} removes it)" if update else ""
    parser.add_argument("--models", default=None, help=f"comma-separated models the key may use (default: all){clear}")
    parser.add_argument("--budget-usd", dest="budget_usd", default=None, help=f"spend cap in USD per period{clear}")
    parser.add_argument("--budget-period", dest="budget_period", default=None,
                        help="day, week, month (the default) or total; UTC calendar periods")
    parser.add_argument("--rpm", default=None, help=f"requests per minute{clear}")
    parser.add_argument("--characters-per-minute", dest="characters_per_minute", default=None,
                        help=f"speech input characters per minute{clear}")
    parser.add_argument("--audio-seconds-per-minute", dest="audio_seconds_per_minute", default=None,
                        help=f"transcribed audio seconds per minute{clear}")


def add_keys_commands(commands: Any) -> None:
    keys = commands.add_parser("keys", help="API keys in the database: create, list, update, revoke")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    create = sub.add_parser("create", help="make a key; prints its secret once")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="may manage keys and read every key's usage")
    _limit_flags(create, update=False)
    listing = sub.add_parser("list", help="every key with its limits and spend this period (never a secret)")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    update = sub.add_parser("update", help="change a key's limits (flags not given are kept)")
    update.add_argument("name")
    update.add_argument("--admin", choices=("yes", "no"), default=None)
    _limit_flags(update, update=True)
    revoke = sub.add_parser("revoke", help="delete a key; replicas refuse it within 5 s")
    revoke.add_argument("name")
    for parser in (create, listing, update, revoke):
        parser.set_defaults(run=_keys)
