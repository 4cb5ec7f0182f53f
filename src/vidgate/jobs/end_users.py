"""Admission of a create by its end user (the ``user`` it carries), before any hold.

Why here: the end user's rate and jobs-in-flight counters are the key counters of
``routing/limits.py`` (one more counter id per end user, so replicas sharing Redis share
them too), which ``accounting`` may not import; the rows and budgets are
``accounting/end_users.py``'s. A blocked end user is a 403, a full rate or parallel limit a
429 with ``Retry-After``; the budget is checked where every budget is, by the ledger's hold
in the insert transaction, on the row whose id ``admit`` adds to the job's budgets.
Requests without ``user``, and the master key's, are not affected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from vidgate.accounting.end_users import EndUser, EndUserStore, Limits, budget_id
from vidgate.accounting.keys import Principal
from vidgate.accounting.ledger import EPSILON
from vidgate.errors import PermissionDenied, RateLimited
from vidgate.jobs.store import LiveJob
from vidgate.routing.limits import Counters


@dataclass(frozen=True)
class Admitted:
    """An admitted end user: the budget row its job is held against, the counter it took."""

    user: EndUser
    limits: Limits

    @property
    def budget_id(self) -> str:
        return self.user.budget_id


class EndUserGate:
    """Blocks, rate and parallel limits per end user; its budget row for the job."""

    def __init__(self, store: EndUserStore, counters: Callable[[], Counters]) -> None:
        self.store = store
        self.counters = counters
        """The key counters in force (the Redis wiring may replace them after start)."""

    async def look(self, principal: Principal, name: str | None) -> Admitted | None:
        """The end user and its limits, registered and its budget row in step; 403 if it
        is blocked. ``None`` for a request without one or from the master key."""
        if name is None or principal.is_admin:
            return None
        user, limits = await self.store.admit(principal.key_id, name, principal.end_user_limits)
        if user.blocked:
            raise PermissionDenied(
                f"End user '{name}' is blocked on this key; unblock it with POST "
                "/customer/unblock.",
                param="user",
                code="end_user_blocked",
            )
        return Admitted(user, limits)

    async def admit(self, principal: Principal, name: str | None, job_id: str) -> Admitted | None:
        """``look``, then take the end user's rate and parallel slot for ``job_id`` (429
        when full)."""
        admitted = await self.look(principal, name)
        if admitted is None:
            return None
        rpm, parallel = admitted.limits.rpm_limit, admitted.limits.max_parallel_jobs
        if rpm is None and parallel is None:
            return admitted
        counters = self.counters()
        wait = await counters.take(admitted.budget_id, job_id, rpm, parallel)
        if wait > 0:
            subject = f"end user '{admitted.user.name}' of this key"
            raise rate_refusal(counters, admitted.budget_id, (rpm, parallel), wait, subject, "user")
        return admitted

    def release(self, key_id: str, name: str | None, job_id: str) -> None:
        """Give back ``job_id``'s slot (its create failed, or the job ended). Idempotent."""
        if name is not None:
            self.counters().release(budget_id(key_id, name), job_id)

    def usage(self, admitted: Admitted) -> dict[str, Any]:
        """The end user's limits and use of them now (the estimate's ``end_user``)."""
        counters, limits = self.counters(), admitted.limits
        rpm, parallel = limits.rpm_limit, limits.max_parallel_jobs
        counter = admitted.budget_id
        wait = 0.0 if rpm is None and parallel is None else counters.wait_s(counter, rpm, parallel)
        return {
            "user": admitted.user.name,
            **limits.public(),
            "rpm_used": counters.rpm_used(counter),
            "running": counters.running(counter),
            "wait_s": round(wait, 3),
        }

    async def preview(
        self, principal: Principal, name: str | None, cost: float
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The estimate's ``end_user`` and its refusal reasons, read only (a dry run
        registers no end user and takes no slot)."""
        if name is None or principal.is_admin:
            return None, []
        user, limits, budget = await self.store.preview(
            principal.key_id, name, principal.end_user_limits
        )
        admitted = Admitted(user or EndUser(principal.key_id, name, Limits(), False), limits)
        usage = self.usage(admitted)
        reasons: list[dict[str, Any]] = []
        if admitted.user.blocked:
            reasons.append(
                {"code": "end_user_blocked", "message": f"End user '{name}' is blocked."}
            )
        left = budget["left"]
        if left is not None and cost > left + EPSILON:
            reasons.append(
                {
                    "code": "insufficient_quota",
                    "budget": "end_user",
                    "message": (
                        f"This request costs up to ${cost:.4f} and end user '{name}' has "
                        f"${left:.4f} left of its ${limits.max_budget:.2f} budget."
                    ),
                }
            )
        if usage["wait_s"] > 0:
            reasons.append(
                {
                    "code": "rate_limit_exceeded",
                    "message": f"End user '{name}' has reached its rate limit.",
                    "retry_after_s": usage["wait_s"],
                }
            )
        found = {**usage, "blocked": admitted.user.blocked, "budget": budget}
        return found, reasons

    def seed(self, in_flight: Iterable[LiveJob]) -> None:
        """Count the jobs still in flight (``JobStore.live_jobs``) against their end users
        (start-up)."""
        self.counters().seed(
            (budget_id(job.owner_key_id, job.end_user), job.job_id)
            for job in in_flight
            if job.end_user is not None
        )


def rate_refusal(
    counters: Counters,
    counter: str,
    limits: tuple[int | None, int | None],
    wait: float,
    subject: str,
    param: str | None = None,
) -> RateLimited:
    """The 429 for a full rpm or parallel ``limits`` on ``counter``, with OpenAI's
    ``x-ratelimit-*`` headers; ``subject`` says whose ("this key", "end user 'x' of this
    key"). Used for keys (``JobService``) and end users alike."""
    rpm, parallel = limits
    used = counters.rpm_used(counter)
    seconds = max(1, math.ceil(wait))
    headers = {"x-ratelimit-reset-requests": f"{seconds}s"}
    if rpm is not None:
        headers["x-ratelimit-limit-requests"] = str(rpm)
        headers["x-ratelimit-remaining-requests"] = str(max(0, rpm - used))
    what = (
        f"{rpm} video requests per minute"
        if rpm is not None and used >= rpm
        else f"{parallel} jobs running at once"
    )
    return RateLimited(
        f"Rate limit reached for {subject}: {what} ({counters.running(counter)} running). "
        f"Please retry in {seconds} s.",
        param=param,
        retry_after_s=wait,
        headers=headers,
    )
