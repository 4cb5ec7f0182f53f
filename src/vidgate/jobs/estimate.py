"""A dry run of a create: what it would cost, and whether the caller would be admitted.

It follows ``JobService.submit`` up to the insert and stops there: the request is placed
(``jobs/placements.py``, so a bad field is the same 400 as a create), the first placement's
list price is what a create would hold, and the key's budgets and own limits are read, not
taken. No job row, no hold, no slot and no upstream call, nor a moderation call: only the
local blocked terms are checked (the create asks the endpoint, after taking its rate-limit
slots; a dry run takes none, so it would call it without limit). ``dropped_params`` names what that
first placement would drop under ``drop_params`` (what a create's header would name).
"""

from __future__ import annotations

import time
from typing import Any

from vidgate.accounting import ledger
from vidgate.accounting.keys import Principal
from vidgate.errors import PermissionDenied
from vidgate.jobs.end_users import EndUserGate
from vidgate.jobs.moderation import Moderator
from vidgate.jobs.placements import Placements
from vidgate.jobs.store import JobStore
from vidgate.request import VideoRequest
from vidgate.routing.limits import Counters
from vidgate.routing.router import Placement


async def estimate(
    principal: Principal,
    request: VideoRequest,
    placements: Placements,
    store: JobStore,
    key_limits: Counters,
    end_users: EndUserGate | None = None,
    moderator: Moderator | None = None,
) -> dict[str, Any]:
    """The ``video.estimate`` object for ``request`` (a create) by ``principal``."""
    router = placements.router
    model = router.live.table.resolve(request.model or router.live.table.default_model)
    reasons: list[dict[str, Any]] = []
    first: Placement | None = None
    candidates: list[str] = []
    try:
        _, groups = await placements.groups(principal, request, None)
    except PermissionDenied as exc:
        if exc.code != "model_not_allowed":
            raise
        reasons.append({"code": "model_not_allowed", "message": exc.message})
    else:
        async for group in groups:
            for placement in group:
                first = first or placement
                if placement.deployment.model_name not in candidates:
                    candidates.append(placement.deployment.model_name)
        if moderator is not None:  # once the request can be placed; the terms only
            reasons += moderator.reasons(request)
    price = None if first is None else router.list_price(first)
    cost = price or 0.0
    balances = await store.db.read(
        lambda conn: ledger.balances(conn, principal.budget_ids, time.time())
    )
    for budget in balances:
        if budget["left"] is not None and cost > budget["left"] + ledger.EPSILON:
            reasons.append(
                {
                    "code": "insufficient_quota",
                    "budget": budget["budget"],
                    "message": (
                        f"This request costs up to ${cost:.4f} and the {budget['budget']} "
                        f"budget of ${budget['max_budget']:.2f} has ${budget['left']:.4f} left "
                        "(spent and held by running jobs)."
                    ),
                }
            )
    limits = _limits(principal, key_limits)
    if limits["wait_s"] > 0:
        reasons.append(
            {
                "code": "rate_limit_exceeded",
                "message": f"This key's rate limit is reached: {_usage(principal, limits)}.",
                "retry_after_s": limits["wait_s"],
            }
        )
    end_user, refused = (
        (None, []) if end_users is None else await end_users.preview(principal, request.user, cost)
    )
    reasons += refused
    return {
        "object": "video.estimate",
        "model": model,
        "candidates": candidates,
        "seconds": None if first is None else str(first.seconds),
        "size": None if first is None else first.resolved.size,
        "dropped_params": [] if first is None else list(first.resolved.dropped),
        "estimated_cost_usd": round(cost, 6),
        "priced": price is not None,
        "admitted": not reasons,
        "reasons": reasons,
        "budgets": balances,
        "limits": {k: v for k, v in limits.items() if k != "wait_s"},
        "end_user": end_user,
    }


def _usage(principal: Principal, limits: dict[str, Any]) -> str:
    """The key's use of the limits it has (a limit it does not set is not named)."""
    parts = []
    if principal.rpm_limit is not None:
        parts.append(f"{limits['rpm_used']} of {principal.rpm_limit} creates in the last minute")
    if principal.max_parallel_jobs is not None:
        parts.append(f"{limits['running']} of {principal.max_parallel_jobs} jobs running")
    return ", ".join(parts)


def _limits(principal: Principal, counters: Counters) -> dict[str, Any]:
    rpm, parallel = principal.rpm_limit, principal.max_parallel_jobs
    wait = 0.0
    if rpm is not None or parallel is not None:
        wait = counters.wait_s(principal.key_id, rpm, parallel)
    return {
        "rpm_limit": rpm,
        "rpm_used": counters.rpm_used(principal.key_id),
        "max_parallel_jobs": parallel,
        "running": counters.running(principal.key_id),
        "wait_s": round(wait, 3),
    }
