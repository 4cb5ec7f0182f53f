"""A migrated SQLite database per test, for the tests that drive ``jobs/`` directly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.jobs.rows import migrated
from vidgate.db.engine import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await migrated(str(tmp_path / "vidgate.db"))
    yield database
    await database.dispose()
