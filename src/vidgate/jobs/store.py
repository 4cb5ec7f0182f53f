"""Job rows: one statement per operation, with compare-and-set where state changes.

Terminal transitions are guarded by the phase the writer expects (``update(..., phase=)``),
so of two writers racing to finish a job exactly one wins; the loser sees ``False``. The
poller claims due jobs with a lease in a single ``UPDATE ... RETURNING``; a replica that
dies mid-lease simply lets the lease expire.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from vidgate.db.tables import jobs


@dataclass(frozen=True)
class Job:
    """A job row."""

    seq: int
    id: str
    owner_key_id: str
    model: str
    deployment_id: str
    provider: str
    upstream_model: str
    upstream_id: str | None
    operation: str
    status: str
    phase: str
    progress: int
    prompt: str
    size: str
    seconds: int
    request: dict[str, Any]
    remixed_from: str | None
    created_at: float
    updated_at: float
    started_at: float | None
    completed_at: float | None
    expires_at: float | None
    last_polled_at: float | None
    next_poll_at: float | None
    poll_failures: int
    lease_owner: str | None
    lease_until: float | None
    error_code: str | None
    error_message: str | None
    idempotency_key: str | None
    request_hash: str | None
    assets: dict[str, Any] | None
    usage: dict[str, Any] | None
    deleted_at: float | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Job:
        return cls(**{name: row[name] for name in _FIELDS})

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed")


_FIELDS = tuple(f.name for f in fields(Job))


class JobCache:
    """A bounded LRU of job rows that every write through ``JobStore`` keeps current.

    Retrieve is the hottest route (clients poll as hard as they like), so a cached row saves
    the database round trip entirely. It is only correct while this process is the sole
    writer — the embedded SQLite default — so the store enables it only then.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[str, Job] = OrderedDict()

    def get(self, job_id: str) -> Job | None:
        job = self._rows.get(job_id)
        if job is not None:
            self._rows.move_to_end(job_id)
        return job

    def put(self, job: Job) -> Job:
        self._rows[job.id] = job
        self._rows.move_to_end(job.id)
        if len(self._rows) > self.capacity:
            self._rows.popitem(last=False)
        return job

    def drop(self, job_id: str) -> None:
        self._rows.pop(job_id, None)


class DuplicateIdempotencyKey(Exception):
    """Another job of the same owner already holds this idempotency key."""


class JobStore:
    """Async access to the ``jobs`` table."""

    def __init__(self, engine: AsyncEngine, *, sole_writer: bool = False) -> None:
        self.engine = engine
        self.cache = JobCache() if sole_writer else None

    def _remember(self, job: Job) -> Job:
        return self.cache.put(job) if self.cache is not None else job

    async def insert(self, values: Mapping[str, Any]) -> Job:
        async with self.engine.begin() as conn:
            try:
                result = await conn.execute(insert(jobs).values(**values).returning(*jobs.c))
            except IntegrityError as exc:
                raise DuplicateIdempotencyKey(str(values.get("idempotency_key"))) from exc
            return self._remember(Job.from_row(result.mappings().one()))

    async def get(self, job_id: str) -> Job | None:
        cached = self.cache.get(job_id) if self.cache is not None else None
        if cached is not None:
            return cached
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).mappings().first()
        return None if row is None else self._remember(Job.from_row(row))

    async def get_owned(self, job_id: str, owner: str) -> Job | None:
        """The live job if ``owner`` owns it; ``None`` for anything else (fails closed)."""
        job = await self.get(job_id)
        if job is None or job.owner_key_id != owner or job.deleted_at is not None:
            return None
        return job

    async def find_idempotent(self, owner: str, key: str) -> Job | None:
        query = select(jobs).where(jobs.c.owner_key_id == owner, jobs.c.idempotency_key == key)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else Job.from_row(row)

    async def list_owned(
        self, owner: str, *, after_seq: int | None, limit: int, descending: bool
    ) -> list[Job]:
        query = select(jobs).where(jobs.c.owner_key_id == owner, jobs.c.deleted_at.is_(None))
        if after_seq is not None:
            query = query.where(jobs.c.seq < after_seq if descending else jobs.c.seq > after_seq)
        query = query.order_by(jobs.c.seq.desc() if descending else jobs.c.seq.asc()).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [Job.from_row(row) for row in rows]

    async def update(
        self, job_id: str, values: Mapping[str, Any], *, phase: str | Sequence[str] | None = None
    ) -> Job | None:
        """Set ``values``; with ``phase``, only if the job is still in that phase (CAS)."""
        query = update(jobs).where(jobs.c.id == job_id)
        if phase is not None:
            phases = [phase] if isinstance(phase, str) else list(phase)
            query = query.where(jobs.c.phase.in_(phases))
        async with self.engine.begin() as conn:
            row = (await conn.execute(query.values(**values).returning(*jobs.c))).mappings().first()
        if row is None:
            if self.cache is not None:
                self.cache.drop(job_id)
            return None
        return self._remember(Job.from_row(row))

    async def claim_due(self, owner: str, now: float, lease_s: float, limit: int) -> list[Job]:
        """Lease up to ``limit`` due jobs to ``owner``."""
        due = (
            select(jobs.c.seq)
            .where(
                jobs.c.phase.in_(("running", "archiving")),
                jobs.c.next_poll_at <= now,
                or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < now),
            )
            .order_by(jobs.c.next_poll_at)
            .limit(limit)
        )
        query = (
            update(jobs)
            .where(jobs.c.seq.in_(due.scalar_subquery()))
            .values(lease_owner=owner, lease_until=now + lease_s)
            .returning(*jobs.c)
        )
        async with self.engine.begin() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [self._remember(Job.from_row(row)) for row in rows]

    async def claim_one(self, job_id: str, owner: str, now: float, lease_s: float) -> Job | None:
        """Lease one specific running job now (read-through refresh), if nobody holds it."""
        query = (
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.phase == "running",
                or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=now + lease_s)
            .returning(*jobs.c)
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else self._remember(Job.from_row(row))

    async def next_due_at(self) -> float | None:
        query = (
            select(jobs.c.next_poll_at)
            .where(jobs.c.phase.in_(("running", "archiving")), jobs.c.next_poll_at.is_not(None))
            .order_by(jobs.c.next_poll_at)
            .limit(1)
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).scalar()

    async def in_phase(self, phase: str) -> list[Job]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(jobs).where(jobs.c.phase == phase))).mappings().all()
        return [Job.from_row(row) for row in rows]

    async def purge(self, job_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(jobs).where(and_(jobs.c.id == job_id)))
        if self.cache is not None:
            self.cache.drop(job_id)
