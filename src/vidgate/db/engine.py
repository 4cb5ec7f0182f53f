"""Database engine set-up and migrations at start.

SQLite is tuned for a gateway workload: WAL so readers never wait for the poller's writes,
``synchronous=NORMAL`` (durable across process crashes, which is what SIGKILL tests
exercise), and a busy timeout instead of immediate "database is locked" errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(database_url: str) -> AsyncEngine:
    """An async engine for ``database_url`` with per-backend tuning."""
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, pool_size=8, max_overflow=8)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(database_url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def sync_url(database_url: str) -> str:
    """The synchronous driver URL for migrations."""
    return database_url.replace("sqlite+aiosqlite", "sqlite").replace(
        "postgresql+asyncpg", "postgresql+psycopg"
    )


def migrate(database_url: str) -> None:
    """Apply every Alembic migration up to head (idempotent)."""
    from alembic.config import Config

    if database_url.startswith("sqlite"):
        db_file = database_url.split(":///", 1)[-1]
        if db_file and db_file != ":memory:":
            Path(db_file).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(sync_url(database_url))
    if database_url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.begin() as connection:
            _upgrade(Config(), connection)
    finally:
        engine.dispose()


def _upgrade(config: Any, connection: Connection) -> None:
    from alembic import command

    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
