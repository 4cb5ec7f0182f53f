"""Job deadlines: a job still running upstream past its deadline fails uncharged, and its
upstream task is then watched, rarely and for a bounded time, so that a late completion is
seen, priced and recorded for the operator — never charged to the client.

The deadline (``jobs.deadline_at``) is set when a deployment takes the job — its insert, or
the move of a failover (``jobs/create.row_values``) — from ``Deployment.job_deadline_s``, so
a restarted gateway enforces what was stored. The poller looks at a running job at its
deadline at the latest; if the upstream still has not finished, ``expire`` fails it through
``lifecycle.fail`` (the hold is released and ``video.failed`` queued there, exactly once),
asks the upstream to cancel where it can, and leaves the row in phase ``overdue``. ``watch``
then polls the task every ``settings.overdue_poll_s`` until it ends or
``settings.overdue_watch_s`` passed. A completion is recorded on the job's ``upstream``
record (``overdue``: outcome, list price), a ``job.late_completion`` log event and the
``vidgate_jobs_late_completions_total`` counter. The job stays failed for its client (who
was told so and refunded; charging then is the peers' "failed jobs still charged"), and the
late video is not archived.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from vidgate.errors import GatewayError, NotFound, TaskFailed
from vidgate.jobs import lifecycle, money
from vidgate.jobs.store import Job, JobStore
from vidgate.observe import metrics
from vidgate.providers.base import Provider, UpstreamClient
from vidgate.settings import GatewaySettings
from vidgate.values import Deployment, UpstreamState

log = logging.getLogger("vidgate.deadlines")
CODE = "timeout"
"""The failed job's error code (what ``job_timeout_s`` failures always said)."""


def deadline_values(deployment: Deployment, now: float) -> dict[str, Any]:
    """The columns that give a job taken by ``deployment`` now its deadline."""
    return {
        "deadline_at": now + deployment.job_deadline_s,
        "upstream": {"deadline_s": deployment.job_deadline_s},
    }


def deadline_of(job: Job, deployment: Deployment) -> float:
    """When ``job`` must have finished upstream (rows older than deadlines: from creation)."""
    if job.deadline_at is not None:
        return job.deadline_at
    return job.created_at + deployment.job_deadline_s


def message(job: Job, deployment: Deployment) -> str:
    """What the client is told: the deadline, where it applied, and that nothing is owed."""
    seconds = (job.upstream or {}).get("deadline_s") or deployment.job_deadline_s
    return (
        f"The job did not finish within its deadline of {float(seconds):g} s for "
        f"{deployment.provider}/{deployment.model}; it was not charged."
    )


class Deadlines:
    """Fails jobs at their deadline and follows their upstream tasks afterwards."""

    def __init__(
        self, store: JobStore, providers: Mapping[str, Provider], settings: GatewaySettings
    ) -> None:
        self.store = store
        self.providers = providers
        self.settings = settings

    async def expire(self, job: Job, deployment: Deployment, client: UpstreamClient) -> None:
        """Fail ``job`` past its deadline, uncharged; cancel and watch its upstream task."""
        now = time.time()
        watched = job.upstream_id is not None and self.settings.overdue_watch_s > 0
        overdue = {"failed_at": now, "watch_until": now + self.settings.overdue_watch_s}
        extra: dict[str, Any] = {"upstream": {**(job.upstream or {}), "overdue": overdue}}
        if watched:
            extra.update(phase="overdue", next_poll_at=now + self.settings.overdue_poll_s)
        ended = await lifecycle.fail(
            self.store, job.id, CODE, message(job, deployment), extra=extra
        )
        if ended is None:
            return  # another writer ended it first
        metrics.JOBS_PAST_DEADLINE.labels(job.provider, job.deployment_id).inc()
        log.info(
            "job failed at its deadline",
            extra={"event": "job.deadline", "job_id": job.id, "deployment_id": deployment.id},
        )
        if job.upstream_id:
            with contextlib.suppress(GatewayError):  # a cancel where the upstream has one
                await client.delete(job.upstream_id)

    async def watch(
        self, job: Job, deployment: Deployment | None, client: UpstreamClient | None
    ) -> None:
        """Look once at the upstream task of a job failed at its deadline."""
        overdue = (job.upstream or {}).get("overdue") or {}
        if deployment is None or client is None or not job.upstream_id:
            await self._stop(job, {"outcome": "unknown", "reason": "deployment removed"})
            return
        if time.time() >= float(overdue.get("watch_until") or 0):
            await self._stop(job, {"outcome": "unknown", "reason": "stopped watching"})
            return
        try:
            state = await client.poll(job.upstream_id)
        except TaskFailed as exc:
            await self._stop(job, {"outcome": "failed", "code": exc.code})
            return
        except NotFound:
            await self._stop(job, {"outcome": "gone"})
            return
        except GatewayError:
            await self._again(job, None)
            return
        await self._seen(job, deployment, state)

    async def _seen(self, job: Job, deployment: Deployment, state: UpstreamState) -> None:
        if state.status == "failed":
            await self._stop(job, {"outcome": "failed", "code": state.error_code})
        elif state.status == "completed":
            await self._late_completion(job, deployment, state)
        else:
            await self._again(job, state)

    async def _late_completion(
        self, job: Job, deployment: Deployment, state: UpstreamState
    ) -> None:
        now = time.time()
        cost = money.late_cost(job, deployment, self.providers, state.cost_units)
        after = now - (job.deadline_at or job.created_at)
        record = {"outcome": "completed", "completed_at": now, "cost_usd": cost}
        if await self._stop(job, record) is None:
            return  # another replica recorded it
        metrics.LATE_COMPLETIONS.labels(job.provider, job.deployment_id).inc()
        if cost:
            metrics.LATE_COMPLETION_COST.labels(job.provider, job.deployment_id).inc(cost)
        log.warning(
            "job completed upstream after it failed at its deadline; not charged",
            extra={
                "event": "job.late_completion",
                "job_id": job.id,
                "deployment_id": job.deployment_id,
                "cost_usd": cost,
                "after_deadline_s": round(after, 1),
            },
        )

    async def _again(self, job: Job, state: UpstreamState | None) -> None:
        """Not ended yet: look again in ``overdue_poll_s`` (under a new upstream id if the
        poll moved to a further step)."""
        now = time.time()
        values: dict[str, Any] = {
            "next_poll_at": now + self.settings.overdue_poll_s,
            "last_polled_at": now,
            "lease_owner": None,
            "lease_until": None,
        }
        if state is not None and state.upstream_id and state.upstream_id != job.upstream_id:
            values["upstream_id"] = state.upstream_id
        await self.store.update(job.id, values, phase="overdue")

    async def _stop(self, job: Job, outcome: Mapping[str, Any]) -> Job | None:
        """Stop watching, with what was seen; ``None`` if another writer stopped first."""
        upstream = dict(job.upstream or {})
        upstream["overdue"] = {**(upstream.get("overdue") or {}), **outcome}
        values = {
            "phase": "done",
            "next_poll_at": None,
            "lease_owner": None,
            "lease_until": None,
            "upstream": upstream,
        }
        return await self.store.update(job.id, values, phase="overdue")
