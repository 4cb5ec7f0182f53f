"""The poller: claims due jobs under a lease, polls them concurrently, archives results.

Each job carries its own ``next_poll_at``; the loop sleeps until the earliest one (or until
woken by a new job) instead of sweeping on a fixed period, and polls under a per-deployment
concurrency limit. Unknown upstream statuses, transport errors and unparsable bodies never
fail a job: they count as poll failures with backoff, bounded by the job's deadline and
``max_poll_failures``. Retrieve calls use ``refresh`` for a single-flight read-through. A
running job is looked at by its deadline at the latest; one the upstream has not finished by
then fails uncharged, and its task is watched for a late completion (``jobs/deadlines.py``).

At 10,000 running jobs per process (issue 18; ``bench/poll10k.py``) the costs that grow with
polls are kept per batch, not per poll: the loop claims at most every ``MIN_SLEEP_S`` (one
statement for every job due by then), at most ``max_inflight_polls`` jobs are claimed and
worked on at once (the rest wait unleased in the database, so a burst of due jobs after a
restart cannot starve the API), and the results of polls that finish together are written
in one transaction (``Batched``), as are the lease confirmations of replicas. Due times
are spread: a job's first poll and any poll that came late (after a restart, a stall) set
its next one up to ``SPREAD`` of the interval later, at random, so jobs created or
recovered in one burst do not stay bunched. An upstream's poll hint is honoured down to
``poll_hint_floor_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Generic, TypeVar

from vidgate.errors import ContentExpired, GatewayError, NotFound, RateLimited, TaskFailed
from vidgate.jobs import lifecycle
from vidgate.jobs.archive import Archiver
from vidgate.jobs.deadlines import Deadlines, deadline_of
from vidgate.jobs.store import Job, JobStore
from vidgate.media.errors import MediaUnavailable
from vidgate.observe import metrics
from vidgate.providers.base import Provider, UpstreamClient
from vidgate.routing.live import LiveDeployments
from vidgate.settings import GatewaySettings
from vidgate.values import Deployment, UpstreamState

log = logging.getLogger("vidgate.poller")
T = TypeVar("T")
R = TypeVar("R")
MAX_SLEEP_S = 1.0
MIN_SLEEP_S = 0.05
"""The loop claims at most this often unless woken: a job is polled up to this late, and in
exchange every job due by then is claimed in one statement (at 1,000 polls/s, ~50 a claim
instead of one or two)."""
MAX_BACKOFF_S = 60.0
SPREAD = 0.25
"""A first or late poll sets the next one up to this share of the interval later (at
random): never sooner than the interval or a hint asked for, at most 1.25x it."""
LATE_SHARE = 0.1
"""A poll this share of its interval (or ``MIN_SLEEP_S``, if more) after its due time came
late: the job waited in a backlog, and its next poll is spread."""
MIN_STEP_S = 0.05
"""The floor for a hint that comes with a new upstream id (an adapter's next step of a
multi-step fetch, not the same task polled again)."""
BATCH = 500
"""Poll results (or lease confirmations) written in one transaction at most."""


class Poller:
    """Drives every running job of this process to a terminal state."""

    def __init__(
        self,
        store: JobStore,
        live: LiveDeployments,
        providers: Mapping[str, Provider],
        archiver: Archiver,
        settings: GatewaySettings,
    ) -> None:
        self.store = store
        self.live = live
        self.providers = providers
        self.archiver = archiver
        self.settings = settings
        self.deadlines = Deadlines(store, providers, settings)
        self.owner = f"{socket.gethostname()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._sleep_until = 0.0
        self._limits: dict[str, tuple[int, asyncio.Semaphore]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._archives: set[asyncio.Task[None]] = set()
        self._archiving: set[str] = set()
        """Jobs archiving in tasks of their own (``_archive_later``), leases renewed too."""
        self._held: set[str] = set()
        """Jobs whose lease this process holds while it works on them."""
        self.confirm_leases = not store.sole_writer
        """Replicas: check the lease is still ours right before each upstream poll."""
        self.writes: Batched[tuple[str, Mapping[str, Any], str], Job | None] = Batched(
            store.update_many
        )
        """Poll results, written together with the others that finish meanwhile."""
        self.confirms: Batched[str, float | None] = Batched(self._confirm)
        self._room = asyncio.Event()
        """Set when a claimed job's work ends (room under ``max_inflight_polls``)."""

    def wake(self) -> None:
        """A job became due now: look again without waiting."""
        self._wake.set()

    def due_at(self, when: float) -> None:
        """A job becomes due at ``when``: wake earlier than planned only if that is sooner."""
        if when < self._sleep_until:
            self._wake.set()

    async def run(self) -> None:
        """Loop until cancelled."""
        while True:
            room = self.settings.max_inflight_polls - len(self._tasks)
            if room <= 0:  # as many jobs in work as allowed: claim more when one ends
                self._room.clear()
                await self._room.wait()
                continue
            limit = min(self.settings.poll_batch, room)
            try:
                claimed = await self.store.claim_due(
                    self.owner, time.time(), self.settings.poll_lease_s, limit
                )
            except Exception:
                log.exception("claiming due jobs failed")
                claimed = []
            for job in claimed:
                self._held.add(job.id)  # from the claim on: its lease is renewed
                self._spawn(self.process(job))
            if len(claimed) < limit:
                await self._sleep()

    async def _sleep(self) -> None:
        next_due = await self.store.next_due_at()
        delay = MAX_SLEEP_S if next_due is None else next_due - time.time()
        delay = min(max(delay, MIN_SLEEP_S), MAX_SLEEP_S)
        self._sleep_until = time.time() + delay
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
        self._sleep_until = 0.0

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.set()

    async def refresh(self, job_id: str, wait_s: float) -> None:
        """Poll one stale job now, at most once at a time per job; wait up to ``wait_s``."""
        task = self._refreshing.get(job_id)
        if task is None:
            task = asyncio.ensure_future(self._refresh(job_id))
            self._refreshing[job_id] = task
            task.add_done_callback(lambda _t: self._refreshing.pop(job_id, None))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), wait_s)

    async def _refresh(self, job_id: str) -> None:
        job = await self.store.claim_one(
            job_id, self.owner, time.time(), self.settings.poll_lease_s
        )
        if job is not None:
            await self.process(job)

    async def process(self, job: Job) -> None:
        """Poll (or archive) one leased job and record what was seen."""
        self._held.add(job.id)
        try:
            await self._process(job)
        finally:
            self._held.discard(job.id)

    async def keep_leases(self) -> None:
        """Until cancelled: renew the leases of the jobs this process is working on, so a
        slow poll or a long archive keeps its job, and only a dead replica's leases lapse."""
        lease = self.settings.poll_lease_s
        while True:
            await asyncio.sleep(lease / 3)
            working = self._held | self._archiving
            if not working:
                continue
            try:
                await self.store.renew_leases(self.owner, list(working), time.time() + lease)
            except Exception:
                log.exception("renewing poll leases failed")

    async def _process(self, job: Job) -> None:
        if job.next_poll_at is not None:
            metrics.POLL_LAG.observe(max(0.0, time.time() - job.next_poll_at))
        deployment = self.live.deployment(job.deployment_id, job.created_at)
        client = self.live.client(job.deployment_id, job.created_at)
        if job.phase == "overdue":  # failed at its deadline; its upstream task is watched
            await self._watch(job, deployment, client)
            return
        if deployment is None or client is None:
            await lifecycle.fail(
                self.store,
                job.id,
                "deployment_removed",
                f"The deployment that created this job ({job.deployment_id}) is no longer "
                "configured; the job cannot be followed.",
            )
            return
        try:
            await self._step(job, deployment, client)
        except Exception as exc:  # a bug must not stall the job: back off and retry
            log.exception("polling %s failed", job.id)
            await self._poll_failed(job, exc, deployment, client)

    async def _watch(
        self, job: Job, deployment: Deployment | None, client: UpstreamClient | None
    ) -> None:
        if self.confirm_leases and not await self._still_ours(job):
            return
        try:
            if deployment is None:
                await self.deadlines.watch(job, None, None)
                return
            async with self._limit(deployment):
                await self.deadlines.watch(job, deployment, client)
        except Exception:  # a bug must not stall the job: look again later
            log.exception("watching overdue %s failed", job.id)
            await self.store.update(
                job.id,
                {"next_poll_at": time.time() + self.settings.overdue_poll_s},
                phase="overdue",
            )

    def _limit(self, deployment: Deployment) -> asyncio.Semaphore:
        """The deployment's poll concurrency limit (a new one if a reload changed it)."""
        size = deployment.max_concurrent_polls
        known = self._limits.get(deployment.id)
        if known is None or known[0] != size:
            known = self._limits[deployment.id] = (size, asyncio.Semaphore(size))
        return known[1]

    async def _step(self, job: Job, deployment: Deployment, client: UpstreamClient) -> None:
        """Poll under the deployment's slot; record what was seen after leaving it (the
        wait for a batched write is not the upstream's time: holding the slot through it
        cut one PostgreSQL process to ~80 polls/s at 16 slots, bench/poll10k.py)."""
        async with self._limit(deployment):
            if self.confirm_leases and not await self._still_ours(job):
                return  # the lease lapsed: another replica may have the job now
            if job.phase == "archiving":  # finished upstream in time: no deadline any more
                self._archive_later(job, client)
                return
            try:
                seen: UpstreamState | GatewayError = await client.poll(job.upstream_id or "")
            except GatewayError as exc:
                seen = exc
        if isinstance(seen, TaskFailed):  # the upstream's verdict, not a failed poll
            await lifecycle.fail(self.store, job.id, seen.code or "upstream_failed", seen.message)
        elif isinstance(seen, GatewayError):
            await self._poll_failed(job, seen, deployment, client)
        else:
            await self._apply(job, deployment, client, seen)

    async def _still_ours(self, job: Job) -> bool:
        """Renew the lease right before polling, with at least half of it left to poll in
        (together with the other jobs confirming meanwhile: one statement for all)."""
        until = await self.confirms(job.id)
        return until is not None and time.time() < until - self.settings.poll_lease_s / 2

    async def _confirm(self, job_ids: list[str]) -> list[float | None]:
        return await self.store.confirm_leases(job_ids, self.owner, self.settings.poll_lease_s)

    async def _apply(
        self, job: Job, deployment: Deployment, client: UpstreamClient, state: UpstreamState
    ) -> None:
        now = time.time()
        if state.status == "failed":
            await lifecycle.fail(
                self.store,
                job.id,
                state.error_code or "upstream_failed",
                state.error_message or f"The upstream reported the job as {state.raw_status}.",
            )
            return
        if state.status == "completed":
            archiving = await self.store.update(
                job.id,
                {
                    "phase": "archiving",
                    "status": "in_progress",
                    "progress": 99,
                    "last_polled_at": now,
                    "updated_at": now,
                    "poll_failures": 0,
                    "lease_until": now + self.settings.poll_lease_s,  # renewed while it runs
                    **_moved(job, state),
                    "upstream": {
                        **(job.upstream or {}),
                        "results": dict(state.results),
                        "cost_units": state.cost_units,
                    },
                },
                phase="running",
            )
            if archiving is not None:
                self._archive_later(archiving, client)
            return
        deadline = deadline_of(job, deployment)
        if now >= deadline:  # looked at by its deadline, and still not finished
            await self.deadlines.expire(job, deployment, client)
            return
        interval = self._spread(job, now, self._interval(job, deployment, state))
        await self.writes(
            (
                job.id,
                {
                    "status": state.status,
                    "progress": max(job.progress, min(state.progress, 99)),
                    "last_polled_at": now,
                    "updated_at": now,
                    "poll_failures": 0,
                    "next_poll_at": min(now + interval, deadline),
                    "lease_owner": None,
                    "lease_until": None,
                    **_moved(job, state),
                },
                "running",
            )
        )

    def _interval(self, job: Job, deployment: Deployment, state: UpstreamState) -> float:
        """The wait before the next poll: the upstream's hint down to the floor (a new
        upstream id is a next step, not the same task again), else the deployment's."""
        if state.poll_after_s is None:
            return deployment.poll_interval_s
        floor = MIN_STEP_S if _moved(job, state) else self.settings.poll_hint_floor_s
        return max(state.poll_after_s, floor)

    @staticmethod
    def _spread(job: Job, now: float, interval: float) -> float:
        """``interval``, up to ``SPREAD`` of it longer after a first or a late poll."""
        first = job.last_polled_at is not None and job.last_polled_at == job.started_at
        due = job.next_poll_at
        late = due is not None and now - due > max(LATE_SHARE * interval, MIN_SLEEP_S)
        if first or late:
            return interval * (1.0 + SPREAD * random.random())
        return interval

    def _archive_later(self, job: Job, client: UpstreamClient) -> None:
        """Archive ``job`` in a task of its own: waiting for one of the archiver's slots
        holds no deployment poll slot and does not count against ``max_inflight_polls`` (a
        backlog of finished jobs would otherwise stop every poll); its lease is renewed
        until the archive ends."""
        self._archiving.add(job.id)
        task = asyncio.ensure_future(self._archive(job, client))
        self._archives.add(task)

        def done(_task: asyncio.Task[None]) -> None:
            self._archives.discard(task)
            self._archiving.discard(job.id)
            failed = None if task.cancelled() else task.exception()
            if failed is not None:  # not even rescheduled (the database): its lease lapses
                log.error("archiving %s failed", job.id, exc_info=failed)

        task.add_done_callback(done)

    async def _archive(self, job: Job, client: UpstreamClient) -> None:
        """Archive ``job``; a failure backs off like a failed poll. A failure of the moment
        (the media worker lost or out of memory, an ``OSError`` of the work room or the
        blob store: nothing the upstream said) is logged and never fails the job; any other
        error (a video FFmpeg cannot read under ``previews: at_archive``, a bug) counts
        toward ``max_poll_failures`` like a failed poll, so the job ends instead of being
        retried for ever while it holds its budget and slots."""
        try:
            await self.archiver.archive(job, client, self._previews(job))
        except GatewayError as exc:
            await self._poll_failed(job, exc, None, client)
        except Exception as exc:
            of_the_moment = isinstance(exc, MediaUnavailable | OSError)
            log.warning(
                "archiving %s failed (%d in a row), %s: %r",
                job.id,
                job.poll_failures + 1,
                "it is tried again later" if of_the_moment else "counted as a failed poll",
                exc,
                exc_info=job.poll_failures == 0,  # the traceback once, not at every try
            )
            await self._poll_failed(job, exc, None, client, give_up=not of_the_moment)

    def _previews(self, job: Job) -> frozenset[str]:
        provider = self.providers.get(job.provider)
        return provider.spec.upstream_previews if provider else frozenset()

    async def _poll_failed(
        self,
        job: Job,
        exc: BaseException,
        deployment: Deployment | None,
        client: UpstreamClient,
        *,
        give_up: bool = True,
    ) -> None:
        """Back off before the job's next poll (or archive); fail it after too many failed
        polls in a row unless ``give_up`` is false (a failure of the moment: only the
        backoff grows)."""
        now = time.time()
        deadline = None
        if job.phase == "running" and deployment is not None:
            deadline = deadline_of(job, deployment)
            if now >= deadline:  # it could not even be looked at by its deadline
                await self.deadlines.expire(job, deployment, client)
                return
        failures = job.poll_failures + 1
        if give_up and (
            failures >= self.settings.max_poll_failures
            or (isinstance(exc, NotFound) and failures >= 3)
        ):
            await lifecycle.fail(self.store, job.id, *_gave_up(exc, failures))
            return
        delay = min(MAX_BACKOFF_S, 0.5 * 2 ** min(failures, 10))
        if isinstance(exc, RateLimited) and exc.retry_after_s:
            delay = max(delay, exc.retry_after_s)
        due = now + delay if deadline is None else min(now + delay, deadline)
        await self.store.update(
            job.id,
            {
                "poll_failures": failures,
                "next_poll_at": due,
                "updated_at": now,
                "lease_owner": None,
                "lease_until": None,
            },
            phase=job.phase,
        )

    async def aclose(self) -> None:
        running = [*self._tasks, *self._archives, *self._refreshing.values()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await self.writes.aclose()
        await self.confirms.aclose()


class Batched(Generic[T, R]):
    """Calls queued while a batch runs go out together in the next one.

    One database transaction per poll was most of a poll's database cost (a commit each,
    and on SQLite a hop to the writer thread); calls that arrive while a batch is running
    wait for it and run as one batch after it. Nothing waits that would not have waited
    anyway: the first call runs at once. ``run`` answers each item in order."""

    def __init__(self, run: Callable[[list[T]], Awaitable[Sequence[R]]]) -> None:
        self._run = run
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch = self._queue[:BATCH]
                del self._queue[:BATCH]
                try:
                    answers = await self._run([item for item, _ in batch])
                except asyncio.CancelledError:  # closing: nobody waits for these any more
                    for _, future in batch + self._queue:
                        future.cancel()
                    raise
                except Exception as exc:
                    await self._one_by_one(batch, exc)
                    continue
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
        finally:
            self._flushing = None

    async def _one_by_one(self, batch: list[tuple[T, asyncio.Future[R]]], exc: Exception) -> None:
        """A batch failed: run its items alone, so only the item that fails sees a failure
        (one row the database refuses must not count as a failed poll for its neighbours)."""
        if len(batch) == 1:
            if not batch[0][1].done():
                batch[0][1].set_exception(exc)
            return
        for item, future in batch:
            try:
                (answer,) = await self._run([item])
            except Exception as alone:
                if not future.done():
                    future.set_exception(alone)
            else:
                if not future.done():
                    future.set_result(answer)

    async def aclose(self) -> None:
        task = self._flushing
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _gave_up(exc: BaseException, failures: int) -> tuple[str, str]:
    """The code and message a job fails with once its polls or downloads keep failing."""
    if isinstance(exc, ContentExpired):  # said as is: the result is gone, not unreachable
        return exc.code, exc.message
    message = exc.message if isinstance(exc, GatewayError) else "an internal error"
    return (
        "upstream_unreachable",
        f"Gave up following the job after {failures} failed polls: {message}",
    )


def _moved(job: Job, state: UpstreamState) -> dict[str, str]:
    """The new upstream id, when a poll answered with another one (a multi-step fetch)."""
    if state.upstream_id and state.upstream_id != job.upstream_id:
        return {"upstream_id": state.upstream_id}
    return {}
