"""The database behind the stores: run a function on a connection, as a read or a write.

Stores write plain SQLAlchemy Core functions ``fn(connection) -> result``; a ``Database``
runs them. Two implementations:

- ``SQLiteDatabase`` (the embedded default) runs each function with the synchronous pysqlite
  driver in one thread hop. Measured: SQLAlchemy's async layer over aiosqlite costs ~1 ms
  per statement (six thread round trips per write transaction) against ~0.3 ms this way,
  and all writes go through one writer thread, so concurrent creates never wait in SQLite's
  lock-retry loop (p99 at 8 concurrent creates fell from 449 ms to 52 ms, bench/README.md).
  WAL lets the reader threads proceed while the writer writes; ``synchronous=NORMAL`` is
  durable across process crashes (SIGKILL), which is what the recovery tests exercise.
- ``AsyncDatabase`` for servers with a native async driver (PostgreSQL via asyncpg), where
  ``run_sync`` executes the same functions without threads. Its ``read_row`` — the retrieve
  path's one lookup by id — goes straight to an asyncpg pool: measured on this machine,
  0.19 ms per lookup against 0.70-0.81 ms through SQLAlchemy's async layer (connection
  checkout, greenlet hop, result processing), with the same row.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Table, create_engine, event, inspect, make_url, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import create_async_engine

T = TypeVar("T")
MIGRATIONS = Path(__file__).with_name("migrations")
HEAD_REVISION = "0011"
"""The newest migration (a test checks it against Alembic's own head)."""


class Database(Protocol):
    """Runs store functions on a connection."""

    url: str

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a connection outside any write transaction."""
        ...

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a transaction that commits if it returns, rolls back if it raises."""
        ...

    async def read_row(self, table: Table, column: str, value: Any) -> Mapping[str, Any] | None:
        """The row of ``table`` whose ``column`` equals ``value`` (a unique key), or None."""
        ...

    async def dispose(self) -> None: ...


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class SQLiteDatabase:
    """SQLite through pysqlite: one writer thread, a few reader threads."""

    def __init__(self, url: str, readers: int = 2) -> None:
        self.url = url
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(
            "sqlite:///" + path,
            pool_size=readers + 1,
            max_overflow=0,
            connect_args={"check_same_thread": False},
        )
        event.listen(self.engine, "connect", _sqlite_pragmas)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="vidgate-db-write")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="vidgate-db-read")

    async def read(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, fn)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._write, fn)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    async def read_row(self, table: Table, column: str, value: Any) -> Mapping[str, Any] | None:
        query = select(table).where(table.c[column] == value)

        def run(conn: Connection) -> Mapping[str, Any] | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else dict(row)

        return await self.read(run)

    def _write(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn)

    async def dispose(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.engine.dispose()


class AsyncDatabase:
    """A database with a native async driver; functions run through ``run_sync``."""

    def __init__(self, url: str) -> None:
        self.url = url
        # No pre-ping: measured, half of all PostgreSQL transactions were the ping before each
        # checkout (bench/pollload.py). A connection the server dropped fails its statement
        # once and the pool then discards every connection of that generation.
        self.engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_recycle=1800)
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._rows: Any = None
        self._rows_lock = asyncio.Lock()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        async with self.engine.connect() as conn:
            return await conn.run_sync(fn)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        async with self.engine.begin() as conn:
            return await conn.run_sync(fn)

    async def read_row(self, table: Table, column: str, value: Any) -> Mapping[str, Any] | None:
        if self._rows is None:
            import asyncpg  # the scale-out extra; only PostgreSQL deployments need it

            async with self._rows_lock:
                if self._rows is None:
                    self._rows = await asyncpg.create_pool(
                        self._dsn, min_size=1, max_size=10, init=_json_codec
                    )
        sql = f'SELECT * FROM "{table.name}" WHERE "{column}" = $1'  # names from our schema
        row: Mapping[str, Any] | None = await self._rows.fetchrow(sql, value)
        return row

    async def dispose(self) -> None:
        if self._rows is not None:
            await self._rows.close()
        await self.engine.dispose()


async def _json_codec(conn: Any) -> None:
    """JSON columns as Python values, as SQLAlchemy's ``JSON`` type gives them."""
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def open_database(url: str) -> Database:
    """The ``Database`` for a URL (``sqlite:///...`` or an async driver URL)."""
    if url.startswith("sqlite"):
        return SQLiteDatabase(url)
    return AsyncDatabase(url)


async def migrate(db: Database) -> None:
    """Bring the schema to the newest revision; Alembic is only loaded when there is work."""
    await db.write(_migrate)


MIGRATION_LOCK = 7_363_001
"""PostgreSQL advisory lock id: replicas starting together migrate one at a time."""


def _migrate(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":  # released when this transaction ends
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    if current_revision(connection) != HEAD_REVISION:
        _upgrade(connection)


def current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    value = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if value is None else str(value)


def _upgrade(connection: Connection) -> None:
    # alembic's INFO lines (its plugins at import, one per migration) are noise at every
    # first start; its warnings and errors still show
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
