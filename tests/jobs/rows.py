"""Job rows and a migrated SQLite database for tests that drive ``jobs/`` directly."""

from __future__ import annotations

import time
from typing import Any

from vidgate.db.engine import Database, migrate, open_database


async def migrated(path: str) -> Database:
    """A real SQLite database at ``path``, at the newest schema."""
    db = open_database(f"sqlite:///{path}")
    await migrate(db)
    return db


def job_row(job_id: str, **columns: Any) -> dict[str, Any]:
    """The columns of a new job (a running create on deployment ``d``), overridden by
    ``columns``."""
    now = time.time()
    return {
        "id": job_id,
        "owner_key_id": "key",
        "model": "m",
        "deployment_id": "d",
        "provider": "openai",
        "upstream_model": "m",
        "operation": "create",
        "status": "in_progress",
        "phase": "running",
        "progress": 0,
        "prompt": job_id,
        "size": "1280x720",
        "seconds": 4,
        "request": {"operation": "create", "seconds": 4, "width": 1280, "height": 720},
        "created_at": now,
        "updated_at": now,
        "poll_failures": 0,
        **columns,
    }
