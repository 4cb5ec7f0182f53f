"""Creating a job: submit it to its placements with failover (the attempt loop).

The row is inserted before the first upstream call and always names the deployment being
tried, so a crash mid-submit is recovered on the right upstream. Retryable errors (429, 5xx,
timeouts, connection errors) move on, after a short backoff: round the group's deployments
in strategy order, then round them again — up to ``num_retries`` more attempts — then through
the fallback groups that can serve the request's parameters. A second try of a deployment is
what gets a request through an upstream that fails a share of its creates at random; a
deployment that answered 429 is not asked again by this request (its ``Retry-After`` cools it
for every request instead). Anything else ends the job at once. When every deployment left
is cooling down (its breaker open), the request tries them anyway, the one whose cooldown
ends first leading, rather than refuse the client: the breaker keeps traffic off a failing
deployment while others can take it, it must not turn a partial outage into a total one.

One client request never leaves two paid upstream jobs: every attempt carries the job id as
its idempotency key, and a create whose outcome is unknown (sent, never answered) is only
retried on the same deployment when that upstream deduplicates by key; otherwise the job
fails there (``router.retry_unknown_outcome`` opts out of this).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from vidgate.errors import (
    GatewayError,
    InsufficientQuota,
    NotFound,
    RateLimited,
    client_text,
)
from vidgate.jobs import lifecycle, money
from vidgate.jobs.deadlines import deadline_values
from vidgate.jobs.placements import with_skipped
from vidgate.jobs.poller import Poller
from vidgate.jobs.store import DuplicateIdempotencyKey, Job, JobStore
from vidgate.observe.logs import info_fields
from vidgate.request import resolved_to_json
from vidgate.routing.imagefetch import one_fetch_per_url
from vidgate.routing.router import Placement, Router
from vidgate.values import Deployment, UpstreamState

log = logging.getLogger("vidgate.jobs")

UNKNOWN_OUTCOME = (
    " It may have started the video; vidgate did not retry it elsewhere, so you are not "
    "billed twice. The job was not charged."
)


ACCOUNT_CODES = frozenset({"upstream_insufficient_credits"})
"""Retryable on another deployment, pointless on the same one within a request."""


@dataclasses.dataclass
class Plan:
    """One create's routing: what is pinned, and what was tried."""

    job_id: str
    pinned: bool
    attempts: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    job: Job | None = None
    last_error: GatewayError | None = None
    wait_s: float | None = None
    """The shortest wait a skipped (busy or cooling) deployment asked for."""
    unresolved: Deployment | None = None
    """A deployment whose last create may have started a job (outcome unknown)."""
    stop: bool = False
    """No further attempt is allowed (a non-retryable error, or an unsafe unknown outcome)."""
    tries: Counter[str] = dataclasses.field(default_factory=Counter)
    """Attempts per deployment id: the least tried goes next."""
    done_with: set[str] = dataclasses.field(default_factory=set)
    """Deployments this request does not ask again (they answered 429)."""
    cooling: dict[str, Placement] = dataclasses.field(default_factory=dict)
    """Placements skipped only for their open breaker: the last resort."""
    skipped: list[str] = dataclasses.field(default_factory=list)
    """Fallback groups passed over and why (``Groups.skipped``), told in the final error."""

    def waited(self, seconds: float) -> None:
        self.wait_s = seconds if self.wait_s is None else min(self.wait_s, seconds)


Insert = Callable[[Placement], Awaitable[tuple[Job, bool]]]
"""Inserts the row for the first attempt: the row, and ``False`` if an idempotency race
was lost (the winner's row is returned as is)."""


class Creator:
    """Runs creates (and remixes, edits, extensions) through the router: the attempts over
    the placements ``jobs/placements.py`` yields, until one upstream accepts the job."""

    def __init__(self, store: JobStore, router: Router, poller: Poller) -> None:
        self.store = store
        self.router = router
        self.poller = poller

    async def run(
        self,
        plan: Plan,
        groups: AsyncIterator[list[Placement]],
        insert: Insert,
    ) -> Job:
        """Try the groups' placements until one upstream accepts the job; if every deployment
        left is cooling, try those rather than refuse. An image URL is fetched once for all
        the attempts."""
        with one_fetch_per_url():
            return await self._run(plan, groups, insert)

    async def _run(self, plan: Plan, groups: AsyncIterator[list[Placement]], insert: Insert) -> Job:
        budget = self.router.settings.num_retries + 1
        async for placements in groups:
            done = await self._group_attempts(plan, placements, insert, budget)
            if done is not None:
                return done
            if plan.stop or plan.unresolved is not None:
                return await self._give_up(plan)  # a job may exist upstream: no second one
        budget -= len(plan.attempts)
        if plan.cooling and budget > 0:
            last = sorted(plan.cooling.values(), key=self._cooldown_left)
            done = await self._group_attempts(plan, last, insert, budget, force=True)
            if done is not None:
                return done
        return await self._give_up(plan)

    def _cooldown_left(self, placement: Placement) -> float:
        return self.router.unavailable_for(placement.deployment)

    async def _group_attempts(
        self,
        plan: Plan,
        placements: list[Placement],
        insert: Insert,
        budget: int,
        force: bool = False,
    ) -> Job | None:
        """Up to ``budget`` attempts on ``placements``; ``force`` looks past open breakers."""
        refused: set[str] = set()
        while budget > 0:
            placement = self._pick(plan, placements, refused, force)
            if placement is None:
                return None
            forced = force or plan.unresolved is not None  # settling an unknown outcome
            taken = await self.router.take(
                placement.deployment, plan.job_id, pinned=plan.pinned, force=forced
            )
            if taken > 0:  # full after all (another request, or another replica, was first)
                plan.waited(taken)
                refused.add(placement.deployment.id)
                continue
            if plan.attempts:
                await asyncio.sleep(self._backoff_s(len(plan.attempts)))
            budget -= 1
            plan.tries[placement.deployment.id] += 1
            try:
                job = await self._attempt(plan, placement, insert)
            except BaseException:  # cancelled, or the database failed: free what it held
                self.router.abandoned(placement.deployment, plan.job_id)
                raise
            if job is not None or plan.stop:
                return job
        return None

    def _pick(
        self, plan: Plan, placements: list[Placement], refused: set[str], force: bool
    ) -> Placement | None:
        """The next deployment: the available one this request tried least, first in the
        given order among equals (so the group is gone round in strategy order)."""
        if plan.unresolved is not None:  # only the same upstream, with the same key, is safe
            unresolved = plan.unresolved.id
            if unresolved in refused:
                return None
            return next((p for p in placements if p.deployment.id == unresolved), None)
        ready = []
        for placement in placements:
            deployment = placement.deployment
            if deployment.id in refused or deployment.id in plan.done_with:
                continue
            wait = self.router.unavailable_for(deployment, pinned=plan.pinned, force=force)
            if wait > 0:
                plan.waited(wait)
                if not force and not self.router.unavailable_for(deployment, force=True):
                    plan.cooling.setdefault(deployment.id, placement)  # only its breaker is open
                continue
            ready.append(placement)
        return min(ready, key=lambda o: plan.tries[o.deployment.id], default=None)

    def _backoff_s(self, attempts: int) -> float:
        settings = self.router.settings
        delay: float = settings.retry_backoff_s * 2.0 ** (attempts - 1)
        return min(delay, settings.max_retry_wait_s)

    async def _attempt(self, plan: Plan, placement: Placement, insert: Insert) -> Job | None:
        """One upstream create; the job on success, ``None`` (and ``plan.last_error``) if not."""
        deployment = placement.deployment
        if plan.job is None:
            job, created = await insert(placement)
            if not created:  # an idempotent replay of another request's job
                self.router.job_ended(deployment.id, plan.job_id)
                return job
            plan.job = job
        elif plan.job.deployment_id != deployment.id:
            try:
                moved = await self._move(plan.job, placement, plan.attempts)
            except InsufficientQuota as exc:  # the new deployment costs more than is left
                self._failed(plan, placement, exc, time.time())
                return None
            if moved is None:  # deleted while we were retrying
                self.router.job_ended(deployment.id, plan.job_id)
                return await self._reload(plan.job_id)
            plan.job = moved
        started = time.time()
        try:
            client = self.router.live.client(deployment.id)
            if client is None:
                raise GatewayError("The deployment has no client.")
            state = await client.submit(placement.resolved, idempotency_key=plan.job_id)
        except GatewayError as exc:
            self._failed(plan, placement, exc, started)
            return None
        latency = time.time() - started
        self.router.succeeded(deployment, latency)
        plan.attempts.append(_attempt_row(deployment, started, latency, None))
        return await self.record_submitted(plan.job, deployment, state, plan.attempts)

    async def _move(
        self, job: Job, placement: Placement, attempts: list[dict[str, Any]]
    ) -> Job | None:
        """Point the row at the next deployment, re-holding the budget for its price."""
        values = {**_row_for(placement, attempts), "reserved_usd": self.estimate(placement)}
        hook = functools.partial(money.rehold, previous_usd=job.reserved_usd or 0.0)
        return await self.store.update_with(job.id, values, hook, phase="submitting")

    def _failed(
        self, plan: Plan, placement: Placement, error: GatewayError, started: float
    ) -> None:
        deployment = placement.deployment
        self.router.failed(deployment, plan.job_id, error)
        plan.attempts.append(_attempt_row(deployment, started, time.time() - started, error))
        plan.last_error = error
        if not error.retryable:
            plan.stop = True
        if isinstance(error, RateLimited):
            plan.done_with.add(deployment.id)  # it asked for less traffic, not another try
        elif error.code in ACCOUNT_CODES:
            plan.done_with.add(deployment.id)  # asking again cannot change the account's answer
        if not error.outcome_unknown or self.router.settings.retry_unknown_outcome:
            return  # an answer, but to this attempt: an earlier unknown outcome stays unknown
        plan.unresolved = deployment  # only the same key on the same upstream is safe now
        if not deployment.idempotent_submit:
            plan.stop = True

    async def _give_up(self, plan: Plan) -> Job:
        """No deployment took the job: fail it (hidden, so the key can retry) and raise."""
        error = plan.last_error
        if error is None:
            raise RateLimited(
                "Every deployment that can serve this request is busy or cooling down; "
                "please retry later.",
                code="deployments_busy",
                retry_after_s=plan.wait_s or 1.0,
            )
        if plan.unresolved is not None:
            error = type(error)(error.message + UNKNOWN_OUTCOME, param=error.param, code=error.code)
        error = with_skipped(error, plan.skipped)
        if plan.job is not None:
            await lifecycle.fail(
                self.store,
                plan.job_id,
                error.code,
                error.message,
                extra={"deleted_at": time.time(), "attempts": plan.attempts},
            )
        raise error

    async def record_submitted(
        self,
        job: Job,
        deployment: Deployment,
        state: UpstreamState,
        attempts: list[dict[str, Any]] | None = None,
    ) -> Job:
        """The upstream accepted the job: it is running, and due for its first poll."""
        now = time.time()
        due_now = state.status in ("completed", "failed")
        interval = deployment.poll_interval_s
        if state.poll_after_s:  # the upstream's hint, never below the floor (as the poller)
            interval = max(state.poll_after_s, self.poller.settings.poll_hint_floor_s)
        next_poll_at = now if due_now else now + interval
        values: dict[str, Any] = {
            "upstream_id": state.upstream_id,
            "phase": "running",
            "status": "in_progress" if due_now else state.status,
            "progress": min(state.progress, 99),
            "started_at": now,
            "updated_at": now,
            "last_polled_at": now,
            "next_poll_at": next_poll_at,
            "lease_owner": None,  # the submit's lease: any poller may claim it now
            "lease_until": None,
        }
        if attempts is not None:
            values["attempts"] = list(attempts)
        updated = await self.store.update(job.id, values, phase="submitting")
        self.poller.due_at(next_poll_at)
        info_fields(
            log,
            "job submitted",
            {
                "event": "job.submitted",
                "job_id": job.id,
                "deployment_id": deployment.id,
                "model": deployment.model_name,
                "attempts": len(attempts or ()),
            },
        )
        return updated or await self._reload(job.id)

    async def _reload(self, job_id: str) -> Job:
        job = await self.store.get(job_id)
        if job is None:
            raise NotFound(f"No video found with id '{job_id}'.")
        return job

    def estimate(self, placement: Placement) -> float:
        """What to hold on the caller's budgets for ``placement`` (0 when unpriced)."""
        return self.router.list_price(placement) or 0.0

    async def insert_row(
        self,
        values: Mapping[str, Any],
        owner: str,
        idempotency_key: str | None,
    ) -> tuple[Job, bool]:
        """Insert the row; on an idempotency race, the winner's row and ``False``."""
        try:
            return await self.store.insert(values), True
        except DuplicateIdempotencyKey:
            existing = await self.store.find_idempotent(owner, idempotency_key or "")
            if existing is None:
                raise
            return existing, False


def row_values(placement: Placement) -> dict[str, Any]:
    """The columns that say where (and as what) the job runs, and until when: the
    deployment that takes the job (the first, or the one a failover moves it to) sets the
    deadline, counted from now."""
    deployment, resolved = placement.deployment, placement.resolved
    return {
        **deadline_values(deployment, time.time()),
        "model": deployment.model_name,
        "deployment_id": deployment.id,
        "provider": deployment.provider,
        "upstream_model": resolved.upstream_model,
        "prompt": resolved.prompt,
        "size": resolved.size,
        "seconds": placement.seconds,
        "request": resolved_to_json(resolved),
    }


def _row_for(placement: Placement, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    return {**row_values(placement), "attempts": list(attempts), "updated_at": time.time()}


def _attempt_row(
    deployment: Deployment, started: float, latency_s: float, error: GatewayError | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "deployment": deployment.id,
        "model": deployment.model_name,
        "provider": deployment.provider,
        "started_at": round(started, 3),
        "latency_ms": round(latency_s * 1000, 1),
        "error": None,
    }
    if error is not None:
        message = client_text(error.message)  # stored and shown by /jobs/{id}
        row["error"] = {"status": error.status, "code": error.code, "message": message}
    return row
