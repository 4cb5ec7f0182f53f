"""Spend queries over ``spend_logs``: pages of rows, their total, and grouped reports.

Why a module of its own: this is the SQL half of ``/spend/logs`` and ``/spend/report``, the
part that must stay portable (SQLite now, PostgreSQL later), kept apart from HTTP parsing.
Everything is SQLAlchemy Core with bound parameters.

- Rows are ordered newest first by ``(settled_at, seq)`` and paged by keyset, so a page costs
  an index range scan however deep the client pages, and rows settled while it pages never
  shift or repeat the rows it has not seen yet.
- Grouping by key, model, provider, team, user or end user (the ``user`` a request
  carried; its rows are found by the ``(key_id, end_user, settled_at)`` index) is one
  ``GROUP BY`` in SQL. Grouping by UTC
  day is done in Python over a narrow, streamed select: there is no portable SQL for "the UTC
  date of a float timestamp" (SQLite has no ``floor()`` by default, PostgreSQL rounds on
  ``CAST``), and the per-row work is one integer division.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql import ColumnElement

from vidgate.db.engine import Database
from vidgate.db.tables import spend_logs

STATUSES = ("completed", "failed")
GROUP_COLUMNS = {
    "key": spend_logs.c.key_id,
    "model": spend_logs.c.model,
    "provider": spend_logs.c.provider,
    "team": spend_logs.c.team_id,
    "user": spend_logs.c.user_id,
    "end_user": spend_logs.c.end_user,
}
GROUP_BY = ("key", "model", "provider", "day", "team", "user", "end_user")
LOG_FIELDS = (
    "job_id",
    "key_id",
    "team_id",
    "user_id",
    "model",
    "provider",
    "deployment_id",
    "status",
    "seconds",
    "cost_usd",
    "priced",
    "created_at",
    "settled_at",
    "end_user",
)
REPORT_FIELDS = ("group", "jobs", "completed", "failed", "seconds", "cost_usd")
DAY_S = 86400
STREAM_ROWS = 5000
"""Rows fetched at a time when grouping by day (bounded memory on drivers that stream)."""


@dataclass(frozen=True)
class SpendFilter:
    """Which rows: every field that is set must match; ``start <= settled_at < end``."""

    key_id: str | None = None
    model: str | None = None
    provider: str | None = None
    status: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    end_user: str | None = None
    start: float | None = None
    end: float | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        c = spend_logs.c
        equal = (
            (c.key_id, self.key_id),
            (c.model, self.model),
            (c.provider, self.provider),
            (c.status, self.status),
            (c.team_id, self.team_id),
            (c.user_id, self.user_id),
            (c.end_user, self.end_user),
        )
        where: list[ColumnElement[bool]] = [col == v for col, v in equal if v is not None]
        if self.start is not None:
            where.append(c.settled_at >= self.start)
        if self.end is not None:
            where.append(c.settled_at < self.end)
        return where


@dataclass(frozen=True)
class Cursor:
    """The position after a row: its ``settled_at`` and ``seq`` (opaque to clients)."""

    settled_at: float
    seq: int

    def encode(self) -> str:
        raw = f"{self.settled_at!r}:{self.seq}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """The cursor, or ``None`` if ``text`` is not one this module made."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            settled, seq = raw.split(":")
            cursor = cls(float(settled), int(seq))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            return None
        return cursor if math.isfinite(cursor.settled_at) else None

    def condition(self) -> ColumnElement[bool]:
        c = spend_logs.c
        return or_(
            c.settled_at < self.settled_at,
            and_(c.settled_at == self.settled_at, c.seq < self.seq),
        )


@dataclass
class SpendPage:
    rows: list[dict[str, Any]]
    has_more: bool
    next_cursor: str | None
    total_cost_usd: float


@dataclass
class GroupTotals:
    """One report row (or the totals, with ``group`` unset)."""

    group: str | None = None
    key_id: str | None = None
    """Set when grouping by end user: a name is an end user only within its key."""
    jobs: int = 0
    completed: int = 0
    failed: int = 0
    seconds: float = 0.0
    cost_usd: float = 0.0

    def add(self, other: GroupTotals) -> None:
        self.jobs += other.jobs
        self.completed += other.completed
        self.failed += other.failed
        self.seconds += other.seconds
        self.cost_usd += other.cost_usd

    def public(self, with_group: bool = True) -> dict[str, Any]:
        values = {
            "jobs": self.jobs,
            "completed": self.completed,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "cost_usd": round(self.cost_usd, 6),
        }
        if not with_group:
            return values
        key = {} if self.key_id is None else {"key_id": self.key_id}
        return {"group": self.group, **key, **values}


@dataclass
class SpendReport:
    group_by: str
    rows: list[GroupTotals]
    totals: GroupTotals = field(default_factory=GroupTotals)


_COLUMNS = [spend_logs.c[name] for name in LOG_FIELDS]
_ORDER = (spend_logs.c.settled_at.desc(), spend_logs.c.seq.desc())


def _public_row(row: RowMapping) -> dict[str, Any]:
    out = {name: row[name] for name in LOG_FIELDS}
    out["priced"] = bool(out["priced"])
    return out


def _page(
    conn: Connection, filters: SpendFilter, after: Cursor | None, limit: int
) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Up to ``limit`` rows after ``after``, and the cursor past the last one if more follow."""
    where = filters.conditions()
    if after is not None:
        where.append(after.condition())
    query = select(*_COLUMNS, spend_logs.c.seq).where(*where).order_by(*_ORDER).limit(limit + 1)
    rows = list(conn.execute(query).mappings())
    if len(rows) <= limit:
        return [_public_row(r) for r in rows], None
    last = rows[limit - 1]
    return [_public_row(r) for r in rows[:limit]], Cursor(last["settled_at"], last["seq"])


def _total_cost(conn: Connection, filters: SpendFilter) -> float:
    query = select(func.coalesce(func.sum(spend_logs.c.cost_usd), 0.0)).where(*filters.conditions())
    return round(float(conn.execute(query).scalar_one()), 6)


def _sums() -> tuple[ColumnElement[Any], ...]:
    c = spend_logs.c
    return (
        func.count().label("jobs"),
        func.sum(case((c.status == "completed", 1), else_=0)).label("completed"),
        func.sum(case((c.status == "failed", 1), else_=0)).label("failed"),
        func.sum(func.coalesce(c.seconds, 0.0)).label("seconds"),
        func.sum(c.cost_usd).label("cost_usd"),
    )


def _grouped(conn: Connection, filters: SpendFilter, group_by: str) -> list[GroupTotals]:
    column = GROUP_COLUMNS[group_by]
    key = spend_logs.c.key_id if group_by == "end_user" else None  # an end user is per key
    columns = [column] if key is None else [column, key]
    labels = [column.label("grp")] + ([] if key is None else [key.label("owner")])
    query = select(*labels, *_sums()).where(*filters.conditions()).group_by(*columns)
    rows = [
        GroupTotals(
            group=r.grp,
            key_id=None if key is None else r.owner,
            jobs=int(r.jobs),
            completed=int(r.completed or 0),
            failed=int(r.failed or 0),
            seconds=float(r.seconds or 0.0),
            cost_usd=float(r.cost_usd or 0.0),
        )
        for r in conn.execute(query)
    ]
    rows.sort(key=lambda g: (-round(g.cost_usd, 6), g.group is None, g.group or "", g.key_id or ""))
    return rows


def _by_day(conn: Connection, filters: SpendFilter) -> list[GroupTotals]:
    c = spend_logs.c
    query = (
        select(c.settled_at, c.status, c.seconds, c.cost_usd)
        .where(*filters.conditions())
        .execution_options(yield_per=STREAM_ROWS)
    )
    days: dict[int, GroupTotals] = {}
    for settled_at, status, seconds, cost in conn.execute(query):
        day = days.setdefault(int(settled_at // DAY_S), GroupTotals())
        day.jobs += 1
        day.completed += status == "completed"
        day.failed += status == "failed"
        day.seconds += seconds or 0.0
        day.cost_usd += cost or 0.0
    for number, totals in days.items():
        totals.group = datetime.fromtimestamp(number * DAY_S, UTC).date().isoformat()
    return [days[number] for number in sorted(days)]


def _reader(
    filters: SpendFilter, after: Cursor | None, limit: int
) -> Callable[[Connection], tuple[list[dict[str, Any]], Cursor | None]]:
    return lambda conn: _page(conn, filters, after, limit)


class SpendStore:
    """Reads ``spend_logs`` for the spend routes (rows are written by the ledger)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(self, filters: SpendFilter, limit: int, after: Cursor | None) -> SpendPage:
        """A page of rows, newest first, and the total cost of every row the filter matches."""

        def run(conn: Connection) -> SpendPage:
            rows, cursor = _page(conn, filters, after, limit)
            more = cursor is not None
            token = cursor.encode() if cursor is not None else None
            return SpendPage(rows, more, token, _total_cost(conn, filters))

        return await self.db.read(run)

    async def stream(
        self,
        filters: SpendFilter,
        after: Cursor | None = None,
        limit: int | None = None,
        batch: int = 1000,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every matching row (or the first ``limit``), newest first, in batches of
        ``batch`` rows, one short read each: memory stays bounded for any export size."""
        left = limit
        while left is None or left > 0:
            size = batch if left is None else min(batch, left)
            rows, after = await self.db.read(_reader(filters, after, size))
            if rows:
                yield rows
            if left is not None:
                left -= len(rows)
            if after is None:
                return

    async def report(self, filters: SpendFilter, group_by: str) -> SpendReport:
        """Totals per group (``group_by`` in ``GROUP_BY``) and over all of them; groups by
        cost, highest first (days: oldest first)."""

        def run(conn: Connection) -> list[GroupTotals]:
            if group_by == "day":
                return _by_day(conn, filters)
            return _grouped(conn, filters, group_by)

        rows = await self.db.read(run)
        report = SpendReport(group_by, rows)
        for row in rows:
            report.totals.add(row)
        return report
