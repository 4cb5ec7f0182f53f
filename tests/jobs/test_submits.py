"""``jobs/submits.py`` on a real SQLite database: which interrupted submits recovery takes,
what it tells the client about each, and the upkeep loop that runs it every lease.

Deployments here do not honour ``Idempotency-Key`` (or are gone), so recovery fails the
job rather than ask an upstream again; resubmitting to an idempotent upstream is covered
end to end by ``test_crash_recovery.py``."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.jobs.rows import job_row
from tests.routing.tables import deployment, live
from tests.support import wait_for
from vidgate.db.engine import Database
from vidgate.jobs.archive import Archiver
from vidgate.jobs.create import Creator
from vidgate.jobs.poller import Poller
from vidgate.jobs.store import Job, JobStore
from vidgate.jobs.submits import Submits
from vidgate.media.pool import MediaPool
from vidgate.routing.limits import LimitCounters
from vidgate.routing.router import Router
from vidgate.settings import GatewaySettings, RouterSettings
from vidgate.storage.local import LocalBlobStore

ME = "this-process"
UNSAFE = deployment("unsafe", "m")  # idempotent_submit=False: never asked twice


@pytest.fixture
async def media() -> AsyncIterator[MediaPool]:
    pool = MediaPool()
    yield pool
    await pool.aclose()


def build(
    store: JobStore, media: MediaPool, tmp_path: Path, lease_s: float = 30.0
) -> tuple[Submits, LimitCounters]:
    """The submits of one process, wired as ``app.py`` wires them."""
    settings = GatewaySettings(submit_lease_s=lease_s)
    deployments = live(UNSAFE)
    router = Router(deployments, RouterSettings(), {}, random.Random(1))
    archiver = Archiver(store, LocalBlobStore(tmp_path / "blobs"), tmp_path / "tmp", media)
    poller = Poller(store, deployments, {}, archiver, settings)
    creator = Creator(store, router, poller)
    keys = LimitCounters()
    submits = Submits(store, deployments, creator, settings, ME, lambda: (keys, router.limits))
    return submits, keys


def submitting(job_id: str, owner: str | None, deployment_id: str = "unsafe") -> dict[str, object]:
    lapsed = time.time() - 1
    return job_row(
        job_id,
        deployment_id=deployment_id,
        phase="submitting",
        status="queued",
        lease_owner=owner,
        lease_until=lapsed if owner else None,
    )


async def ended(store: JobStore, job_id: str) -> Job:
    job = await JobStore(store.db).get(job_id)
    assert job is not None
    return job


async def test_recovery_fails_what_it_cannot_resubmit_and_says_why(
    db: Database, media: MediaPool, tmp_path: Path
) -> None:
    store = JobStore(db, sole_writer=True)
    submits, _ = build(store, media, tmp_path)
    for row in (
        submitting("after-restart", None),  # the sole process cleared its leases at start
        submitting("mine", ME),  # this process's own, no longer being submitted
        submitting("gone", None, deployment_id="removed"),
        submitting("in-progress", ME),
    ):
        await store.insert(row)
    with submits.running("in-progress"):  # this process is on it: left alone
        assert await submits.recover() == 3
    jobs = {job_id: await ended(store, job_id) for job_id in ("after-restart", "mine", "gone")}
    assert {job.status for job in jobs.values()} == {"failed"}
    assert jobs["after-restart"].error_code == "submit_interrupted"
    assert jobs["after-restart"].error_message is not None
    assert jobs["after-restart"].error_message.startswith(
        "The gateway stopped while submitting this job. The upstream cannot be asked safely"
    )
    assert (jobs["mine"].error_message or "").startswith("This job's submit was interrupted")
    assert jobs["gone"].error_code == "deployment_removed"
    assert (await ended(store, "in-progress")).phase == "submitting"
    assert submits.in_progress() == ()


async def test_the_upkeep_recovers_a_silent_replicas_submits_and_frees_ended_slots(
    tmp_path: Path, db: Database, media: MediaPool
) -> None:
    """Replicas without Redis (no row cache): every lease, submits of a replica without a
    heartbeat are recovered, and local slots of jobs other replicas ended are freed."""
    store = JobStore(db)
    submits, keys = build(store, media, tmp_path, lease_s=0.2)
    await store.insert(submitting("of-dead-replica", "dead"))
    await store.insert(job_row("still-running"))
    keys.seed([("key", "ended-elsewhere"), ("key", "still-running")])
    upkeep = asyncio.create_task(submits.maintain())
    try:
        await asyncio.to_thread(wait_for, lambda: status(tmp_path, "of-dead-replica") == "failed")
        await asyncio.to_thread(wait_for, lambda: keys.running("key") == 1)
    finally:
        upkeep.cancel()
        await asyncio.gather(upkeep, return_exceptions=True)
    job = await ended(store, "of-dead-replica")
    assert job.error_message is not None
    assert job.error_message.startswith("The gateway replica that was submitting this job")
    assert keys.running("key") == 1  # the running job keeps its slot


def status(tmp_path: Path, job_id: str) -> str:
    """The job's status as the database file has it (read from the waiting thread)."""
    with sqlite3.connect(tmp_path / "vidgate.db") as conn:
        row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return str(row[0])
