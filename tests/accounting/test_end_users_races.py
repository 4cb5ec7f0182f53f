"""End users' races made deterministic in one event loop: a block made while a create of
the same end user is being admitted, and a create cancelled while the key's slot is taken.

The database is a real migrated SQLite file; writes are held at a gate so the interleaving
is chosen by the test, not by timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from vidgate.accounting.end_users import EndUserStore, Limits, budget_id
from vidgate.accounting.keys import Principal
from vidgate.db.engine import Database, migrate, open_database
from vidgate.jobs.end_users import EndUserGate
from vidgate.jobs.service import JobService
from vidgate.routing.limits import LimitCounters

T = TypeVar("T")
DEADLINE_S = 60.0


class GatedWrites:
    """A database whose writes wait at a gate while ``hold`` is set; reads go through."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.hold = False
        self.entered = asyncio.Event()
        self.go = asyncio.Event()

    async def read(self, fn: Callable[[Any], T]) -> T:
        return await self.db.read(fn)

    async def write(self, fn: Callable[[Any], T]) -> T:
        await self._gate()
        return await self.db.write(fn)

    async def write_bulk(self, fn: Callable[[Any], T]) -> T:
        await self._gate()
        return await self.db.write_bulk(fn)

    async def _gate(self) -> None:
        if self.hold:
            self.entered.set()
            await self.go.wait()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'v.db'}")
    await migrate(database)
    yield database
    await database.dispose()


async def _change_racing_an_admit(store: EndUserStore, gated: GatedWrites, change: Any) -> None:
    """Start ``change`` with its write held, admit the end user meanwhile (it reads the row
    as it was), then let the write commit."""
    gated.hold = True
    task = asyncio.ensure_future(change)
    await asyncio.wait_for(gated.entered.wait(), DEADLINE_S)
    user, _ = await store.admit("k1", "alice", Limits())
    assert user.blocked is False  # the old row: the change has not committed yet
    gated.hold = False
    gated.go.set()
    await asyncio.wait_for(task, DEADLINE_S)


async def test_a_block_is_not_lost_to_an_admit_that_read_before_it_committed(
    db: Database,
) -> None:
    gated = GatedWrites(db)
    store = EndUserStore(gated)  # type: ignore[arg-type]
    await store.admit("k1", "alice", Limits())  # registered and cached
    await _change_racing_an_admit(
        store, gated, store.change("k1", "alice", Limits(), {"blocked": 1})
    )
    user, _ = await store.admit("k1", "alice", Limits())
    assert user.blocked is True  # at once, not a second later


async def test_a_forgotten_block_is_not_kept_by_an_admit_meanwhile(db: Database) -> None:
    gated = GatedWrites(db)
    store = EndUserStore(gated)  # type: ignore[arg-type]
    await store.change("k1", "alice", Limits(), {"blocked": 1})
    assert (await store.admit("k1", "alice", Limits()))[0].blocked is True
    await store.change("k1", "alice", Limits(), {"blocked": 0})
    await store.admit("k1", "alice", Limits())  # cached: not blocked
    await _change_racing_an_admit(
        store, gated, store.change("k1", "alice", Limits(), {"blocked": 1})
    )
    gated.entered.clear()
    gated.go.clear()
    # forget: the row goes; an admit meanwhile reads it blocked and must not keep that
    gated.hold = True
    task = asyncio.ensure_future(store.forget("k1", ["alice"]))
    await asyncio.wait_for(gated.entered.wait(), DEADLINE_S)
    assert (await store.admit("k1", "alice", Limits()))[0].blocked is True
    gated.hold = False
    gated.go.set()
    assert await asyncio.wait_for(task, DEADLINE_S) == 1
    assert (await store.admit("k1", "alice", Limits()))[0].blocked is False


class HeldKeyCounters(LimitCounters):
    """The key's ``take`` waits (as a Redis round trip may) until cancelled."""

    def __init__(self, key_id: str) -> None:
        super().__init__()
        self.key_id = key_id
        self.entered = asyncio.Event()

    async def take(
        self, counter_id: str, job_id: str, rpm: int | None, max_concurrent: int | None
    ) -> float:
        if counter_id == self.key_id:
            self.entered.set()
            await asyncio.Event().wait()  # never set: only a cancellation ends it
        return self.acquire(counter_id, job_id, rpm, max_concurrent)


async def test_a_create_cancelled_during_the_keys_take_frees_the_end_users_slot(
    db: Database,
) -> None:
    counters = HeldKeyCounters("k1")
    service = JobService.__new__(JobService)  # only the admission's parts are used
    service.key_limits = counters
    service.end_users = EndUserGate(EndUserStore(db), lambda: counters)
    principal = Principal(
        "k1", max_parallel_jobs=5, end_user_limits=Limits(rpm_limit=5, max_parallel_jobs=1)
    )
    task = asyncio.ensure_future(service._admit_both(principal, "bob", "video_1"))
    await asyncio.wait_for(counters.entered.wait(), DEADLINE_S)
    assert counters.running(budget_id("k1", "bob")) == 1  # the end user's slot is taken
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert counters.running(budget_id("k1", "bob")) == 0  # and given back
