"""Query parameters that list routes share: bounded text, a time range and job statuses.

Each is parsed once, here, with errors naming the parameter as the client sent it and what
it allows; ``GET /v1/videos``'s filters and the operator listings read the same shapes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from starlette.datastructures import QueryParams

from vidgate.errors import InvalidRequest
from vidgate.jobs import listing

JOB_STATUSES = (*listing.STATUSES, "running")
TEXT_MAX = 500
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME_FORMS = (
    "Unix seconds, an ISO-8601 date (YYYY-MM-DD) or datetime (e.g. 2026-01-31T12:00:00Z); "
    "times without an offset are UTC"
)


def parse_time(value: str, param: str, *, end: bool = False) -> float:
    """Unix seconds for a ``start``/``end`` value; a date ``end`` is the next midnight."""
    try:
        if _NUMBER.fullmatch(value) and math.isfinite(float(value)):  # not 5,000 digits
            return float(value)
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        pass
    else:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    raise InvalidRequest(
        f"Invalid value for '{param}': '{value}'. Allowed: {TIME_FORMS}.", param=param
    )


def text(query: QueryParams, name: str) -> str | None:
    value = query.get(name) or None
    if value is not None and len(value) > TEXT_MAX:
        raise InvalidRequest(
            f"'{name}' is too long: {len(value)} characters; allowed: at most {TEXT_MAX}.",
            param=name,
            code="string_above_max_length",
        )
    return value


def time_range(
    query: QueryParams, after: str = "after", before: str = "before"
) -> tuple[float | None, float | None]:
    """``after``/``before`` (their names as the route calls them) as Unix seconds."""
    start_text, end_text = text(query, after), text(query, before)
    start = None if start_text is None else parse_time(start_text, after)
    end = None if end_text is None else parse_time(end_text, before, end=True)
    if start is not None and end is not None and start >= end:
        raise InvalidRequest(
            f"'{after}' ({start_text}) must be before '{before}' ({end_text}).", param=after
        )
    return start, end


def job_statuses(query: QueryParams) -> tuple[str, ...]:
    """``status``: one of the job statuses, or ``running`` (queued or in progress)."""
    status = text(query, "status")
    if status is None:
        return ()
    if status not in JOB_STATUSES:
        raise InvalidRequest(
            f"Invalid value for 'status': '{status}'. Allowed: {', '.join(JOB_STATUSES)}.",
            param="status",
        )
    return listing.RUNNING if status == "running" else (status,)


def known_only(query: QueryParams, allowed: Sequence[str]) -> None:
    """Refuse a parameter the route does not read: a typo must not silently widen a filter."""
    unknown = sorted(set(query.keys()) - set(allowed))
    if unknown:
        raise InvalidRequest(
            f"Unknown parameter '{unknown[0]}'. Allowed: {', '.join(allowed)}.",
            param=unknown[0],
        )


def job_filter(query: QueryParams) -> listing.JobFilter | None:
    """``GET /v1/videos``'s filters (vidgate's, beside OpenAI's cursor), or ``None`` if the
    request names none."""
    if not any(query.get(name) for name in VIDEO_FILTERS):
        return None
    return jobs_where(query, "created_after", "created_before")


def jobs_where(
    query: QueryParams, after: str, before: str, *, key_id: str | None = None
) -> listing.JobFilter:
    """A job listing's filters: status, model, provider, end user (``user``), a creation time
    range (its parameters named ``after``/``before`` by the route) and ``q``; ``key_id`` for
    a listing across keys."""
    start, end = time_range(query, after, before)
    return listing.JobFilter(
        statuses=job_statuses(query),
        model=text(query, "model"),
        provider=text(query, "provider"),
        key_id=key_id,
        end_user=text(query, "user"),
        after=start,
        before=end,
        q=text(query, "q"),
    )


VIDEO_FILTERS = ("status", "model", "provider", "user", "q", "created_after", "created_before")
