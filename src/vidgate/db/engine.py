"""Database engine set-up and migrations at start.

SQLite is tuned for a gateway workload: WAL so readers never wait for the poller's writes,
``synchronous=NORMAL`` (durable across process crashes, which is what SIGKILL tests
exercise), and a busy timeout instead of immediate "database is locked" errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect
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
        db_file = database_url.split(":///", 1)[-1]
        if db_file and db_file != ":memory:":
            Path(db_file).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(database_url, pool_size=8, max_overflow=8)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(database_url, pool_size=10, max_overflow=10, pool_pre_ping=True)


HEAD_REVISION = "0001"
"""The newest migration (a test checks it against Alembic's own head)."""


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; Alembic is only loaded when there is work."""
    async with engine.begin() as conn:
        if await conn.run_sync(current_revision) != HEAD_REVISION:
            await conn.run_sync(_upgrade)


def current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
