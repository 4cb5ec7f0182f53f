"""The router: which deployments a new job may go to, in which order, and whether one can
take it right now.

It answers three questions for the create path: the groups to try (the requested model
group, then its configured fallbacks) and the order of one group's placements (a strategy
from ``routing/select.py`` over what the router knows now), asked by ``jobs/placements.py``;
and whether a deployment can take one more attempt, or how long it is unavailable (breaker
open, rpm or concurrency full), asked by the attempt loop in ``jobs/create.py``. Follow-ups
are pinned to their source's deployment: they skip the breaker, not the limits.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vidgate.accounting.pricing import estimate_usd, pricing_for
from vidgate.errors import GatewayError, UpstreamAuthError
from vidgate.providers.base import Provider
from vidgate.routing.health import HealthBoard
from vidgate.routing.limits import Counters, LimitCounters
from vidgate.routing.live import LiveDeployments
from vidgate.routing.select import STRATEGIES, Candidate
from vidgate.settings import RouterSettings
from vidgate.values import Deployment, ResolvedRequest


@dataclass(frozen=True)
class Placement:
    """Where a new job can run: a deployment able to serve the request, with the request
    resolved for it (as it would run there) and the job's total length there. (Not a
    ``select.Candidate``, which is what a strategy ranks, nor an attempt, which is one
    upstream create on a placement.)"""

    deployment: Deployment
    resolved: ResolvedRequest
    seconds: int
    """The job's total length there (extensions include the source)."""


class Router:
    """Group order, strategy order and availability of deployments for new jobs."""

    def __init__(
        self,
        live: LiveDeployments,
        settings: RouterSettings,
        providers: Mapping[str, Provider],
        rng: random.Random | None = None,
    ) -> None:
        self.live = live
        self.settings = settings
        self.providers = providers
        self.health = HealthBoard(settings.cooldown)
        self.limits: Counters = LimitCounters()
        """Per-deployment rpm and jobs in flight (in Redis when replicas share them)."""
        self.rng = rng or random.Random()

    def reconfigure(self, settings: RouterSettings) -> None:
        """New router settings (config reload); health and counters carry over."""
        self.settings = settings
        self.health.policy = settings.cooldown

    def groups(self, model: str) -> list[str]:
        """The model group, then its fallback groups in configured order."""
        return [model, *self.settings.fallbacks_for(model)]

    def order(self, placements: Sequence[Placement]) -> list[Placement]:
        """``placements`` (one group's) best first, by the configured strategy."""
        if len(placements) < 2:
            return list(placements)
        by_id = {placement.deployment.id: placement for placement in placements}
        candidates = [self._candidate(placement) for placement in placements]
        ranked = STRATEGIES[self.settings.strategy](candidates, self.rng)
        return [by_id[candidate.id] for candidate in ranked]

    def _candidate(self, placement: Placement) -> Candidate:
        deployment = placement.deployment
        cost = self.list_price(placement) if self.settings.strategy == "cost" else None
        return Candidate(
            id=deployment.id,
            weight=deployment.weight,
            running=self.limits.running(deployment.id),
            latency_s=self.health.latency(deployment.id),
            cost_usd=cost,
            rpm_used=self.limits.rpm_used(deployment.id),
            rpm=deployment.rpm,
            max_concurrent=deployment.max_concurrent_jobs,
        )

    def list_price(self, placement: Placement) -> float | None:
        """The price of the request on that deployment, in USD."""
        return estimate_usd(pricing_for(placement.deployment, self.providers), placement.resolved)

    def unavailable_for(
        self, deployment: Deployment, *, pinned: bool = False, force: bool = False
    ) -> float:
        """Seconds until ``deployment`` can take a new job (0: now). Pinned jobs ignore
        the breaker (they can go nowhere else) but not the limits; ``force`` looks past an
        open breaker (every other route is cooling too) but not past a ``Retry-After``."""
        now = time.time()
        wait = 0.0 if pinned else self.health.blocked_for(deployment.id, now, force=force)
        limit = self.limits.wait_s(
            deployment.id, deployment.rpm, deployment.max_concurrent_jobs, now
        )
        return max(wait, limit)

    async def take(
        self, deployment: Deployment, job_id: str, *, pinned: bool = False, force: bool = False
    ) -> float:
        """Claim ``deployment`` for one attempt of ``job_id``: 0 when claimed, else the wait."""
        wait = self.unavailable_for(deployment, pinned=pinned, force=force)
        if wait > 0:
            return wait
        if not pinned and not self.health.claim(deployment.id, force=force):
            return self.health.blocked_for(deployment.id, force=force)
        try:
            wait = await self.limits.take(
                deployment.id, job_id, deployment.rpm, deployment.max_concurrent_jobs
            )
        except BaseException:
            self.health.released(deployment.id)
            raise
        if wait > 0:
            self.health.released(deployment.id)
        return wait

    def succeeded(self, deployment: Deployment, latency_s: float) -> None:
        self.health.succeeded(deployment.id, latency_s)

    def failed(self, deployment: Deployment, job_id: str, error: GatewayError) -> None:
        """An attempt failed: free its slot; count it against the deployment when the
        deployment is at fault (retryable errors and rejected credentials)."""
        self.limits.release(deployment.id, job_id)
        if error.retryable or isinstance(error, UpstreamAuthError):
            self.health.failed(deployment.id, error, may_cool=self._has_alternative(deployment))
        else:
            self.health.released(deployment.id)

    def abandoned(self, deployment: Deployment, job_id: str) -> None:
        """An attempt ended without an outcome (cancelled): free what it held."""
        self.limits.release(deployment.id, job_id)
        self.health.released(deployment.id)

    def _has_alternative(self, deployment: Deployment) -> bool:
        """Whether new jobs for its group can go elsewhere while it cools down."""
        group = self.live.table.group(deployment.model_name)
        return len(group) > 1 or bool(self.settings.fallbacks_for(deployment.model_name))

    def job_ended(self, deployment_id: str, job_id: str) -> None:
        self.limits.release(deployment_id, job_id)

    def status(self) -> list[dict[str, Any]]:
        """Every current deployment's health and load (``/health/deployments``)."""
        now = time.time()
        rows = []
        for deployment in self.live.table.by_id.values():
            rows.append(
                {
                    "id": deployment.id,
                    "model_name": deployment.model_name,
                    "provider": deployment.provider,
                    "model": deployment.model,
                    **self.health.snapshot(deployment.id, now),
                    "running_jobs": self.limits.running(deployment.id),
                    "rpm_used": self.limits.rpm_used(deployment.id, now),
                    "rpm": deployment.rpm,
                    "max_concurrent_jobs": deployment.max_concurrent_jobs,
                    "weight": deployment.weight,
                }
            )
        return rows
