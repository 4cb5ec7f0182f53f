"""Submits in progress: their leases, and the recovery of submits nobody finished.

A job's row is inserted in ``submitting``, leased to this process, before its first upstream
create (``jobs/create.py``). ``Submits`` knows which submits this process is running; the
heartbeat (``jobs/heartbeat.py``) renews their leases from a thread of its own, so a slow
submit keeps its row however busy the event loop is. Every lease, ``maintain`` recovers the
rows in ``submitting`` that nobody is on any more — a dead replica's, or this process's own
before a crash (at start-up of the sole process, all of them): deployments whose upstream
honours ``Idempotency-Key`` are asked again (the upstream returns the same task), the rest
fail with ``submit_interrupted``, uncharged, rather than risk a second paid task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from vidgate.errors import GatewayError
from vidgate.jobs import lifecycle
from vidgate.jobs.create import Creator
from vidgate.jobs.heartbeat import Heartbeat, stale_after
from vidgate.jobs.store import Job, JobStore
from vidgate.request import resolved_from_json
from vidgate.routing.limits import Counters, LimitCounters
from vidgate.routing.live import LiveDeployments
from vidgate.settings import GatewaySettings
from vidgate.values import Deployment, ResolvedRequest

log = logging.getLogger("vidgate.jobs")


class Submits:
    """This process's submits: which are running, their leases, and recovery."""

    def __init__(
        self,
        store: JobStore,
        live: LiveDeployments,
        creator: Creator,
        settings: GatewaySettings,
        instance: str,
        slot_counters: Callable[[], Sequence[Counters]],
    ) -> None:
        self.store = store
        self.live = live
        self.creator = creator
        self.settings = settings
        self.instance = instance
        """This process, as the holder of leases on job rows."""
        self.slot_counters = slot_counters
        """The per-key and per-deployment slot counters, read when used (scale-out wiring
        replaces them after start)."""
        self._running: set[str] = set()
        """Jobs this process is submitting: the heartbeat renews their leases until done."""

    @contextmanager
    def running(self, job_id: str) -> Iterator[None]:
        """While the block runs, this process is submitting ``job_id`` (its lease is renewed
        and recovery leaves it alone)."""
        self._running.add(job_id)
        try:
            yield
        finally:
            self._running.discard(job_id)

    def in_progress(self) -> tuple[str, ...]:
        """The jobs this process is submitting now (their leases are renewed)."""
        return tuple(self._running)

    async def maintain(self) -> None:
        """Until cancelled: beat and renew this process's submit leases from a thread of
        their own (``jobs/heartbeat.py``), and every lease recover submits that nobody is
        submitting any more — a dead replica's, or this one's before a crash."""
        lease = self.settings.submit_lease_s
        heartbeat = Heartbeat(self.store.db.url, self.instance, lease, self.in_progress)
        heartbeat.start()
        try:
            while True:
                await asyncio.sleep(lease)
                try:
                    await self.recover()
                    await self._forget_ended_slots(time.time() - lease)
                except Exception:
                    log.exception("recovering submits failed")
        finally:
            await asyncio.to_thread(heartbeat.stop)

    async def _forget_ended_slots(self, taken_before: float) -> None:
        """Replicas without Redis: free the local slots of jobs other replicas ended."""
        counters = self.slot_counters()
        if self.store.sole_writer or not any(isinstance(c, LimitCounters) for c in counters):
            return
        live = {job.job_id for job in await self.store.live_jobs()}
        for local in counters:
            local.retain(live, taken_before)

    async def recover(self) -> int:
        """Finish submits that nobody is submitting any more: rows in ``submitting`` whose
        lease lapsed and whose owner is silent (or is this process, no longer on it); at
        start-up of the sole process, all of them. Returns how many."""
        count = 0
        while True:
            lease, now = self.settings.submit_lease_s, time.time()
            stalled = await self.store.claim_stalled_submits(
                self.instance,
                now,
                lease,
                busy=self.in_progress(),
                silent_since=now - stale_after(lease),
            )
            if not stalled:
                return count
            count += len(stalled)
            for job, held_by in stalled:
                with self.running(job.id):
                    await self._recover_one(job, held_by)

    async def _recover_one(self, job: Job, held_by: str | None) -> None:
        deployment = self.live.deployment(job.deployment_id, job.created_at)
        if deployment is None:
            await lifecycle.fail(
                self.store,
                job.id,
                "deployment_removed",
                "The deployment of this job is no longer configured.",
            )
            return
        if not deployment.idempotent_submit:
            await lifecycle.fail(
                self.store,
                job.id,
                "submit_interrupted",
                self._interrupted(held_by)
                + " The upstream cannot be asked safely again; the job was not charged. "
                "Please retry.",
            )
            return
        try:
            await self._resubmit(job, deployment, resolved_from_json(job.request))
        except GatewayError as exc:
            log.warning("recovering %s failed: %s", job.id, exc.code)

    async def _resubmit(self, job: Job, deployment: Deployment, resolved: ResolvedRequest) -> Job:
        """Submit a recovered job once more, to the deployment it was being submitted to."""
        client = self.live.client(deployment.id, job.created_at)
        assert client is not None
        try:
            state = await client.submit(resolved, idempotency_key=job.id)
        except GatewayError as exc:
            await lifecycle.fail(
                self.store, job.id, exc.code, exc.message, extra={"deleted_at": time.time()}
            )
            raise
        return await self.creator.record_submitted(job, deployment, state)

    def _interrupted(self, held_by: str | None) -> str:
        """What is known about a submit nobody finished, from who held its lease."""
        if held_by is None:  # leases are cleared at start-up of the sole process
            return "The gateway stopped while submitting this job."
        if held_by == self.instance:
            return "This job's submit was interrupted before the upstream's answer was recorded."
        return (
            "The gateway replica that was submitting this job stopped responding before "
            "the upstream's answer was recorded."
        )
