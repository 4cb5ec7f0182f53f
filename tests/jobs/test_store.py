"""``JobStore`` on a real SQLite database: hooks commit or roll back with the job change they
belong to, a terminal transition has one winner, and leases go to one holder at a time.

Every test runs with and without the row cache (``sole_writer``): the store then takes
different statements (``UPDATE`` without ``RETURNING`` over the cached row)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from tests.jobs.rows import job_row
from vidgate.accounting import ledger
from vidgate.db.engine import Database
from vidgate.db.tables import budgets
from vidgate.errors import InsufficientQuota
from vidgate.jobs import lifecycle
from vidgate.jobs.store import Job, JobCache, JobStore

DONE = {"status": "failed", "phase": "done"}


@pytest.fixture(params=[False, True], ids=["no-cache", "sole-writer"])
def store(request: pytest.FixtureRequest, db: Database) -> JobStore:
    return JobStore(db, sole_writer=request.param)


def _count_budgets(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(budgets)).scalar_one())


def _add_budget(conn: Connection, job: Job) -> None:
    """A write inside the hook's transaction: it must commit or roll back with the job."""
    conn.execute(insert(budgets).values(ledger.budget_row(f"key:{job.id}", 1.0, None, 0.0)))


async def test_a_raising_insert_hook_aborts_the_insert(store: JobStore, db: Database) -> None:
    def refuse(conn: Connection, job: Job) -> None:
        raise InsufficientQuota(f"no money for {job.id}")

    store.insert_hooks += [_add_budget, refuse]
    with pytest.raises(InsufficientQuota):
        await store.insert(job_row("refused"))
    assert await store.get("refused") is None
    assert await JobStore(db).get("refused") is None  # not in the table either
    assert await db.read(_count_budgets) == 0  # the first hook's write rolled back with it

    store.insert_hooks.remove(refuse)
    job = await store.insert(job_row("accepted"))
    assert await JobStore(db).get("accepted") == job
    assert await db.read(_count_budgets) == 1


async def test_terminal_hook_columns_commit_with_the_transition(
    store: JobStore, db: Database
) -> None:
    seen: list[tuple[str, str, str]] = []

    def settle(conn: Connection, job: Job) -> dict[str, Any]:
        seen.append((job.id, job.phase, job.status))  # the final row
        _add_budget(conn, job)
        return {"cost_usd": 1.25, "reserved_usd": 0.0}

    store.terminal_hooks.append(settle)
    await store.insert(job_row("j", reserved_usd=2.0))
    ended = await store.finish("j", DONE, phase="running")
    assert ended is not None
    assert (ended.phase, ended.status, ended.cost_usd, ended.reserved_usd) == (
        "done",
        "failed",
        1.25,
        0.0,
    )
    assert seen == [("j", "done", "failed")]
    assert await JobStore(db).get("j") == ended  # written, not only returned
    assert await db.read(_count_budgets) == 1


async def test_a_failing_terminal_hook_rolls_back_the_transition_and_the_other_hooks(
    store: JobStore, db: Database
) -> None:
    def settle(conn: Connection, job: Job) -> dict[str, Any]:
        _add_budget(conn, job)
        return {"cost_usd": 1.25}

    def broken(conn: Connection, job: Job) -> None:
        raise RuntimeError("the database went away")

    store.terminal_hooks += [settle, broken]
    await store.insert(job_row("j"))
    with pytest.raises(RuntimeError):
        await store.finish("j", DONE, phase="running")
    for reader in (store, JobStore(db)):
        job = await reader.get("j")
        assert job is not None and (job.phase, job.cost_usd) == ("running", None)
    assert await db.read(_count_budgets) == 0


async def test_a_losing_compare_and_set_runs_no_hooks(store: JobStore, db: Database) -> None:
    calls: list[str] = []
    store.terminal_hooks.append(lambda conn, job: calls.append(job.id))
    ended: list[str] = []
    store.after_end.append(lambda job: ended.append(job.id))
    await store.insert(job_row("j"))

    first = await lifecycle.fail(store, "j", "deleted", "gone")
    second = await lifecycle.fail(store, "j", "timeout", "too slow")
    assert first is not None and second is None
    assert await store.finish("j", DONE, phase="running") is None  # not running any more
    assert await store.update("j", {"progress": 50}, phase="running") is None
    assert calls == ["j"] and ended == ["j"]
    job = await JobStore(db).get("j")
    assert job is not None and (job.error_code, job.progress) == ("deleted", 0)


async def test_due_jobs_are_leased_to_one_poller_at_a_time(store: JobStore) -> None:
    now = time.time()
    for job_id, columns in {
        "due": {"next_poll_at": now - 2},
        "archiving": {"phase": "archiving", "next_poll_at": now - 3},
        "later": {"next_poll_at": now + 60},
        "submitting": {"phase": "submitting", "next_poll_at": now - 1},
        "done": {"phase": "done", "status": "completed", "next_poll_at": now - 1},
        "held": {"next_poll_at": now - 1, "lease_owner": "b", "lease_until": now + 30},
        "lapsed": {"next_poll_at": now - 1, "lease_owner": "b", "lease_until": now - 1},
    }.items():
        await store.insert(job_row(job_id, **columns))

    claimed = await store.claim_due("a", now, 10.0, limit=2)
    assert sorted(job.id for job in claimed) == ["archiving", "due"]  # the earliest due
    assert all((job.lease_owner, job.lease_until) == ("a", now + 10) for job in claimed)
    assert [job.id for job in await store.claim_due("a", now, 10.0, limit=10)] == ["lapsed"]
    assert await store.claim_due("c", now, 10.0, limit=10) == []  # every due job is held
    later = await store.claim_due("c", now + 11, 10.0, limit=10)  # a's leases lapsed, b's not
    assert sorted(job.id for job in later) == ["archiving", "due", "lapsed"]


async def test_a_lease_is_confirmed_renewed_and_taken_only_by_its_holder(
    store: JobStore,
) -> None:
    now = time.time()
    await store.insert(job_row("j", next_poll_at=now + 60))
    taken = await store.claim_one("j", "a", now, 30.0)
    assert taken is not None and taken.lease_owner == "a"
    assert await store.claim_one("j", "b", now, 30.0) is None  # a holds it

    until = await store.confirm_lease("j", "a", 30.0)
    assert until is not None and until >= now + 30
    assert await store.confirm_lease("j", "b", 30.0) is None

    await store.renew_leases("b", ["j"], now + 600)  # not b's: unchanged
    assert await store.claim_one("j", "b", until + 1, 30.0) is not None  # a's lapsed
    assert await store.confirm_lease("j", "a", 30.0) is None  # a must not poll it now
    await store.renew_leases("b", ["j"], now + 600)
    assert await store.claim_one("j", "a", now + 599, 30.0) is None

    await store.release_all_leases()
    job = await store.get("j")
    assert job is not None and (job.lease_owner, job.lease_until) == (None, None)
    assert await store.claim_one("j", "a", now, 30.0) is not None


async def test_update_many_is_a_compare_and_set_per_job(store: JobStore, db: Database) -> None:
    for job_id in ("a", "b", "c"):
        await store.insert(job_row(job_id, next_poll_at=0.0))
    await store.update("b", DONE, phase="running")  # ended while the others were polled
    polled = {"status": "in_progress", "progress": 40, "next_poll_at": 9.0}
    moved = {**polled, "upstream_id": "up-2"}  # another set of columns in the same batch
    changes = [("a", polled, "running"), ("b", polled, "running"), ("c", moved, "running")]
    rows = await store.update_many(changes)
    assert [row.id if row else None for row in rows] == ["a", None, "c"]
    fresh = JobStore(db)  # what the table holds, not the cache
    a, b, c = [await fresh.get(i) for i in ("a", "b", "c")]
    assert a is not None and (a.progress, a.next_poll_at) == (40, 9.0) and rows[0] == a
    assert b is not None and (b.phase, b.progress) == ("done", 0)
    assert c is not None and c.upstream_id == "up-2" and rows[2] == c
    assert await store.get("c") == c
    everyone = [(i, polled, "running") for i in ("a", "c")]
    assert all(await store.update_many(everyone))


async def test_claim_due_leases_the_longest_due_first(store: JobStore) -> None:
    now = time.time()
    for job_id, due in (("later", now - 1), ("first", now - 5), ("future", now + 60)):
        await store.insert(job_row(job_id, next_poll_at=due))
    claimed = await store.claim_due("me", now, 30.0, 1)
    assert [(j.id, j.lease_owner, j.lease_until) for j in claimed] == [("first", "me", now + 30)]
    assert [j.id for j in await store.claim_due("other", now, 30.0, 10)] == ["later"]
    assert await store.claim_due("other", now, 30.0, 10) == []
    assert (await store.get("first")) == claimed[0]


async def test_the_cache_keeps_few_finished_rows_and_every_running_one(db: Database) -> None:
    store = JobStore(db, sole_writer=True)
    assert store.cache is not None
    store.cache = JobCache(capacity=100, finished_capacity=3)
    for n in range(10):
        await store.insert(job_row(f"job{n}"))
    for n in range(6):  # six finish: the three most recent stay cached
        await store.update(f"job{n}", DONE)
    cache = store.cache
    assert len(cache) == 4 + 3
    assert [n for n in range(10) if cache.get(f"job{n}") is not None] == [3, 4, 5, 6, 7, 8, 9]
    evicted = await store.get("job0")  # read from the table again, and cached again
    assert evicted is not None and evicted.status == "failed"
    assert cache.get("job0") is evicted and cache.get("job3") is None  # the oldest left
    running = await store.get("job9")
    assert running is not None and not running.terminal
