"""Which stalled submits recovery may take: a lapsed lease is not enough, its owner must be
silent (or be the recovering process itself, no longer submitting the job)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from tests.support import wait_for
from vidgate.db.engine import migrate, open_database
from vidgate.db.tables import replicas
from vidgate.jobs.heartbeat import Heartbeat
from vidgate.jobs.store import JobStore


def row(job_id: str, owner: str | None, lease_until: float | None, phase: str) -> dict[str, Any]:
    now = time.time()
    return {
        "id": job_id,
        "owner_key_id": "key",
        "model": "m",
        "deployment_id": "d",
        "provider": "openai",
        "upstream_model": "m",
        "operation": "create",
        "status": "queued",
        "phase": phase,
        "progress": 0,
        "prompt": job_id,
        "size": "1280x720",
        "seconds": 4,
        "request": {},
        "created_at": now,
        "updated_at": now,
        "poll_failures": 0,
        "lease_owner": owner,
        "lease_until": lease_until,
    }


async def test_only_submits_of_silent_owners_or_abandoned_own_ones_are_taken(
    tmp_path: Path,
) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'v.db'}")
    await migrate(db)
    store = JobStore(db)
    now = time.time()
    lapsed, held = now - 1, now + 60

    def seen(conn: Connection) -> None:
        conn.execute(
            insert(replicas),
            [
                {"id": "alive", "started_at": now - 600, "last_seen": now - 1},
                {"id": "silent", "started_at": now - 600, "last_seen": now - 100},
            ],
        )

    await db.write(seen)
    for values in (
        row("of-alive", "alive", lapsed, "submitting"),  # slow, not dead: keeps it
        row("of-silent", "silent", lapsed, "submitting"),
        row("of-silent-held", "silent", held, "submitting"),  # its lease still runs
        row("of-unknown", "gone", lapsed, "submitting"),  # no heartbeat row at all
        row("no-owner", None, None, "submitting"),  # leases cleared at start-up
        row("mine-busy", "me", lapsed, "submitting"),  # this process is still on it
        row("mine-idle", "me", lapsed, "submitting"),  # this process gave it up
        row("running", "silent", lapsed, "running"),  # not a submit
    ):
        await store.insert(values)
    claimed = await store.claim_stalled_submits(
        "me", now, 30.0, busy=["mine-busy"], silent_since=now - 10
    )
    assert {job.id: before for job, before in claimed} == {
        "of-silent": "silent",
        "of-unknown": "gone",
        "no-owner": None,
        "mine-idle": "me",
    }
    assert all(job.lease_owner == "me" and job.lease_until == now + 30 for job, _ in claimed)
    again = await store.claim_stalled_submits(
        "me", now, 30.0, busy=["mine-busy"], silent_since=now - 10
    )
    assert again == []  # the taken ones are leased to this process now
    await db.dispose()


async def test_the_heartbeat_renews_submit_leases_and_leaves_with_its_process(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v.db"
    db = open_database(f"sqlite:///{path}")
    await migrate(db)
    now = time.time()
    await JobStore(db).insert(row("submitting", "me", now + 0.3, "submitting"))
    await db.dispose()

    def lease_until() -> float:
        with sqlite3.connect(path) as conn:
            query = "SELECT lease_until FROM jobs WHERE id = 'submitting'"
            return float(conn.execute(query).fetchone()[0])

    def heartbeats() -> list[tuple[str, float]]:
        with sqlite3.connect(path) as conn:
            return list(conn.execute("SELECT id, last_seen FROM replicas"))

    heartbeat = Heartbeat(f"sqlite:///{path}", "me", 0.3, lambda: ["submitting"])
    heartbeat.start()
    try:  # the lease keeps moving while the submit runs, many leases past the first
        wait_for(lambda: lease_until() > now + 10 * 0.3)
        ((owner, last_seen),) = heartbeats()
        assert owner == "me" and last_seen > now + 9 * 0.3
    finally:
        heartbeat.stop()
    assert heartbeats() == []  # a clean stop: nobody waits for this replica to fall silent
