"""Schema migrations of the service database (Alembic), for SQLite and PostgreSQL alike.

The Alembic configuration is built in code, so migrations run the same from any working
directory and from an installed package: `get_engine` (serving/db.py) calls `upgrade_database`
on first use of a URL, and operators can run Alembic's own commands with
`python -m serving.migrations <command>` (e.g. `current`, `history`, `upgrade head`,
`downgrade -1`, `revision --autogenerate -m "..."`) against `NARCOTREND_DATABASE_URL`.

A schema change is a new revision in `versions/` next to the change in serving/db.py;
tests/test_migrations.py fails when the two disagree.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
INITIAL_REVISION = "0001_initial"
# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises concurrent upgrades.
PG_LOCK_ID = zlib.crc32(b"narcotrend-service-migrations")


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Alembic's configuration for `url` (or an open `connection`), without an alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> set[str]:
    """The revisions the code expects (one head unless two branches were never merged)."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: Connection) -> set[str]:
    """The revisions the database is at (empty for a new or a pre-Alembic database)."""
    return set(MigrationContext.configure(connection).get_current_heads())


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock on a file beside a SQLite database (nothing for other databases)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_database(engine: Engine) -> None:
    """Bring the database behind `engine` to the head revision; a no-op when it is there.

    Concurrent first use (several processes, threads) upgrades once: on PostgreSQL a
    transaction-scoped advisory lock makes the others wait for the commit of the first (DDL is
    transactional there), then find the schema at head; on SQLite a file lock beside the
    database, held until the migration transaction has committed, does the same.

    A database made before migrations existed (tables created directly from the declared
    metadata) is stamped with the initial revision first, so its rows are kept.
    """
    heads = head_revisions()
    with engine.connect() as connection:
        if current_revisions(connection) == heads:
            return
    with _file_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_LOCK_ID})
        if not current_revisions(connection) and inspect(connection).has_table("alerts"):
            command.stamp(alembic_config(connection=connection), INITIAL_REVISION)
        command.upgrade(alembic_config(connection=connection), "head")
