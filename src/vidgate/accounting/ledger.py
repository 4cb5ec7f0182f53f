"""The ledger: budget rows and the three money moves on them (reserve, settle, release).

Budgets are rows (``key:<id>``, ``team:<id>``, ``user:<id>``) holding ``spend`` and
``reserved``. Every function here runs *inside* the transaction of the job change it belongs
to — the insert that creates a job reserves, the terminal transition settles or releases —
so money and job state commit together or not at all, and only the writer that wins a
terminal transition touches money (``jobs/money.py`` decides which move a job's change
makes; this module only moves amounts on budget rows). A reservation is one conditional
``UPDATE`` per budget row (``spend + reserved + amount <= max_budget``), atomic on SQLite's
single writer and on PostgreSQL's row locks alike: concurrent creates can never take a
budget over its limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, case, or_, select, update
from sqlalchemy.engine import Connection

from vidgate.db.tables import budgets
from vidgate.errors import InsufficientQuota, InvalidRequest

EPSILON = 1e-9
_PERIOD = re.compile(r"^(\d{1,6})([hd])$")
MAX_PERIOD_S = 10 * 366 * 86400
"""Budget periods are at most ten years (and stay far inside float and column ranges)."""
PERIOD_UNITS = {"h": 3600, "d": 86400}


def parse_period(value: Any, param: str = "budget_duration") -> float | None:
    """``1d`` / ``7d`` / ``30d`` / ``12h`` → seconds; ``None`` for no period."""
    if value in (None, ""):
        return None
    match = _PERIOD.match(str(value))
    if (
        not match
        or int(match.group(1)) == 0
        or int(match.group(1)) * PERIOD_UNITS[match.group(2)] > MAX_PERIOD_S
    ):
        raise InvalidRequest(
            f"Invalid value for '{param}': '{value}'. Allowed: a number of hours or days, "
            "e.g. '12h', '1d', '7d', '30d' (at most 10 years).",
            param=param,
        )
    return int(match.group(1)) * PERIOD_UNITS[match.group(2)]


def budget_row(
    budget_id: str, max_budget: float | None, duration: str | None, now: float
) -> dict[str, Any]:
    period = parse_period(duration)
    return {
        "id": budget_id,
        "max_budget": max_budget,
        "spend": 0.0,
        "reserved": 0.0,
        "budget_duration": duration,
        "budget_reset_at": None if period is None else now + period,
        "created_at": now,
    }


_WITHIN_LIMIT = or_(
    budgets.c.max_budget.is_(None),
    budgets.c.spend + budgets.c.reserved + bindparam("b_amount") <= budgets.c.max_budget + EPSILON,
)
_HOLD_UNLESS_DUE = (
    update(budgets)
    .where(
        budgets.c.id == bindparam("b_id"),
        or_(budgets.c.budget_reset_at.is_(None), budgets.c.budget_reset_at > bindparam("b_now")),
        _WITHIN_LIMIT,
    )
    .values(reserved=budgets.c.reserved + bindparam("b_amount"))
)
"""A hold on a row whose period is not due to reset: the one statement of the common case
(built once: a statement built per call costs more to make than to run)."""
_HOLD = (
    update(budgets)
    .where(budgets.c.id == bindparam("b_id"), _WITHIN_LIMIT)
    .values(reserved=budgets.c.reserved + bindparam("b_amount"))
)
_PERIOD_OF = select(budgets.c.budget_duration, budgets.c.budget_reset_at).where(
    budgets.c.id == bindparam("b_id")
)


def reserve(
    conn: Connection,
    budget_ids: Sequence[str],
    amount: float,
    now: float,
    names: Mapping[str, str] | None = None,
) -> None:
    """Hold ``amount`` on every budget row, or raise ``InsufficientQuota`` (the caller's
    transaction then rolls back whatever was held). Missing rows mean "no budget".
    ``names``: end users' names by their budget id, for the refusal's message."""
    for budget_id in budget_ids:
        params = {"b_id": budget_id, "b_now": now, "b_amount": amount}
        if conn.execute(_HOLD_UNLESS_DUE, params).rowcount:
            continue
        # no such row, a period to reset first, or over the limit
        row = conn.execute(_PERIOD_OF, params).first()
        if row is None:
            continue
        if row[1] is not None and row[1] <= now:
            _reset(conn, budget_id, row[0], row[1], now)
        if not conn.execute(_HOLD, params).rowcount:
            name = (names or {}).get(budget_id)
            raise InsufficientQuota(_over_budget_message(conn, budget_id, amount, name))


def release(conn: Connection, budget_ids: Sequence[str], amount: float) -> None:
    """Give back ``amount`` of a reservation (never below zero)."""
    settle(conn, budget_ids, amount, 0.0)


def settle(conn: Connection, budget_ids: Sequence[str], reserved: float, cost: float) -> None:
    """Turn a reservation into spend: release ``reserved``, charge ``cost``."""
    left = budgets.c.reserved - reserved
    for budget_id in budget_ids:
        conn.execute(
            update(budgets)
            .where(budgets.c.id == budget_id)
            .values(spend=budgets.c.spend + cost, reserved=case((left < 0, 0.0), else_=left))
        )


def _reset(
    conn: Connection, budget_id: str, duration: str | None, reset_at: float, now: float
) -> None:
    """Start the budget's current period: spend back to 0, the next reset a period on."""
    period = parse_period(duration) or 86400.0
    periods = math.floor((now - reset_at) / period) + 1
    conn.execute(
        update(budgets)
        .where(budgets.c.id == budget_id, budgets.c.budget_reset_at == reset_at)
        .values(spend=0.0, budget_reset_at=reset_at + periods * period)
    )


def _over_budget_message(
    conn: Connection, budget_id: str, amount: float, end_user: str | None = None
) -> str:
    row = conn.execute(
        select(budgets.c.max_budget, budgets.c.spend, budgets.c.reserved).where(
            budgets.c.id == budget_id
        )
    ).first()
    kind = budget_id.split(":", 1)[0]
    limit, spend, reserved = (row or (0.0, 0.0, 0.0))[:3]
    if end_user is not None:
        return (
            f"End user '{end_user}' of this key has spent ${spend:.2f} of its ${limit or 0:.2f} "
            f"budget (${reserved:.2f} more held by running jobs); this request costs up to "
            f"${amount:.4f}. The key's own budget is not affected."
        )
    return (
        f"You exceeded your current quota: this request costs up to ${amount:.4f} and the "
        f"{kind} budget of ${limit or 0:.2f} has ${max(0.0, (limit or 0) - spend - reserved):.4f} "
        "left (spent and held by running jobs)."
    )


def budget_ids(key_id: str, team_id: str | None, user_id: str | None) -> list[str]:
    """The budget rows a key's jobs are held against (the master key has none)."""
    ids = [f"key:{key_id}"]
    if team_id:
        ids.append(f"team:{team_id}")
    if user_id:
        ids.append(f"user:{user_id}")
    return ids


def balances(conn: Connection, budget_ids: Sequence[str], now: float) -> list[dict[str, Any]]:
    """What each existing budget row would let a new hold take, read only: ``max_budget``,
    ``spend`` (0 when its period is due to reset, as ``reserve`` would reset it first),
    ``reserved`` and ``left`` (``None`` without a limit). Missing rows mean "no budget"."""
    out = []
    for budget_id in budget_ids:
        row = conn.execute(
            select(
                budgets.c.max_budget, budgets.c.spend, budgets.c.reserved, budgets.c.budget_reset_at
            ).where(budgets.c.id == budget_id)
        ).first()
        if row is None:
            continue
        limit, spend, reserved, reset_at = row
        spend = 0.0 if reset_at is not None and reset_at <= now else spend or 0.0
        reserved = reserved or 0.0
        left = None if limit is None else max(0.0, limit - spend - reserved)
        out.append(
            {
                "budget": budget_id.split(":", 1)[0],
                "max_budget": limit,
                "spend": round(spend, 6),
                "reserved": round(reserved, 6),
                "left": None if left is None else round(left, 6),
            }
        )
    return out
