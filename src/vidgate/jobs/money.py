"""A job's money, in one place: hold when the job is inserted, re-hold when an attempt moves
it to a deployment with another price, settle (completed) or release (anything else) when it
ends — exactly once, inside the transaction of the job change it belongs to.

Each function is a store hook: it moves amounts on budget rows through
``accounting/ledger.py`` and returns the job's money columns for ``JobStore`` to write, so
only the store writes the ``jobs`` table and money commits or rolls back with the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from vidgate.accounting import ledger
from vidgate.accounting.end_users import PREFIX as END_USER_BUDGET
from vidgate.accounting.pricing import pricing_for, settle_usd
from vidgate.db.tables import spend_logs
from vidgate.jobs.store import Job
from vidgate.providers.base import Provider
from vidgate.values import Deployment


def hold(conn: Connection, job: Job) -> None:
    """The insert hook: reserve the new job's estimate on its budgets."""
    if job.budget_ids and job.reserved_usd:
        ledger.reserve(conn, job.budget_ids, job.reserved_usd, time.time(), _names(job))


def _names(job: Job) -> dict[str, str]:
    """The job's end-user budget by id, with the end user's name (refusals name it)."""
    if job.end_user is None:
        return {}
    return {i: job.end_user for i in job.budget_ids or [] if i.startswith(END_USER_BUDGET)}


def rehold(conn: Connection, job: Job, previous_usd: float) -> None:
    """The job moved to another deployment: its hold goes from ``previous_usd`` to the new
    ``reserved_usd`` (more is reserved, or raises ``InsufficientQuota``; less is released)."""
    delta = (job.reserved_usd or 0.0) - previous_usd
    if delta > 0:
        ledger.reserve(conn, job.budget_ids or [], delta, time.time(), _names(job))
    elif delta < 0:
        ledger.release(conn, job.budget_ids or [], -delta)


class Settlement:
    """The terminal hook: settle a completed job, release any other (runs in the
    terminal transaction, see ``JobStore.terminal_hooks``)."""

    def __init__(
        self,
        deployment: Callable[[str, float], Deployment | None],
        providers: Mapping[str, Provider],
    ) -> None:
        self.deployment = deployment
        self.providers = providers

    def __call__(self, conn: Connection, job: Job) -> dict[str, Any]:
        """Settle or release ``job``'s hold and log its spend; returns the job's new money
        columns for the store to write in the same transaction."""
        cost, priced = self.cost(job)
        ledger.settle(conn, job.budget_ids or [], job.reserved_usd or 0.0, cost)
        conn.execute(insert(spend_logs).values(**self._spend_row(job, cost, priced, time.time())))
        return {"cost_usd": round(cost, 6) if priced else None, "reserved_usd": 0.0}

    def cost(self, job: Job) -> tuple[float, bool]:
        """What the job is charged, and whether it had a price at all."""
        if job.status != "completed":
            return 0.0, True
        deployment = self.deployment(job.deployment_id, job.created_at)
        pricing = None if deployment is None else pricing_for(deployment, self.providers)
        upstream = job.upstream or {}
        cost = settle_usd(pricing, job.request, job.usage, upstream.get("cost_units"))
        return (0.0, False) if cost is None else (cost, True)

    @staticmethod
    def _spend_row(job: Job, cost: float, priced: bool, now: float) -> dict[str, Any]:
        ids = job.budget_ids or []
        team = next((i.split(":", 1)[1] for i in ids if i.startswith("team:")), None)
        user = next((i.split(":", 1)[1] for i in ids if i.startswith("user:")), None)
        return {
            "job_id": job.id,
            "key_id": job.owner_key_id,
            "team_id": team,
            "user_id": user,
            "model": job.model,
            "provider": job.provider,
            "deployment_id": job.deployment_id,
            "status": job.status,
            "seconds": (job.usage or {}).get("duration_seconds"),
            "cost_usd": round(cost, 6),
            "priced": int(priced),
            "created_at": job.created_at,
            "settled_at": now,
            "end_user": job.end_user,
        }


def late_cost(
    job: Job,
    deployment: Deployment | None,
    providers: Mapping[str, Provider],
    cost_units: float | None,
) -> float | None:
    """What an upstream that finished ``job`` after its deadline costs the operator: the
    upstream's own figure, else the list price of what was asked (``None``: unpriced). Never
    charged to the client, who was told the job failed and was refunded."""
    pricing = None if deployment is None else pricing_for(deployment, providers)
    cost = settle_usd(pricing, job.request, None, cost_units)
    return None if cost is None else round(cost, 6)
