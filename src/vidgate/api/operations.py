"""Operator routes: deployment health, config reload, a job's full record, admin listings.

``/health/deployments`` (master key) shows what the router sees — breaker state, cooldown end,
the last error, create latency, running jobs and rate use per deployment — never credentials
or upstream URLs. ``/jobs/{id}`` shows a job's record: its routing history (every create
attempt, with its deployment, error and latency), the request as the gateway resolved it, its
money (``reserved_usd`` held, ``cost_usd`` settled) and its webhook deliveries. The master key
reads any owner's job, with what is the operator's alone: the upstream task id and upstream
model, and deliveries to every endpoint. A virtual key reads only its own jobs (another key's
id is a 404, as on every video route) without those, and sees deliveries to its own endpoints.
The request never carries storage keys or result locations, and its URLs and options pass
through the redactor.

``/admin/jobs`` lists every key's jobs (running ones too) and ``/admin/requests`` the request
log, both filtered and newest first, a page per statement (``jobs/listing.py``,
``observe/request_log.py``). They are the master key's: a virtual key gets 403 and lists its
own jobs with ``GET /v1/videos`` — one meaning per route rather than a listing whose answer
changes with the caller. Unknown parameters are a 400, so a typo cannot silently widen a
filter.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse

from vidgate.accounting.keys import Principal
from vidgate.api import openapi_models as m
from vidgate.api.auth import admin, principal
from vidgate.api.listparams import (
    JOB_STATUSES,
    TIME_FORMS,
    jobs_where,
    known_only,
    text,
    time_range,
)
from vidgate.api.schema import described, enum, query
from vidgate.api.videos import page_limit
from vidgate.errors import InvalidRequest, NotFound
from vidgate.jobs import listing
from vidgate.jobs.store import Job
from vidgate.observe import request_log
from vidgate.redact import REDACTED, REDACTOR, SECRET_OPTION
from vidgate.routing.router import Router
from vidgate.settings import ConfigError
from vidgate.webhooks.service import Webhooks

router = APIRouter()
Admin = Depends(admin)
Caller = Depends(principal)


def _router(request: Request) -> Router:
    routing: Router = request.app.state.router
    return routing


@router.get("/health/deployments", openapi_extra=described(returns=m.DeploymentHealthList))
async def deployment_health(request: Request, _caller: Principal = Admin) -> JSONResponse:
    rows = _router(request).status()
    healthy = sum(1 for row in rows if row["healthy"])
    return JSONResponse(
        {"healthy_count": healthy, "unhealthy_count": len(rows) - healthy, "deployments": rows}
    )


@router.post("/config/reload", openapi_extra=described(returns=m.ConfigReloaded))
async def reload_config(request: Request, _caller: Principal = Admin) -> JSONResponse:
    try:
        summary = request.app.state.reload()
    except ConfigError as exc:
        raise InvalidRequest(
            f"The config was not reloaded; the running config stays in force.\n{exc}",
            param="config",
            code="invalid_config",
        ) from None
    return JSONResponse({"reloaded": True, **summary.as_dict()})


@router.get("/jobs/{video_id}", openapi_extra=described(returns=m.JobRecord))
async def job_record(video_id: str, request: Request, caller: Principal = Caller) -> JSONResponse:
    """A job's record: any owner's for the master key, the caller's own for a virtual key."""
    if caller.is_admin:
        job: Job | None = await request.app.state.jobs.store.get(video_id)
        if job is None:
            raise NotFound(f"No video found with id '{video_id}'.", param="video_id")
    else:
        job = await request.app.state.jobs.owned(caller, video_id)
    webhooks: Webhooks = request.app.state.webhooks
    owner = None if caller.is_admin else caller.key_id
    deliveries = await webhooks.store.for_video(job.id, owner)
    record = _record(job)
    if not caller.is_admin:
        del record["upstream_model"]
    else:
        record["upstream_id"] = job.upstream_id
        record["after_deadline"] = (job.upstream or {}).get("overdue")
    record["progress"] = job.progress
    record["request"] = _request_sent(job.request or {}, admin=caller.is_admin)
    record["webhook_deliveries"] = [
        {**delivery.public(), "endpoint_id": delivery.endpoint_id} for delivery in deliveries
    ]
    return JSONResponse(record)


def _request_sent(data: dict[str, Any], *, admin: bool) -> dict[str, Any]:
    """The job's resolved request as ``/jobs/{id}`` shows it: no storage keys or result
    locations, URLs and options redacted, the upstream model and task ids for the master key."""
    width, height = data.get("width"), data.get("height")
    shown: dict[str, Any] = {
        "operation": data.get("operation"),
        "prompt": data.get("prompt"),
        "seconds": data.get("seconds"),
        "size": f"{width}x{height}" if width and height else None,
        "fps": data.get("fps"),
        "seed": data.get("seed"),
        "negative_prompt": data.get("negative_prompt"),
        "audio": data.get("audio"),
        "images": [_image_sent(image) for image in data.get("images") or ()],
        "options": {
            name: REDACTED if SECRET_OPTION.search(name) else REDACTOR.value(value)
            for name, value in (data.get("options") or {}).items()
        },
    }
    source = data.get("source")
    if source:
        shown["source"] = {"video_id": source.get("job_id"), "seconds": source.get("seconds")}
        if admin:
            shown["source"]["upstream_id"] = source.get("upstream_id")
    if admin:
        shown["upstream_model"] = data.get("upstream_model")
    return shown


def _image_sent(image: dict[str, Any]) -> dict[str, Any]:
    asset = image.get("asset") or {}
    kind = asset.get("kind")
    shown = {"role": image.get("role"), "kind": "upload" if kind == "blob" else kind}
    if kind in ("url", "file_id"):
        value = str(asset.get("value") or "")
        shown[kind] = "data URI" if value.startswith("data:") else REDACTOR(value)
    shown["content_type"] = asset.get("content_type")
    return shown


def _record(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "owner_key_id": job.owner_key_id,
        "end_user": job.end_user,
        "model": job.model,
        "deployment_id": job.deployment_id,
        "provider": job.provider,
        "upstream_model": job.upstream_model,
        "operation": job.operation,
        "status": job.status,
        "phase": job.phase,
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "attempts": job.attempts or [],
        "reserved_usd": job.reserved_usd,
        "cost_usd": job.cost_usd,
        "budget_ids": job.budget_ids or [],
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "deleted_at": job.deleted_at,
        "deadline_at": job.deadline_at,
    }


def _admin_row(job: Job) -> dict[str, Any]:
    """A row of ``/admin/jobs``: the ``/jobs/{id}`` record plus what a list shows."""
    return {
        **_record(job),
        "prompt": job.prompt,
        "progress": job.progress,
        "size": job.size,
        "seconds": job.seconds,
        "remixed_from": job.remixed_from,
        "updated_at": job.updated_at,
        "expires_at": job.expires_at,
    }


# --- listings -----------------------------------------------------------------------------

JOB_PARAMS = (
    "status", "model", "provider", "key_id", "user", "after", "before", "q", "limit", "after_id"
)  # fmt: skip
REQUEST_PARAMS = (
    "route", "status", "key_id", "model", "request_id", "moderation", "after", "before", "limit",
    "after_id",
)  # fmt: skip
MODERATION_OUTCOMES = ("passed", "blocked", "error")
LIST_MAX = 200
LIST_DEFAULT = 50
_STATUS_CODE = re.compile(r"[1-5](?:[0-9]{2}|xx)")
_SEQ = re.compile(r"[0-9]{1,18}")


def _limit(query: QueryParams) -> int:
    return page_limit(query.get("limit"), LIST_MAX, LIST_DEFAULT)


def _page(rows: list[dict[str, Any]], has_more: bool, cursor: str) -> JSONResponse:
    return JSONResponse(
        {
            "object": "list",
            "data": rows,
            "first_id": rows[0][cursor] if rows else None,
            "last_id": rows[-1][cursor] if rows else None,
            "has_more": has_more,
        }
    )


async def _after_job(request: Request, query: QueryParams) -> int | None:
    after_id = text(query, "after_id")
    if after_id is None:
        return None
    job: Job | None = await request.app.state.jobs.store.get(after_id)
    if job is None:
        raise InvalidRequest(
            f"Invalid value for 'after_id': '{after_id}'. "
            "Allowed: a job id, the 'last_id' of the previous page.",
            param="after_id",
        )
    return job.seq


_LIST_PAGE = (
    query(
        "limit",
        f"Rows per page, 1 to {LIST_MAX}.",
        type="integer",
        minimum=1,
        maximum=LIST_MAX,
        default=LIST_DEFAULT,
    ),
)


@router.get(
    "/admin/jobs",
    openapi_extra=described(
        params=[
            query("status", "running: queued or in_progress.", **enum(JOB_STATUSES)),
            query("model", "A public model name."),
            query("provider", "A provider name."),
            query("key_id", "The owning key's id (master for the master key's own)."),
            query("user", "The end user (the create's 'user' field)."),
            query("after", f"Created at or after this time: {TIME_FORMS}."),
            query("before", f"Created before this time (a date: before its end): {TIME_FORMS}."),
            query("q", "A job id, or text in the prompt (case-insensitive).", maxLength=500),
            *_LIST_PAGE,
            query("after_id", "The 'last_id' of the previous page (a job id)."),
        ],
        returns=m.AdminJobList,
    ),
)
async def admin_jobs(request: Request, _caller: Principal = Admin) -> JSONResponse:
    """Every key's jobs, running ones included, newest first."""
    query = request.query_params
    known_only(query, JOB_PARAMS)
    where = jobs_where(query, "after", "before", key_id=text(query, "key_id"))
    limit, after_seq = _limit(query), await _after_job(request, query)
    found, has_more = await listing.page(
        request.app.state.jobs.store, where, limit=limit, after_seq=after_seq
    )
    return _page([_admin_row(job) for job in found], has_more, "id")


def _status_range(query: QueryParams) -> tuple[int | None, int | None]:
    status = text(query, "status")
    if status is None:
        return None, None
    if not _STATUS_CODE.fullmatch(status):
        raise InvalidRequest(
            f"Invalid value for 'status': '{status}'. "
            "Allowed: an HTTP status (100 to 599) or a class (1xx, 2xx, 3xx, 4xx, 5xx).",
            param="status",
        )
    if status.endswith("xx"):
        first = int(status[0]) * 100
        return first, first + 99
    return int(status), int(status)


def _after_seq(query: QueryParams) -> int | None:
    after_id = text(query, "after_id")
    if after_id is None:
        return None
    if not _SEQ.fullmatch(after_id):
        raise InvalidRequest(
            f"Invalid value for 'after_id': '{after_id}'. "
            "Allowed: the 'last_id' of the previous page (an integer).",
            param="after_id",
        )
    return int(after_id)


def _moderation(query: QueryParams) -> str | None:
    value = query.get("moderation") or None
    if value is not None and value not in MODERATION_OUTCOMES:
        raise InvalidRequest(
            f"Invalid value for 'moderation': {value[:40]!r}. "
            f"Allowed: {', '.join(MODERATION_OUTCOMES)}.",
            param="moderation",
        )
    return value


@router.get(
    "/admin/requests",
    openapi_extra=described(
        params=[
            query("route", "The route, ids replaced: /v1/videos/{id}."),
            query(
                "status", "An HTTP status (404) or a class (4xx).", pattern="^[1-5]([0-9]{2}|xx)$"
            ),
            query("key_id", "The calling key's id."),
            query("model", "A public model name."),
            query("request_id", "The x-request-id of a response."),
            query("moderation", "The moderation check's outcome.", **enum(MODERATION_OUTCOMES)),
            query("after", f"At or after this time: {TIME_FORMS}."),
            query("before", f"Before this time (a date: before its end): {TIME_FORMS}."),
            *_LIST_PAGE,
            query("after_id", "The 'last_id' of the previous page (a row's seq)."),
        ],
        returns=m.RequestLogList,
    ),
)
async def admin_requests(request: Request, _caller: Principal = Admin) -> JSONResponse:
    """The request log, newest first."""
    query = request.query_params
    known_only(query, REQUEST_PARAMS)
    start, end = time_range(query)
    status_from, status_to = _status_range(query)
    where = request_log.RequestFilter(
        route=text(query, "route"),
        status_from=status_from,
        status_to=status_to,
        key_id=text(query, "key_id"),
        model=text(query, "model"),
        request_id=text(query, "request_id"),
        moderation=_moderation(query),
        after=start,
        before=end,
    )
    rows, has_more = await request_log.page(
        request.app.state.request_log.db, where, limit=_limit(query), after_seq=_after_seq(query)
    )
    return _page(rows, has_more, "seq")
