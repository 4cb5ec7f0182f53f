"""new-api's task routes: ``POST /v1/video/generations`` and ``GET /v1/video/generations/{id}``.

So that a client written for new-api (QuantumNous), or a new-api instance that polls
vidgate as its upstream, works unchanged. This module only parses and renders: a create
goes through ``videos.submit`` — the one create path of every surface — and a poll reads
the job through ``JobService.get``, as ``GET /v1/videos/{id}`` does; the task id *is* the
video id, so one job is visible on both surfaces. Wire shapes and the reasons for each
choice are in ``docs/compat-newapi.md``:

- create answers the OpenAI video object (with ``task_id``), as current new-api does;
- a poll answers ``{"code": "success", "message": "", "data": TaskDto}`` with new-api's
  upper-case statuses, ``"NN%"`` progress and Unix-second times; on success the content URL
  is in ``result_url`` and, as older new-api did, in ``fail_reason``: a chained new-api's
  poller decodes the answer into its ``Task`` type, which has no ``result_url``, and takes
  the URL from ``fail_reason`` (newest builds also from ``data.url``);
- errors of these routes carry new-api's TaskError keys (``code``, ``message``,
  ``data: null``) and the OpenAI ``error`` object in one body, with vidgate's HTTP status;
  an unknown or another key's task is new-api's 400 ``task_not_exist``. Authentication
  failures stay OpenAI-shaped 401s from the shared handler, as new-api's middleware does.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from vidgate.accounting.keys import Principal
from vidgate.api import openapi_models as m
from vidgate.api.auth import principal
from vidgate.api.body import read_fields
from vidgate.api.errors import error_response
from vidgate.api.extended import image_ref
from vidgate.api.objects import content_url, video_object
from vidgate.api.schema import IDEMPOTENCY_KEY, described
from vidgate.api.urls import base_url
from vidgate.api.videos import submit, video_body, video_headers
from vidgate.errors import GatewayError, NotFound
from vidgate.jobs.service import JobService
from vidgate.jobs.store import Job
from vidgate.observe.requests import note

router = APIRouter()
Caller = Depends(principal)
QUOTA_PER_USD = 500_000
"""new-api's default ``QuotaPerUnit``: quota units per US dollar (informative only)."""
STATUSES = {"completed": "SUCCESS", "failed": "FAILURE", "in_progress": "IN_PROGRESS"}


@router.post(
    "/v1/video/generations",
    openapi_extra=described(
        body=m.TaskCreate, form=m.VideoCreateForm, params=[IDEMPOTENCY_KEY], returns=m.Video
    ),
)
async def create_task(request: Request, caller: Principal = Caller) -> Response:
    try:
        job = await submit(
            request, caller, "create", _fields(await read_fields(request, files=True))
        )
    except GatewayError as exc:
        return task_error(request, exc)
    note(request.scope, job_id=job.id, model=job.model, deployment_id=job.deployment_id)
    return Response(
        video_body(job, base_url(request.scope)),
        media_type="application/json",
        headers=video_headers(job, request.app.state.live),
    )


@router.get("/v1/video/generations/{task_id}", openapi_extra=described(returns=m.TaskFetched))
async def fetch_task(task_id: str, request: Request, caller: Principal = Caller) -> Response:
    service: JobService = request.app.state.jobs
    try:
        job = await service.get(caller, task_id)
    except NotFound:
        return task_error(request, TaskNotExist())
    except GatewayError as exc:
        return task_error(request, exc)
    note(request.scope, job_id=job.id, model=job.model, deployment_id=job.deployment_id)
    body = {"code": "success", "message": "", "data": task_dto(job, base_url(request.scope))}
    return Response(_dumps(body), media_type="application/json")


def _fields(fields: dict[str, Any]) -> dict[str, Any]:
    """new-api's ``input_reference`` is a string (a URL or base64 image), where the OpenAI
    surface takes a file or ``{"image_url": ...}``."""
    value = fields.get("input_reference")
    if isinstance(value, str) and value.strip():
        fields["input_reference"] = image_ref(value, "input_reference")
    return fields


class TaskNotExist(GatewayError):
    """new-api's answer for an unknown task, or one the caller does not own."""

    status = 400
    type = "invalid_request_error"
    code = "task_not_exist"

    def __init__(self) -> None:
        super().__init__("task_not_exist")


def task_error(request: Request, exc: GatewayError) -> Response:
    """``{"code", "message", "data": null}`` (new-api's TaskError) plus the OpenAI ``error``
    object, with the error's status and headers (``Retry-After``)."""
    note(request.scope, error_code=exc.code)
    response = error_response(exc)
    body = {"code": exc.code, "message": exc.message, "data": None, **exc.envelope()}
    response.body = _dumps(body)
    response.headers["content-length"] = str(len(response.body))
    return response


def task_dto(job: Job, base: str) -> dict[str, Any]:
    """new-api's ``TaskDto`` for a job; never an upstream id, host or raw upstream body."""
    status = task_status(job)
    url = content_url(base, job.id) if status == "SUCCESS" else None
    reason = (job.error_message or "") if status == "FAILURE" else (url or "")
    dto: dict[str, Any] = {
        "id": job.seq,
        "created_at": int(job.created_at),
        "updated_at": int(job.updated_at),
        "task_id": job.id,
        "platform": job.provider,
        "user_id": 0,
        "group": "",
        "channel_id": 0,
        "quota": task_quota(job),
        "action": task_action(job),
        "status": status,
        "fail_reason": reason,
        "submit_time": int(job.created_at),
        "start_time": int(job.started_at or 0),
        "finish_time": int(job.completed_at or 0),
        "progress": f"{100 if job.terminal else job.progress}%",
        "properties": {
            "input": "",
            "upstream_model_name": job.model,
            "origin_model_name": job.model,
        },
        "data": video_object(job, base),
    }
    if url is not None:
        dto["result_url"] = url
    return dto


def task_status(job: Job) -> str:
    """new-api's upper-case status. A queued job is ``SUBMITTED`` until an upstream has it
    (new-api's own ``NOT_START`` is refused by a polling new-api), then ``QUEUED``."""
    if job.status in STATUSES:
        return STATUSES[job.status]
    return "QUEUED" if job.upstream_id else "SUBMITTED"


def task_action(job: Job) -> str:
    """new-api's action: from the operation and the roles the model gave the images."""
    if job.operation != "create":
        return "remixGenerate"  # remix, edit, extend: all made from an existing video
    roles = {image.get("role") for image in job.request.get("images") or ()}
    if "reference" in roles:
        return "referenceGenerate"
    if "last_frame" in roles:
        return "firstTailGenerate"
    return "generate" if roles else "textGenerate"


def task_quota(job: Job) -> int:
    """The amount held while the job runs, the amount charged once it ended, in new-api's
    default quota units (an int, as new-api's ``quota`` is)."""
    usd = job.cost_usd if job.terminal else job.reserved_usd
    return round((usd or 0.0) * QUOTA_PER_USD)


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
