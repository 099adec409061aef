"""Alembic, driven from code: `upgrade(connection)` brings a ledger database to the newest revision.

The migrations ship inside the package (ledger/migrations), and the config is built here, so neither
`audio-gateway db upgrade` nor the start-up upgrade needs an alembic.ini. Both run inside a connection
the store opened (Alembic's "connection sharing" recipe), which is how one async engine serves both.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from .schema import VERSION_TABLE

__all__ = ["upgrade", "current_revision", "head_revision", "SchemaBehind"]

_SCRIPTS = Path(__file__).with_name("migrations")


class SchemaBehind(RuntimeError):
    """The database is older than this gateway and upgrades at start-up are off."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the ledger ships at least one migration"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(connection: Connection) -> str:
    """Apply every migration not yet applied; returns the revision the database is now at."""
    command.upgrade(_config(connection), "head")
    return head_revision()
