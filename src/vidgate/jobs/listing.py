"""Jobs filtered and paged newest first: every key's for ``GET /admin/jobs``, a key's own
for the filters of ``GET /v1/videos``.

One statement per page: the filters are ``WHERE`` terms on indexed columns (``(status,
seq)``, ``(model, seq)``, ``(provider, seq)``, ``(end_user, seq)``, ``(owner_key_id, seq)``,
``created_at``; migration 0008), the cursor is ``seq < after_seq`` and the order ``seq DESC``,
so a page reads at most ``limit + 1`` rows from an index walk whatever the store's size.
A ``q`` shaped like a video id finds that job through the id's index; the one filter no
index helps is ``q`` on prompt text (``LIKE '%...%'``, case-insensitive,
its ``%``/``_``/``\\`` taken literally); combined with another filter it scans only that
filter's rows. Deleted jobs are left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select

from vidgate.db.tables import jobs
from vidgate.jobs.store import Job, JobStore, rows_of

VIDEO_ID = re.compile(r"video_[0-9a-f]{32}")
"""A ``q`` of this shape (a job id as the gateway makes them) finds that job by its id alone;
any other ``q`` is an id or prompt text."""
STATUSES = ("queued", "in_progress", "completed", "failed")
RUNNING = ("queued", "in_progress")
"""``status=running`` means either of these: the jobs that have not ended."""


@dataclass(frozen=True)
class JobFilter:
    statuses: Sequence[str] = ()
    model: str | None = None
    provider: str | None = None
    key_id: str | None = None
    end_user: str | None = None
    after: float | None = None
    before: float | None = None
    q: str | None = None


def like_pattern(text: str) -> str:
    """``text`` as a ``LIKE`` substring pattern matching it literally (escape ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _conditions(where: JobFilter) -> list[ColumnElement[bool]]:
    c = jobs.c
    terms: list[ColumnElement[bool]] = [c.deleted_at.is_(None)]
    if where.statuses:
        terms.append(c.status.in_(list(where.statuses)))
    for column, value in (
        (c.model, where.model),
        (c.provider, where.provider),
        (c.owner_key_id, where.key_id),
        (c.end_user, where.end_user),
    ):
        if value is not None:
            terms.append(column == value)
    if where.after is not None:
        terms.append(c.created_at >= where.after)
    if where.before is not None:
        terms.append(c.created_at < where.before)
    if where.q and VIDEO_ID.fullmatch(where.q):
        terms.append(c.id == where.q)  # an index probe, not a scan of every prompt
    elif where.q:
        pattern = like_pattern(where.q)
        terms.append(or_(c.id == where.q, func.lower(c.prompt).like(pattern, escape="\\")))
    return terms


async def page(
    store: JobStore,
    where: JobFilter,
    *,
    limit: int,
    after_seq: int | None,
    descending: bool = True,
) -> tuple[list[Job], bool]:
    """Up to ``limit`` jobs matching ``where``, newest first (or oldest first), and whether
    more follow."""
    query = select(jobs).where(*_conditions(where))
    if after_seq is not None:
        query = query.where(jobs.c.seq < after_seq if descending else jobs.c.seq > after_seq)
    order = jobs.c.seq.desc() if descending else jobs.c.seq.asc()
    query = query.order_by(order).limit(limit + 1)
    found = await store.db.read(rows_of(query))
    return found[:limit], len(found) > limit
