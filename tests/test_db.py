"""Migrations: the head constant matches Alembic, and start-up migrates once."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from vidgate.db.engine import HEAD_REVISION, MIGRATIONS, SQLiteDatabase, migrate, open_database


def test_head_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


async def test_migrate_creates_schema_and_is_idempotent(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'x' / 'v.db'}")
    await migrate(db)
    await migrate(db)
    await db.dispose()
    with sqlite3.connect(tmp_path / "x" / "v.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"jobs", "api_keys", "alembic_version"} <= tables
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]


async def test_the_wal_stays_bounded_under_writes_from_the_loop(tmp_path: Path) -> None:
    """Loop writes never checkpoint; the writer thread's checkpoints (under the write lock)
    must let the WAL start over, or it grows by every write (it reached 30 MiB after 6,000
    such inserts when the checkpoint ran beside them)."""
    db = SQLiteDatabase(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        await db.write_bulk(lambda c: c.exec_driver_sql("CREATE TABLE t (v TEXT)"))
        sizes = []
        for n in range(6000):
            await db.write(lambda c: c.exec_driver_sql("INSERT INTO t VALUES (?)", ("x" * 500,)))
            if n % 200 == 199:
                await asyncio.sleep(0)  # the loop turns, as a server's does between requests
            if n % 1000 == 999:
                sizes.append((tmp_path / "wal.db-wal").stat().st_size)
    finally:
        await db.dispose()
    assert max(sizes) < 12 * 1024 * 1024, sizes  # 6,000 x 500 bytes would be ~25 MiB of WAL
