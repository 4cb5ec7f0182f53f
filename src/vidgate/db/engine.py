"""The database behind the stores: run a function on a connection, as a read or a write.

Stores write plain SQLAlchemy Core functions ``fn(connection) -> result``; a ``Database``
runs them. Two implementations:

- ``SQLiteDatabase`` (the embedded default) runs functions with the synchronous pysqlite
  driver. Measured: SQLAlchemy's async layer over aiosqlite costs ~1 ms per statement (six
  thread round trips per write transaction) against ~0.3 ms with one thread hop. Writes are
  serialised by one lock, so concurrent creates never wait in SQLite's lock-retry loop (p99
  at 8 concurrent creates fell from 449 ms to 52 ms, bench/README.md). A short write (a
  job's insert or update: ~0.1-0.3 ms) runs **on the event loop** when the lock is free:
  the thread hop it replaces cost more than the write (a futex wake, a self-pipe write and
  two GIL hand-overs per write, two writes per create; creates measured 5.3-5.7 ms gateway
  CPU with the hop, see bench/README.md for the numbers after). When the lock is taken,
  and always for ``write_bulk`` (request-log batches, retention deletes: many rows), the
  write queues for the writer thread instead, so the loop never waits on the lock or runs a
  long transaction. The loop's connection never checkpoints on commit (an fsync there would
  stall every request); the writer thread checkpoints the WAL under the write lock after
  ``CHECKPOINT_EVERY`` loop commits or a second, so the next write starts it over (a
  checkpoint beside running writes let the WAL grow by every write, 30 MiB after 6,000).
  WAL lets the reader threads proceed while a write runs; ``synchronous=NORMAL`` is durable across
  process crashes (SIGKILL), which is what the recovery tests exercise.
- ``AsyncDatabase`` for servers with a native async driver (PostgreSQL via asyncpg), where
  ``run_sync`` executes the same functions without threads. Its ``read_row`` — the retrieve
  path's one lookup by id — goes straight to an asyncpg pool: measured on this machine,
  0.19 ms per lookup against 0.70-0.81 ms through SQLAlchemy's async layer (connection
  checkout, greenlet hop, result processing), with the same row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Table, create_engine, event, inspect, make_url, select
from sqlalchemy.engine import Connection, Engine

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

    async def write_bulk(self, fn: Callable[[Connection], T]) -> T:
        """``write`` for a function that touches many rows (never on the event loop)."""
        ...

    async def read_row(self, table: Table, column: str, value: Any) -> Mapping[str, Any] | None:
        """The row of ``table`` whose ``column`` equals ``value`` (a unique key), or None."""
        ...

    async def dispose(self) -> None: ...


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA journal_size_limit=16777216")  # a WAL that grew is cut back
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: str) -> threading.Lock:
    """One write lock per database file in this process, shared by every ``SQLiteDatabase``
    on it (the replica heartbeat opens its own): so no write on the event loop ever waits in
    SQLite's busy handler for another connection of this process."""
    key = os.path.realpath(path) if path and path != ":memory:" else f"memory:{id(path)}"
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


CHECKPOINT_EVERY = 200
CHECKPOINT_S = 1.0
"""The writer thread checkpoints the WAL after this many loop commits, or after the first
loop commit this long after the last checkpoint."""


class SQLiteDatabase:
    """SQLite through pysqlite: short writes on the loop, a writer thread, reader threads."""

    def __init__(self, url: str, readers: int = 2) -> None:
        self.url = url
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(
            "sqlite:///" + path,
            pool_size=readers + 2,
            max_overflow=0,
            connect_args={"check_same_thread": False},
        )
        event.listen(self.engine, "connect", _sqlite_pragmas)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="vidgate-db-write")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="vidgate-db-read")
        self._lock = _write_lock(path)
        """Held by whichever connection writes: one writer at a time, never SQLite's busy
        loop."""
        self._loop_conn: Connection | None = None
        self._commits = 0
        self._checkpointed = time.monotonic()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, fn)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        if not self._lock.acquire(blocking=False):
            return await self.write_bulk(fn)  # the writer thread is writing: queue behind it
        try:
            conn = self._loop_connection()
            with conn.begin():
                result = fn(conn)
        finally:
            self._lock.release()
        self._commits += 1
        now = time.monotonic()
        if self._commits >= CHECKPOINT_EVERY or now - self._checkpointed >= CHECKPOINT_S:
            self._commits, self._checkpointed = 0, now
            self._writer.submit(self._checkpoint)
        return result

    async def write_bulk(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._write, fn)

    def _loop_connection(self) -> Connection:
        if self._loop_conn is None:
            conn = self.engine.connect()
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            conn.commit()
            self._loop_conn = conn
        return self._loop_conn

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
        with self._lock, self.engine.begin() as conn:
            return fn(conn)

    def _checkpoint(self) -> None:
        """Copy the WAL back into the database with no write running (under the lock: loop
        writes meanwhile queue here), so the next write starts the WAL over instead of
        growing it; a checkpoint beside a running write never lets it restart."""
        try:
            with self._lock, self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # the next one will do; never fail a writer thread's queue
            logging.getLogger("vidgate.db").exception("WAL checkpoint failed")

    async def dispose(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        if self._loop_conn is not None:
            self._loop_conn.close()
            self._loop_conn = None
        self.engine.dispose()


class AsyncDatabase:
    """A database with a native async driver; functions run through ``run_sync``."""

    def __init__(self, url: str) -> None:
        self.url = url
        # No pre-ping: measured, half of all PostgreSQL transactions were the ping before each
        # checkout (bench/pollload.py). A connection the server dropped fails its statement
        # once and the pool then discards every connection of that generation.
        # SQLAlchemy's async layer (and greenlet) only for servers: ~4 MiB a SQLite gateway
        # does not load
        from sqlalchemy.ext.asyncio import create_async_engine

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

    async def write_bulk(self, fn: Callable[[Connection], T]) -> T:
        return await self.write(fn)

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


async def migrate(db: Database, *, apart: bool = False) -> None:
    """Bring the schema to the newest revision; Alembic is only loaded when there is work.

    ``apart``: that work is done by a child process (``python -m vidgate.db``), so this
    process never loads Alembic, the migration scripts and what they import, which stay in
    memory once loaded (measured on ``vidgate serve``: idle RSS 109 MiB after a first start
    that migrated in-process, 99 MiB after a later start or one that migrated apart). The
    child (a new interpreter importing SQLAlchemy) makes that start ~0.5 s longer; it runs
    only when the schema is behind: the first start, and the first after an upgrade."""
    if apart and await db.read(current_revision) != HEAD_REVISION:
        await _migrate_in_child(db.url)
    await db.write(_migrate)  # at the head already (apart): the one check, without Alembic


MIGRATE_TIMEOUT_S = 600.0
"""How long the child may take: a PostgreSQL replica may wait for another's migration."""


class MigrationFailed(RuntimeError):
    """The child process that migrates the schema failed; its last lines of stderr."""


async def _migrate_in_child(url: str) -> None:
    # the URL goes through stdin: it may hold a password, which argv and environ show;
    # -P: the working directory is not put on the path (a vidgate/ there would shadow ours)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",
        "-m",
        "vidgate.db",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(child.communicate(url.encode()), MIGRATE_TIMEOUT_S)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        raise
    if child.returncode != 0:
        tail = "\n".join(stderr.decode(errors="replace").strip().splitlines()[-20:])
        raise MigrationFailed(f"migrating the database failed (exit {child.returncode}):\n{tail}")


async def migrate_url(url: str) -> None:
    """Open the database at ``url``, migrate it here and close it (``python -m vidgate.db``)."""
    db = open_database(url)
    try:
        await migrate(db)
    finally:
        await db.dispose()


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
