"""Migrations: the head constant matches Alembic, and start-up migrates once."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.support import child_serving
from vidgate.db.engine import (
    HEAD_REVISION,
    MIGRATIONS,
    MigrationFailed,
    SQLiteDatabase,
    current_revision,
    migrate,
    open_database,
)


def test_head_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


async def test_migrate_creates_schema_and_is_idempotent(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'x' / 'v.db'}")
    await migrate(db)
    await migrate(db)
    await db.dispose()
    with sqlite3.connect(tmp_path / "x" / "v.db") as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"jobs", "api_keys", "alembic_version"} <= tables
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [
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


async def test_migrating_apart_brings_a_new_database_to_the_head(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        await migrate(db, apart=True)
        assert await db.read(current_revision) == HEAD_REVISION
        await migrate(db, apart=True)  # at the head: no child, nothing to do
    finally:
        await db.dispose()


async def test_a_failed_migration_apart_fails_with_the_childs_reason(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    with sqlite3.connect(path) as raw:  # a schema newer than this release knows
        raw.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        raw.execute("INSERT INTO alembic_version VALUES ('9999')")
    db = open_database(f"sqlite:///{path}")
    try:
        with pytest.raises(MigrationFailed, match="9999"):
            await migrate(db, apart=True)
    finally:
        await db.dispose()


SERVE_WITHOUT_ALEMBIC = (
    "import sys\n"
    "sys.modules['alembic'] = None  # importing it in this process now raises ImportError\n"
    + child_serving("create_app(settings, migrate_apart=True)")
    + "key = httpx.post(url + '/key/generate', headers=auth, json={})\n"
    "assert key.status_code == 200, key.text\n"
    "own = {'Authorization': 'Bearer ' + key.json()['key']}\n"
    "listed = httpx.get(url + '/v1/videos', headers=own)\n"
    "assert listed.status_code == 200 and listed.json()['data'] == [], listed.text\n"
    "server.should_exit = True\n"
    "print('ok')\n"
)


def test_a_gateway_that_migrates_apart_serves_without_loading_alembic() -> None:
    """``vidgate serve``'s first start migrates in a child process: Alembic and the
    migration scripts (~10 MiB resident once loaded) never enter the serving process."""
    result = subprocess.run(
        [sys.executable, "-c", SERVE_WITHOUT_ALEMBIC], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
