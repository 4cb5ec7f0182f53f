"""Job rows: one statement per operation, with compare-and-set where state changes.

Terminal transitions (``finish``) are guarded by the phase the writer expects (CAS),
so of two writers racing to finish a job exactly one wins; the loser gets ``None``. The
poller claims due jobs with a lease in a single ``UPDATE ... RETURNING`` (on PostgreSQL its
subquery locks ``FOR UPDATE SKIP LOCKED``, so replicas claiming at once split the due jobs
instead of waiting on each other); a replica that dies mid-lease simply lets the lease
expire. A job being submitted is leased to its submitter too, renewed while the submit
lasts; others recover it only once the lease lapsed and the submitter's heartbeat (the
``replicas`` table, ``jobs/heartbeat.py``) went silent too, so a slow submitter keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from sqlalchemy import JSON, Executable, and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from vidgate.db.engine import Database
from vidgate.db.tables import jobs, replicas

LIVE_PHASES = ("submitting", "running", "archiving")
"""A job in one of these has not ended: it holds its budgets and its concurrency slots."""
ENDED_PHASES = ("done", "overdue")
"""A job in either has ended for its client; ``overdue`` (failed at its deadline) still has
its upstream task watched for a late completion (``jobs/deadlines.py``)."""
POLLED_PHASES = ("running", "archiving", "overdue")
"""Phases the poller claims: ``overdue`` is a job failed at its deadline whose upstream
task is still watched for a late completion (``jobs/poller.py``)."""


class LiveJob(NamedTuple):
    """A job that has not ended, as the slot counters need it (``JobStore.live_jobs``)."""

    deployment_id: str
    owner_key_id: str
    job_id: str
    end_user: str | None


@dataclass(frozen=True, slots=True)
class Job:
    """A job row (slots: ~0.4 KB an object instead of ~1.6 KB with a ``__dict__``; the job
    cache holds one per running job, 10,000 of them in a busy process)."""

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
    upstream: dict[str, Any] | None
    attempts: list[dict[str, Any]] | None
    reserved_usd: float | None
    cost_usd: float | None
    budget_ids: list[str] | None
    deleted_at: float | None
    end_user: str | None
    deadline_at: float | None

    @classmethod
    def from_row(cls, row: RowMapping | Mapping[str, Any]) -> Job:
        return cls(**{name: row[name] for name in _FIELDS})

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed")


_FIELDS = tuple(f.name for f in fields(Job))


class JobCache:
    """Bounded LRUs of job rows that every write through ``JobStore`` keeps current.

    Retrieve is the hottest route (clients poll as hard as they like), so a cached row saves
    the database round trip entirely. It is only correct while this process is the sole
    writer — the embedded SQLite default — so the store enables it only then.

    Rows of jobs in work (up to ``capacity``: the poller and their clients read them all the
    time) and of finished jobs (up to ``finished_capacity``, the most recently used: a
    finished job is read for its download and then seldom again) are kept apart. One LRU of
    50,000 rows of either kind grew with every job a gateway ever finished, ~5 KB a row
    (its decoded JSON included): ~4 MiB in a minute of the mixed benchmark, ~245 MiB at the
    cap; finished rows now hold at most ~10 MiB.
    """

    def __init__(self, capacity: int = 50_000, finished_capacity: int = 2_000) -> None:
        self.capacity = capacity
        self.finished_capacity = finished_capacity
        self._rows: OrderedDict[str, Job] = OrderedDict()
        self._finished: OrderedDict[str, Job] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows) + len(self._finished)

    def get(self, job_id: str) -> Job | None:
        job = self._rows.get(job_id)
        if job is not None:
            self._rows.move_to_end(job_id)
            return job
        job = self._finished.get(job_id)
        if job is not None:
            self._finished.move_to_end(job_id)
        return job

    def put(self, job: Job) -> Job:
        rows, other = (self._finished, self._rows) if job.terminal else (self._rows, self._finished)
        other.pop(job.id, None)
        rows[job.id] = job
        rows.move_to_end(job.id)
        if len(rows) > (self.finished_capacity if job.terminal else self.capacity):
            rows.popitem(last=False)
        return job

    def drop(self, job_id: str) -> None:
        self._rows.pop(job_id, None)
        self._finished.pop(job_id, None)


TerminalHook = Callable[[Connection, Job], Mapping[str, Any] | None]
"""Runs in the transaction that ends a job; may return columns to write in it."""


class ChangeSignal:
    """Wakes whoever waits (the event streams) after a job row was written here."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Until the next write, or ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


class DuplicateIdempotencyKey(Exception):
    """Another job of the same owner already holds this idempotency key."""


class JobStore:
    """Access to the ``jobs`` table; every method is one statement in one transaction."""

    def __init__(self, db: Database, *, sole_writer: bool = False) -> None:
        self.db = db
        self.sole_writer = sole_writer
        self.cache = JobCache() if sole_writer else None
        self.insert_hooks: list[Callable[[Connection, Job], None]] = []
        """Run inside the transaction that inserts a job (reserving money); raising aborts it."""
        self.terminal_hooks: list[TerminalHook] = []
        """Run inside the transaction that ends a job (``finish``), with its final row:
        whatever must happen exactly once with the end (settling money, queueing webhooks)
        commits or rolls back with it. A hook may return column values; the store writes
        them in that transaction. A writer that loses the transition runs none."""
        self.after_end: list[Callable[[Job], None]] = []
        """Called once with the final row after a job's end committed (in-memory
        bookkeeping: slots, metrics, waking the webhook sender); see ``notify_ended``."""
        self.changed = ChangeSignal()
        """Fired after every insert or update of a job row by this process."""

    def notify_ended(self, job: Job) -> None:
        """Run the ``after_end`` callbacks: ``job`` ended, and this writer ended it."""
        for callback in self.after_end:
            callback(job)

    def _remember(self, job: Job) -> Job:
        return self.cache.put(job) if self.cache is not None else job

    def _forget(self, job_id: str) -> None:
        if self.cache is not None:
            self.cache.drop(job_id)

    async def insert(self, values: Mapping[str, Any]) -> Job:
        def run(conn: Connection) -> Job:
            try:
                result = conn.execute(_INSERT, dict(values))
            except IntegrityError as exc:
                raise DuplicateIdempotencyKey(str(values.get("idempotency_key"))) from exc
            key = result.inserted_primary_key
            assert key is not None
            job = Job(**{**_EMPTY_ROW, **values, "seq": key[0]})
            for hook in self.insert_hooks:
                hook(conn, job)
            return job

        job = self._remember(await self.db.write(run))
        self.changed.fire()
        return job

    async def write_row(self, run: Callable[[Connection], Job | None]) -> Job | None:
        """Run a write of another module's that returns the job's new row (or ``None`` if it
        wrote nothing); the row is remembered and waiters woken, as after this store's own
        writes."""
        job = await self.db.write(run)
        if job is None:
            return None
        self.changed.fire()
        return self._remember(job)

    async def get(self, job_id: str) -> Job | None:
        cached = self.cache.get(job_id) if self.cache is not None else None
        if cached is not None:
            return cached
        row = await self.db.read_row(jobs, "id", job_id)
        return None if row is None else self._remember(Job.from_row(row))

    async def get_live(self, job_id: str) -> Job | None:
        """The job unless it does not exist or was deleted (whoever owns it)."""
        job = await self.get(job_id)
        return None if job is None or job.deleted_at is not None else job

    async def get_owned(self, job_id: str, owner: str) -> Job | None:
        """The live job if ``owner`` owns it; ``None`` for anything else (fails closed)."""
        job = await self.get(job_id)
        if job is None or job.owner_key_id != owner or job.deleted_at is not None:
            return None
        return job

    async def find_idempotent(self, owner: str, key: str) -> Job | None:
        query = select(jobs).where(jobs.c.owner_key_id == owner, jobs.c.idempotency_key == key)
        return await self.db.read(_first(query))

    async def list_owned(
        self, owner: str, *, after_seq: int | None, limit: int, descending: bool
    ) -> list[Job]:
        query = select(jobs).where(jobs.c.owner_key_id == owner, jobs.c.deleted_at.is_(None))
        if after_seq is not None:
            query = query.where(jobs.c.seq < after_seq if descending else jobs.c.seq > after_seq)
        query = query.order_by(jobs.c.seq.desc() if descending else jobs.c.seq.asc()).limit(limit)
        return await self.db.read(_all(query))

    async def recent(self, owner: str | None, limit: int) -> list[Job]:
        """The newest ``limit`` live jobs of ``owner`` (of every key for ``None``)."""
        query = select(jobs).where(jobs.c.deleted_at.is_(None))
        if owner is not None:
            query = query.where(jobs.c.owner_key_id == owner)
        return await self.db.read(_all(query.order_by(jobs.c.seq.desc()).limit(limit)))

    async def update(
        self, job_id: str, values: Mapping[str, Any], *, phase: str | Sequence[str] | None = None
    ) -> Job | None:
        """Set ``values``; with ``phase``, only if the job is still in that phase (CAS)."""
        return await self._update(job_id, values, phase, ())

    async def update_with(
        self,
        job_id: str,
        values: Mapping[str, Any],
        hook: Callable[[Connection, Job], None],
        *,
        phase: str,
    ) -> Job | None:
        """``update`` with ``hook`` in its transaction (raising from it aborts the update)."""
        return await self._update(job_id, values, phase, (hook,))

    async def finish(
        self, job_id: str, values: Mapping[str, Any], *, phase: str | Sequence[str]
    ) -> Job | None:
        """``update`` for a terminal transition (CAS on ``phase``): the ``terminal_hooks``
        run in its transaction, and only if it wins."""
        return await self._update(job_id, values, phase, self.terminal_hooks)

    async def _update(
        self,
        job_id: str,
        values: Mapping[str, Any],
        phase: str | Sequence[str] | None,
        hooks: Sequence[TerminalHook],
    ) -> Job | None:
        params: dict[str, Any] = {**values, "_id": job_id}
        if phase is not None:
            params["_phases"] = [phase] if isinstance(phase, str) else list(phase)

        known = self.cache.get(job_id) if self.cache is not None else None

        def run(conn: Connection) -> Job | None:
            job = _set(conn, params, values, known)
            if job is not None:
                for hook in hooks:
                    set_by_hook = hook(conn, job)
                    if set_by_hook:  # the hook's columns are written in this transaction
                        conn.execute(_SET, {**set_by_hook, "_id": job_id})
                        job = dataclasses.replace(job, **set_by_hook)
            return job

        job = await self.db.write(run)
        if job is None:
            self._forget(job_id)
            return None
        self.changed.fire()
        return self._remember(job)

    async def update_many(
        self, changes: Sequence[tuple[str, Mapping[str, Any], str]]
    ) -> list[Job | None]:
        """Several ``update(job_id, values, phase=phase)`` in one transaction: the poller
        writes the results of the polls that finished together in one commit (and on
        SQLite one hop to the writer thread) instead of one each. Each is still its own
        compare-and-set; a result is ``None`` where the job had left ``phase``."""
        cache = self.cache
        todo = [
            (
                {**values, "_id": job_id, "_phases": [phase]},
                values,
                cache.get(job_id) if cache is not None else None,
            )
            for job_id, values, phase in changes
        ]

        def run(conn: Connection) -> list[Job | None]:
            done = _set_all(conn, changes, [known for _p, _v, known in todo])
            if done is not None:
                return done
            return [_set(conn, params, values, known) for params, values, known in todo]

        jobs_ = await self.db.write(run)
        for (job_id, _values, _phase), job in zip(changes, jobs_, strict=True):
            if job is None:
                self._forget(job_id)
            else:
                self._remember(job)
        if any(job is not None for job in jobs_):
            self.changed.fire()
        return jobs_

    async def claim_due(self, owner: str, now: float, lease_s: float, limit: int) -> list[Job]:
        """Lease up to ``limit`` due jobs to ``owner``, the longest due first.

        One statement built once; the sole writer has the rows in its cache and reads back
        only their ids (decoding each claimed row's JSON columns again was a third of the
        claim's cost at 500 polls/s, bench/poll10k.py)."""
        params = {"_now": now, "_limit": limit, "_owner": owner, "_until": now + lease_s}
        cache = self.cache
        if cache is None:
            return await self.db.write(_all_with(_CLAIM.returning(*jobs.c), params))

        def run(conn: Connection) -> list[str]:
            return list(conn.execute(_CLAIM_IDS, params).scalars())

        ids = await self.db.write(run)
        lease = {"lease_owner": owner, "lease_until": now + lease_s}
        cached = {i: cache.get(i) for i in ids}
        missing = [i for i, job in cached.items() if job is None]
        if missing:  # rows this process has not seen since it started: read them once
            read = await self.db.read(_all(select(jobs).where(jobs.c.id.in_(missing))))
            cached.update({job.id: job for job in read})
        return [self._remember(_with(job, lease)) for job in cached.values() if job is not None]

    async def claim_stalled_submits(
        self,
        owner: str,
        now: float,
        lease_s: float,
        *,
        busy: Collection[str],
        silent_since: float,
        limit: int = 100,
    ) -> list[tuple[Job, str | None]]:
        """Lease ``submitting`` jobs that nobody is submitting any more; each with the owner
        of its lapsed lease. A lapsed lease alone proves nothing (a starved replica renews
        late), so a job is taken only when its owner is unknown, has sent no heartbeat since
        ``silent_since``, or is ``owner`` itself with no submit of it running (``busy``)."""
        alive = select(replicas.c.id).where(replicas.c.last_seen >= silent_since)
        abandoned = or_(
            jobs.c.lease_owner.is_(None),
            and_(jobs.c.lease_owner != owner, jobs.c.lease_owner.not_in(alive)),
            and_(jobs.c.lease_owner == owner, jobs.c.id.not_in(list(busy))),
        )
        stalled = (
            select(jobs.c.seq, jobs.c.lease_owner)
            .where(
                jobs.c.phase == "submitting",
                or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < now),
                abandoned,
            )
            .order_by(jobs.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def run(conn: Connection) -> list[tuple[Job, str | None]]:
            before = {row.seq: row.lease_owner for row in conn.execute(stalled)}
            if not before:
                return []
            query = (
                update(jobs)
                .where(jobs.c.seq.in_(list(before)))
                .values(lease_owner=owner, lease_until=now + lease_s)
                .returning(*jobs.c)
            )
            rows = conn.execute(query).mappings().all()
            return [(Job.from_row(row), before[row["seq"]]) for row in rows]

        return [(self._remember(job), held) for job, held in await self.db.write(run)]

    async def confirm_lease(self, job_id: str, owner: str, lease_s: float) -> float | None:
        """Extend ``owner``'s lease on a job if it still holds it: the new end, else ``None``.

        Replicas check this right before an upstream poll: a lease that lapsed (an overloaded
        process) may have been claimed by another, which must then be the only one. The end
        is computed when the statement runs, not when it was asked for (a wait for a
        connection must not hand out a lease that already ended).
        """
        return (await self.confirm_leases([job_id], owner, lease_s))[0]

    async def confirm_leases(
        self, job_ids: Sequence[str], owner: str, lease_s: float
    ) -> list[float | None]:
        """``confirm_lease`` for many jobs in one statement: each one's new lease end, or
        ``None`` where ``owner`` no longer holds it."""

        def run(conn: Connection) -> list[float | None]:
            until = time.time() + lease_s
            query = (
                update(jobs)
                .where(jobs.c.id.in_(list(job_ids)), jobs.c.lease_owner == owner)
                .values(lease_until=until)
                .returning(jobs.c.id)
            )
            held = set(conn.execute(query).scalars())
            return [until if job_id in held else None for job_id in job_ids]

        return await self.db.write(run)

    async def renew_leases(self, owner: str, job_ids: Sequence[str], until: float) -> None:
        """Extend ``owner``'s leases on these jobs (a submit in progress keeps its rows)."""
        query = (
            update(jobs)
            .where(jobs.c.id.in_(list(job_ids)), jobs.c.lease_owner == owner)
            .values(lease_until=until)
        )
        await self.db.write(lambda conn: conn.execute(query))

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
        job = await self.db.write(_first(query))
        return None if job is None else self._remember(job)

    async def next_due_at(self) -> float | None:
        query = (
            select(jobs.c.next_poll_at)
            .where(jobs.c.phase.in_(POLLED_PHASES), jobs.c.next_poll_at.is_not(None))
            .order_by(jobs.c.next_poll_at)
            .limit(1)
        )

        def run(conn: Connection) -> float | None:
            value = conn.execute(query).scalar()
            return None if value is None else float(value)

        return await self.db.read(run)

    async def live_jobs(self) -> list[LiveJob]:
        """Every job that has not ended (``LIVE_PHASES``; not ``overdue``: its slots were
        freed when it failed at its deadline)."""
        columns = (jobs.c.deployment_id, jobs.c.owner_key_id, jobs.c.id, jobs.c.end_user)
        query = select(*columns).where(jobs.c.phase.in_(LIVE_PHASES))

        def run(conn: Connection) -> list[LiveJob]:
            return [LiveJob(row[0], row[1], row[2], row[3]) for row in conn.execute(query)]

        return await self.db.read(run)

    async def release_all_leases(self) -> None:
        """Forget every lease (start-up of the sole process that uses this database)."""

        def run(conn: Connection) -> None:
            conn.execute(update(jobs).values(lease_owner=None, lease_until=None))

        await self.db.write(run)
        if self.cache is not None:
            self.cache = JobCache(self.cache.capacity, self.cache.finished_capacity)


# Statements with bound parameters compile once (SQLAlchemy caches them by shape); building
# them with literal values each time cost ~0.2 ms more per statement (bench/README.md).
_INSERT = insert(jobs)
_SET = update(jobs).where(jobs.c.id == bindparam("_id"))
_SET_CAS = _SET.where(jobs.c.phase.in_(bindparam("_phases", expanding=True)))
_DUE = (
    select(jobs.c.seq)
    .where(
        jobs.c.phase.in_(POLLED_PHASES),
        jobs.c.next_poll_at <= bindparam("_now"),
        or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < bindparam("_now")),
    )
    .order_by(jobs.c.next_poll_at)
    .limit(bindparam("_limit"))
    .with_for_update(skip_locked=True)  # PostgreSQL: replicas never claim the same row
)
_CLAIM = (
    update(jobs)
    .where(jobs.c.seq.in_(_DUE.scalar_subquery()))
    .values(lease_owner=bindparam("_owner"), lease_until=bindparam("_until"))
)
_CLAIM_IDS = _CLAIM.returning(jobs.c.id)
_UPDATE = _SET.returning(*jobs.c)
_UPDATE_CAS = _SET_CAS.returning(*jobs.c)
_EMPTY_ROW: dict[str, Any] = {name: None for name in _FIELDS}


def _set(
    conn: Connection, params: Mapping[str, Any], values: Mapping[str, Any], known: Job | None
) -> Job | None:
    """One update (a CAS if ``params`` has ``_phases``): the new row, ``None`` if it lost."""
    cas = "_phases" in params
    if known is not None:  # sole writer: the cached row plus ``values`` is the new row
        changed = conn.execute(_SET_CAS if cas else _SET, params).rowcount
        return dataclasses.replace(known, **values) if changed else None
    row = conn.execute(_UPDATE_CAS if cas else _UPDATE, params).mappings().first()
    return None if row is None else Job.from_row(row)


def _set_all(
    conn: Connection,
    changes: Sequence[tuple[str, Mapping[str, Any], str]],
    known: Sequence[Job | None],
) -> list[Job | None] | None:
    """Sole writer, every row cached: the updates as one ``executemany`` per set of columns,
    each still a compare-and-set on its phase. ``None`` where this does not apply (a row
    not cached, ``phase`` or a JSON column set).

    The statement is plain SQL on the driver's cursor: columns of scalars need none of
    SQLAlchemy's per-row parameter processing, which cost as much as SQLite's own work
    (bench/poll10k.py: ~0.1 ms per poll at 500 polls/s)."""
    rows = [k for k in known if k is not None]
    if conn.dialect.name != "sqlite" or len(rows) != len(changes):
        return None
    if any(not _SCALARS.issuperset(values) for _i, values, _p in changes):
        return None
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for job_id, values, phase in changes:
        groups.setdefault(tuple(values), []).append((*values.values(), job_id, phase))
    matched = 0
    for names, group in groups.items():
        sql = f"UPDATE jobs SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ? AND phase = ?"
        matched += conn.exec_driver_sql(sql, group).rowcount
    if matched == len(changes):
        return [_with(k, v) for k, (_i, v, _p) in zip(rows, changes, strict=True)]
    # some job left its phase meanwhile (deleted while polled): those were not changed
    ids = [job_id for job_id, _v, _p in changes]
    query = select(jobs.c.id, jobs.c.phase).where(jobs.c.id.in_(ids))
    phases = {job_id: phase for job_id, phase in conn.execute(query)}
    return [
        _with(k, v) if phases.get(i) == p else None
        for k, (i, v, p) in zip(rows, changes, strict=True)
    ]


_SCALARS = frozenset(c.name for c in jobs.c if c.name != "phase" and not isinstance(c.type, JSON))
"""Columns ``_set_all`` writes as they are (the driver binds str, int, float and None)."""


def _copier() -> Callable[[Job, Mapping[str, Any]], Job]:
    """``_with``: one straight line of slot stores, generated once as ``dataclasses`` makes
    ``__init__`` (2.8 us a copy; a loop over the slots took 7 us, ``replace`` 10.6 us)."""
    lines = ["def _with(job, values):", "    new = _new(Job)", "    get = values.get"]
    lines += [f"    _set{i}(new, get({name!r}, job.{name}))" for i, name in enumerate(_FIELDS)]
    space: dict[str, Any] = {"_new": object.__new__, "Job": Job}
    space |= {f"_set{i}": getattr(Job, name).__set__ for i, name in enumerate(_FIELDS)}
    exec("\n".join([*lines, "    return new"]), space)  # the names are our own fields
    copier: Callable[[Job, Mapping[str, Any]], Job] = space["_with"]
    return copier


_with = _copier()
"""``dataclasses.replace(job, **values)`` without ``__init__``: a copy of the row with
``values`` set (claims and poll results do it for every job they touch)."""


def _first(query: Executable) -> Callable[[Connection], Job | None]:
    def run(conn: Connection) -> Job | None:
        row = conn.execute(query).mappings().first()
        return None if row is None else Job.from_row(row)

    return run


def _all(query: Executable) -> Callable[[Connection], list[Job]]:
    return _all_with(query, None)


def _all_with(
    query: Executable, params: Mapping[str, Any] | None
) -> Callable[[Connection], list[Job]]:
    def run(conn: Connection) -> list[Job]:
        return [Job.from_row(row) for row in conn.execute(query, params).mappings().all()]

    return run


rows_of = _all
"""The jobs a ``select(jobs)`` statement finds (for queries built outside this module)."""
