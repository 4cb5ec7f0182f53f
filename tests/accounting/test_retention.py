"""Log retention: rows older than their window go, newer rows stay; batches are bounded; the
gateway sweeps at start-up."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from tests.accounting.test_spend_gateway import insert_spend
from tests.conftest import LOCAL_FAST
from tests.support import running_gateway, wait_for
from vidgate.accounting.retention import Retention
from vidgate.db.engine import SQLiteDatabase, migrate
from vidgate.db.tables import request_logs

DAY = 86400.0


def spend_row(settled_at: float, job: str) -> dict[str, Any]:
    return {
        "job_id": job,
        "key_id": "key_1",
        "model": "m",
        "provider": "p",
        "cost_usd": 0.1,
        "settled_at": settled_at,
    }


def request_row(at: float, request_id: str) -> dict[str, Any]:
    return {
        "at": at,
        "request_id": request_id,
        "method": "GET",
        "route": "/v1/videos",
        "status_code": 200,
        "latency_ms": 1.0,
    }


def seed(database: Path, now: float) -> None:
    """Spend rows 10 days old (x5) and 2 days old; request rows 40 days (x3) and 1 day old."""
    insert_spend(
        database,
        [spend_row(now - 10 * DAY - i, f"video_old_{i}") for i in range(5)]
        + [spend_row(now - 2 * DAY, "video_new")],
    )
    rows = [request_row(now - 40 * DAY - i, f"req_old_{i}") for i in range(3)]
    rows.append(request_row(now - DAY, "req_new"))
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO request_logs (at, request_id, method, route, status_code, latency_ms) "
            "VALUES (:at, :request_id, :method, :route, :status_code, :latency_ms)",
            rows,
        )


def remaining(database: Path) -> tuple[list[str], list[str]]:
    with sqlite3.connect(database) as db:
        spend = [r[0] for r in db.execute("SELECT job_id FROM spend_logs ORDER BY seq")]
        requests = [r[0] for r in db.execute("SELECT request_id FROM request_logs ORDER BY seq")]
    return spend, requests


async def test_sweep_deletes_only_rows_older_than_the_window_in_batches(tmp_path: Path) -> None:
    database = tmp_path / "vidgate.db"
    db = SQLiteDatabase(f"sqlite:///{database}")
    try:
        await migrate(db)
        now = time.time()
        seed(database, now)
        retention = Retention(db, spend_days=7, request_days=30, batch=2)
        assert await retention.sweep(now) == {"spend_logs": 5, "request_logs": 3}
        assert remaining(database) == (["video_new"], ["req_new"])
        assert await retention.sweep(now) == {"spend_logs": 0, "request_logs": 0}
        # the window is measured from now: a day later the 2-day-old rows are still kept
        assert await retention.sweep(now + DAY) == {"spend_logs": 0, "request_logs": 0}
        assert await retention.sweep(now + 6 * DAY) == {"spend_logs": 1, "request_logs": 0}
    finally:
        await db.dispose()


async def test_batches_leave_the_writer_free_between_them(tmp_path: Path) -> None:
    db = SQLiteDatabase(f"sqlite:///{tmp_path / 'vidgate.db'}")
    try:
        await migrate(db)
        now = time.time()
        rows = [request_row(now - 40 * DAY, f"req_{i}") for i in range(25)]
        await db.write(lambda conn: conn.execute(insert(request_logs), rows))
        writes: list[int] = []
        original = db.write_bulk  # many rows: never on the event loop

        async def counted(fn: Any) -> Any:
            writes.append(1)
            return await original(fn)

        db.write_bulk = counted  # type: ignore[method-assign]
        retention = Retention(db, spend_days=7, request_days=30, batch=10)
        assert (await retention.sweep(now))["request_logs"] == 25
        assert len(writes) == 1 + 3  # spend (nothing), then 10 + 10 + 5
    finally:
        await db.dispose()


def test_the_gateway_sweeps_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "gw"
    data_dir.mkdir()
    database = data_dir / "vidgate.db"

    async def prepare() -> None:
        db = SQLiteDatabase(f"sqlite:///{database}")
        await migrate(db)
        await db.dispose()

    asyncio.run(prepare())
    seed(database, time.time())
    settings = {
        **LOCAL_FAST["settings"],
        "spend_log_retention_days": 7,
        "request_log_retention_days": 30,
    }
    with running_gateway(data_dir, {**LOCAL_FAST, "settings": settings}):
        wait_for(lambda: remaining(database) == (["video_new"], ["req_new"]))
