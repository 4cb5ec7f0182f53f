"""Migrations: the head constant matches Alembic, and start-up migrates once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from vidgate.db.engine import HEAD_REVISION, MIGRATIONS, migrate, open_database


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
