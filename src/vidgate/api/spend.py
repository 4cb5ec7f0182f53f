"""Spend reporting over HTTP: ``GET /spend/logs`` and ``GET /spend/report``, as JSON or CSV.

Why these routes: ``spend_logs`` holds one row per settled job (written by the ledger in the
job's terminal transaction), and operators need to see it by key, model, provider, team,
user, end user or day, and to export it. This module owns the HTTP side only — query parameters,
access scoping, the JSON and CSV bodies; the SQL is in ``accounting/spend.py``.

Access: the master key sees every row. Any other key sees only its own rows: its requests
are scoped to its key id, and asking for another key (``key=<other id>``) is a 403 rather
than a silently different answer. Unknown query parameters are a 400, so a typo such as
``key_id=`` cannot quietly widen a report.

Times (``start``, ``end``) select on ``settled_at``: ``start <= settled_at < end``. Each is
Unix seconds, an ISO-8601 datetime (no offset means UTC) or a date ``YYYY-MM-DD``; a date
``end`` covers that whole day, so ``start=2026-01-01&end=2026-01-31`` is all of January.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse, Response, StreamingResponse

from vidgate.accounting.keys import Principal
from vidgate.accounting.spend import (
    GROUP_BY,
    LOG_FIELDS,
    REPORT_FIELDS,
    STATUSES,
    Cursor,
    SpendFilter,
    SpendStore,
)
from vidgate.api import openapi_models as m
from vidgate.api.auth import principal
from vidgate.api.listparams import TIME_FORMS as _TIME_FORMS
from vidgate.api.listparams import known_only, parse_time, text
from vidgate.api.schema import Param, described, enum, header, query
from vidgate.api.videos import page_limit
from vidgate.errors import InvalidRequest, PermissionDenied

router = APIRouter()
Caller = Depends(principal)

FILTERS = ("key", "model", "provider", "status", "team_id", "user_id", "user", "start", "end")
LOG_PARAMS = (*FILTERS, "limit", "after", "format")
REPORT_PARAMS = (*FILTERS, "group_by", "format")
FORMATS = ("json", "csv")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
DEFAULT_GROUP_BY = "model"


_FILTER_PARAMS = (
    query("key", "A key id; a key other than the master key sees only its own."),
    query("model", "A public model name."),
    query("provider", "A provider name."),
    query("status", "How the job ended.", **enum(STATUSES)),
    query("team_id", "A team id."),
    query("user_id", "A user id."),
    query("user", "An end user: the 'user' the requests carried (as in GET /v1/videos)."),
    query("start", f"From this time on (inclusive): {_TIME_FORMS}."),
    query("end", f"Before this time (a date covers that day): {_TIME_FORMS}."),
)
_FORMAT_PARAMS = (
    query("format", "json, or csv (every matching row).", **enum(FORMATS, "json")),
    header("Accept", "text/csv answers CSV when 'format' is not given."),
)


def _params(*extra: Param) -> list[Param]:
    return [*_FILTER_PARAMS, *extra, *_FORMAT_PARAMS]


def _store(request: Request) -> SpendStore:
    store: SpendStore = request.app.state.spend
    return store


def _value(query: QueryParams, name: str) -> str | None:
    value = query.get(name)
    return value if value else None


def _choice(query: QueryParams, name: str, allowed: Sequence[str]) -> str | None:
    value = _value(query, name)
    if value is not None and value not in allowed:
        raise InvalidRequest(
            f"Invalid value for '{name}': '{value}'. Allowed: {', '.join(allowed)}.", param=name
        )
    return value


def _filters(query: QueryParams, caller: Principal) -> SpendFilter:
    key = _value(query, "key")
    if not caller.is_admin:
        if key is not None and key != caller.key_id:
            raise PermissionDenied(
                "A key may only see its own spend: leave out 'key' or give this key's id. "
                "The master key sees every key.",
                param="key",
            )
        key = caller.key_id
    start, end = _value(query, "start"), _value(query, "end")
    start_at = None if start is None else parse_time(start, "start")
    end_at = None if end is None else parse_time(end, "end", end=True)
    if start_at is not None and end_at is not None and start_at >= end_at:
        raise InvalidRequest(
            f"'start' ({start}) must be before 'end' ({end}); a date 'end' covers that day.",
            param="start",
        )
    return SpendFilter(
        key_id=key,
        model=_value(query, "model"),
        provider=_value(query, "provider"),
        status=_choice(query, "status", STATUSES),
        team_id=_value(query, "team_id"),
        user_id=_value(query, "user_id"),
        end_user=text(query, "user"),
        start=start_at,
        end=end_at,
    )


def _limit(query: QueryParams) -> int | None:
    value = _value(query, "limit")
    return None if value is None else page_limit(value, MAX_LIMIT)


def _after(query: QueryParams) -> Cursor | None:
    value = _value(query, "after")
    if value is None:
        return None
    cursor = Cursor.decode(value)
    if cursor is None:
        raise InvalidRequest(
            f"Invalid value for 'after': '{value}'. Allowed: the 'next_cursor' of a previous page.",
            param="after",
        )
    return cursor


def _wants_csv(request: Request) -> bool:
    chosen = _choice(request.query_params, "format", FORMATS)
    if chosen is not None:
        return chosen == "csv"
    return "text/csv" in request.headers.get("accept", "").lower()


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


async def _csv_body(
    fields: Sequence[str], batches: AsyncIterator[Iterable[dict[str, Any]]]
) -> AsyncIterator[bytes]:
    """A header row, then the rows of every batch, one chunk per batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def chunk() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode()

    writer.writerow(fields)
    yield chunk()
    async for batch in batches:
        writer.writerows([_cell(row.get(name)) for name in fields] for row in batch)
        yield chunk()


def _csv_response(
    name: str, fields: Sequence[str], batches: AsyncIterator[Iterable[dict[str, Any]]]
) -> StreamingResponse:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return StreamingResponse(
        _csv_body(fields, batches),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )


@router.get(
    "/spend/logs",
    openapi_extra=described(
        params=_params(
            query(
                "limit",
                f"Rows per JSON page, 1 to {MAX_LIMIT}.",
                type="integer",
                minimum=1,
                maximum=MAX_LIMIT,
                default=DEFAULT_LIMIT,
            ),
            query("after", "The 'next_cursor' of the previous page."),
        ),
        returns=m.SpendLogPage,
        returns_media=("text/csv",),
    ),
)
async def spend_logs(request: Request, caller: Principal = Caller) -> Response:
    """Spend rows, newest first: a page as JSON, or every matching row as CSV."""
    query = request.query_params
    known_only(query, LOG_PARAMS)
    filters = _filters(query, caller)
    limit, after = _limit(query), _after(query)
    store = _store(request)
    if _wants_csv(request):
        return _csv_response("spend-logs", LOG_FIELDS, store.stream(filters, after, limit))
    page = await store.page(filters, limit or DEFAULT_LIMIT, after)
    return JSONResponse(
        {
            "object": "list",
            "data": page.rows,
            "has_more": page.has_more,
            "next_cursor": page.next_cursor,
            "total_cost_usd": page.total_cost_usd,
        }
    )


async def _once(rows: list[dict[str, Any]]) -> AsyncIterator[list[dict[str, Any]]]:
    yield rows


@router.get(
    "/spend/report",
    openapi_extra=described(
        params=_params(
            query("group_by", "What each row totals.", **enum(GROUP_BY, DEFAULT_GROUP_BY))
        ),
        returns=m.SpendReport,
        returns_media=("text/csv",),
    ),
)
async def spend_report(request: Request, caller: Principal = Caller) -> Response:
    """Spend grouped by key, model, provider, day, team, user or end user, with totals."""
    query = request.query_params
    known_only(query, REPORT_PARAMS)
    filters = _filters(query, caller)
    group_by = _choice(query, "group_by", GROUP_BY) or DEFAULT_GROUP_BY
    wants_csv = _wants_csv(request)
    report = await _store(request).report(filters, group_by)
    rows = [row.public() for row in report.rows]
    if wants_csv:
        fields: tuple[str, ...] = REPORT_FIELDS
        if group_by == "end_user":  # an end user is one key's: the key is part of the row
            fields = (REPORT_FIELDS[0], "key_id", *REPORT_FIELDS[1:])
        return _csv_response(f"spend-report-{group_by}", fields, _once(rows))
    return JSONResponse(
        {
            "object": "spend_report",
            "group_by": group_by,
            "start": filters.start,
            "end": filters.end,
            "rows": rows,
            "totals": report.totals.public(with_group=False),
        }
    )
