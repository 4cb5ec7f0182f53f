"""Reading the request log (``request_logs``, written by ``observe/requests.py``), for
``GET /admin/requests``: filtered, newest first (``seq DESC``), paged by ``seq``.

One statement per page of at most ``limit + 1`` rows. A key filter walks ``(key_id, at)``,
a request id ``request_id`` and a time range ``at`` (indexes of the table and migration
0008); route, status and model filter the rows of that walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from vidgate.db.engine import Database
from vidgate.db.tables import request_logs
from vidgate.observe.requests import STATE_FIELDS

FIELDS = (
    "seq",
    "at",
    "request_id",
    "method",
    "route",
    "status_code",
    "latency_ms",
    *STATE_FIELDS,
)


@dataclass(frozen=True)
class RequestFilter:
    route: str | None = None
    status_from: int | None = None
    status_to: int | None = None
    """``status_from <= status_code <= status_to`` (one code, or a class such as 4xx)."""
    key_id: str | None = None
    model: str | None = None
    request_id: str | None = None
    after: float | None = None
    before: float | None = None
    moderation: str | None = None
    """The moderation outcome's kind: ``passed``, ``blocked`` or ``error`` (its prefix)."""


def _conditions(where: RequestFilter) -> list[ColumnElement[bool]]:
    c = request_logs.c
    terms: list[ColumnElement[bool]] = []
    for column, value in (
        (c.route, where.route),
        (c.key_id, where.key_id),
        (c.model, where.model),
        (c.request_id, where.request_id),
    ):
        if value is not None:
            terms.append(column == value)
    if where.status_from is not None:
        terms.append(c.status_code >= where.status_from)
    if where.status_to is not None:
        terms.append(c.status_code <= where.status_to)
    if where.moderation is not None:
        terms.append(c.moderation.startswith(where.moderation, autoescape=True))
    if where.after is not None:
        terms.append(c.at >= where.after)
    if where.before is not None:
        terms.append(c.at < where.before)
    return terms


async def page(
    db: Database, where: RequestFilter, *, limit: int, after_seq: int | None
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` rows matching ``where``, newest first, and whether more follow."""
    query = select(*(request_logs.c[name] for name in FIELDS)).where(*_conditions(where))
    if after_seq is not None:
        query = query.where(request_logs.c.seq < after_seq)
    query = query.order_by(request_logs.c.seq.desc()).limit(limit + 1)

    def run(conn: Connection) -> list[dict[str, Any]]:
        return [dict(row) for row in conn.execute(query).mappings().all()]

    found = await db.read(run)
    return found[:limit], len(found) > limit
