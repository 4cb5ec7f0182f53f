"""A job's money (``jobs/money.py``) on a real SQLite database: held when the job is inserted,
re-held when it moves, settled or released exactly once when it ends."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from tests.jobs.rows import job_row, migrated
from tests.routing.tables import deployment
from vidgate.accounting import ledger
from vidgate.db.engine import Database
from vidgate.db.tables import budgets, spend_logs
from vidgate.errors import InsufficientQuota
from vidgate.jobs import lifecycle, money
from vidgate.jobs.store import Job, JobStore
from vidgate.values import Deployment

PRICED = deployment("priced", "m", usd_per_second=0.1)  # a 4 s job costs $0.40
UNPRICED = deployment("unpriced", "m")
USAGE = {"duration_seconds": 4.0, "width": 1280, "height": 720}
BUDGETS = ["team:t", "key:k"]  # the team first: a refused key must undo the team's hold


def money_store(db: Database) -> JobStore:
    """A job store with the money hooks, as the gateway wires it."""
    by_id = {d.id: d for d in (PRICED, UNPRICED)}

    def lookup(deployment_id: str, _created_at: float) -> Deployment | None:
        return by_id.get(deployment_id)

    store = JobStore(db)
    store.insert_hooks.append(money.hold)
    store.terminal_hooks.append(money.Settlement(lookup, {}))
    return store


async def add_budgets(db: Database, key_max: float | None) -> None:
    def run(conn: Connection) -> None:
        for budget_id, limit in (("team:t", None), ("key:k", key_max)):
            conn.execute(insert(budgets).values(ledger.budget_row(budget_id, limit, None, 0.0)))

    await db.write(run)


async def balances(db: Database) -> dict[str, tuple[float, float]]:
    """``(spend, reserved)`` by budget, rounded to the cent's hundredth."""

    def run(conn: Connection) -> dict[str, tuple[float, float]]:
        rows = conn.execute(select(budgets.c.id, budgets.c.spend, budgets.c.reserved))
        return {row[0]: (round(row[1], 4), round(row[2], 4)) for row in rows}

    return await db.read(run)


async def spend_rows(db: Database) -> list[dict[str, Any]]:
    def run(conn: Connection) -> list[dict[str, Any]]:
        return [dict(row) for row in conn.execute(select(spend_logs)).mappings()]

    return await db.read(run)


def held(job_id: str, usd: float, **columns: Any) -> dict[str, Any]:
    return job_row(job_id, deployment_id="priced", reserved_usd=usd, budget_ids=BUDGETS, **columns)


async def test_hold_reserves_on_every_budget_or_on_none(db: Database) -> None:
    store = money_store(db)
    await add_budgets(db, key_max=1.0)
    await store.insert(held("first", 0.4))
    assert await balances(db) == {"team:t": (0.0, 0.4), "key:k": (0.0, 0.4)}
    with pytest.raises(InsufficientQuota):
        await store.insert(held("second", 0.7))  # 0.4 + 0.7 > 1.0 on the key
    assert await store.get("second") is None
    assert await balances(db) == {"team:t": (0.0, 0.4), "key:k": (0.0, 0.4)}
    await store.insert(held("third", 0.6))  # exactly what is left
    assert await balances(db) == {"team:t": (0.0, 1.0), "key:k": (0.0, 1.0)}


async def test_rehold_moves_the_hold_up_and_down_with_the_row(db: Database) -> None:
    store = money_store(db)
    await add_budgets(db, key_max=1.0)
    job = await store.insert(held("j", 0.4, phase="submitting"))

    async def move(to: str, usd: float, previous: float) -> Job | None:
        hook = functools.partial(money.rehold, previous_usd=previous)
        values = {"deployment_id": to, "reserved_usd": usd}
        return await store.update_with(job.id, values, hook, phase="submitting")

    assert await move("dearer", 0.9, 0.4) is not None
    assert await balances(db) == {"team:t": (0.0, 0.9), "key:k": (0.0, 0.9)}
    assert await move("cheaper", 0.2, 0.9) is not None
    assert await balances(db) == {"team:t": (0.0, 0.2), "key:k": (0.0, 0.2)}
    with pytest.raises(InsufficientQuota):
        await move("too-dear", 1.5, 0.2)
    moved = await store.get("j")
    assert moved is not None and (moved.deployment_id, moved.reserved_usd) == ("cheaper", 0.2)
    assert await balances(db) == {"team:t": (0.0, 0.2), "key:k": (0.0, 0.2)}


async def test_a_completed_job_is_charged_its_price(db: Database) -> None:
    store = money_store(db)
    await add_budgets(db, key_max=1.0)
    await store.insert(held("j", 0.8, phase="archiving"))  # held more than it will cost
    ended = await lifecycle.complete(store, "j", {}, USAGE)
    assert ended is not None and (ended.cost_usd, ended.reserved_usd) == (0.4, 0.0)
    assert await balances(db) == {"team:t": (0.4, 0.0), "key:k": (0.4, 0.0)}
    ((row),) = await spend_rows(db)
    assert (row["job_id"], row["status"], row["cost_usd"], row["priced"]) == (
        "j",
        "completed",
        0.4,
        1,
    )
    assert (row["key_id"], row["team_id"], row["seconds"]) == ("key", "t", 4.0)


async def test_a_failed_job_is_charged_nothing_and_its_hold_released(db: Database) -> None:
    store = money_store(db)
    await add_budgets(db, key_max=1.0)
    await store.insert(held("j", 0.4))
    ended = await lifecycle.fail(store, "j", "upstream_error", "it broke")
    assert ended is not None and (ended.cost_usd, ended.reserved_usd) == (0.0, 0.0)
    assert await balances(db) == {"team:t": (0.0, 0.0), "key:k": (0.0, 0.0)}
    ((row),) = await spend_rows(db)
    assert (row["status"], row["cost_usd"]) == ("failed", 0.0)


async def test_an_unpriced_job_costs_nothing_and_says_so(db: Database) -> None:
    store = money_store(db)
    await store.insert(job_row("j", deployment_id="unpriced", phase="archiving"))
    ended = await lifecycle.complete(store, "j", {}, USAGE)
    assert ended is not None and ended.cost_usd is None
    ((row),) = await spend_rows(db)
    assert (row["cost_usd"], row["priced"]) == (0.0, 0)


async def test_two_writers_racing_to_end_a_job_move_its_money_once(tmp_path: Path) -> None:
    """Two processes' stores on one database (replicas): for each job one completes it while
    the other fails it (a delete, a timeout); exactly one wins, and only its money moves."""
    path = str(tmp_path / "vidgate.db")
    first_db, second_db = await migrated(path), await migrated(path)
    try:
        await race(first_db, second_db)
    finally:
        await second_db.dispose()
        await first_db.dispose()


async def race(first_db: Database, second_db: Database) -> None:
    first, second = money_store(first_db), money_store(second_db)
    winners: list[str] = []
    for store in (first, second):
        store.after_end.append(lambda job: winners.append(job.id))
    await add_budgets(first_db, key_max=None)
    ids = [f"job-{i}" for i in range(20)]
    for job_id in ids:
        await first.insert(held(job_id, 0.4, phase="archiving"))
    results = await asyncio.gather(
        *(lifecycle.complete(first, job_id, {}, USAGE) for job_id in ids),
        *(lifecycle.fail(second, job_id, "deleted", "deleted") for job_id in ids),
    )
    completed = [job for job in results[: len(ids)] if job is not None]
    failed = [job for job in results[len(ids) :] if job is not None]
    assert sorted(job.id for job in completed + failed) == sorted(ids)  # one winner each
    assert sorted(winners) == sorted(ids)
    rows = await spend_rows(first_db)
    assert sorted(row["job_id"] for row in rows) == sorted(ids)  # settled once each
    charged = round(0.4 * len(completed), 4)
    assert await balances(first_db) == {"team:t": (charged, 0.0), "key:k": (charged, 0.0)}
    for job in completed + failed:
        stored = await JobStore(first_db).get(job.id)
        assert stored is not None and stored.status == job.status
        assert stored.cost_usd == (0.4 if job.status == "completed" else 0.0)
