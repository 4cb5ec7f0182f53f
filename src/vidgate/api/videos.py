"""The OpenAI Videos API routes; each parses, calls the job service, and shapes the reply.

Mounted under ``/v1`` and at the root. Responses are serialised straight from job rows
(see ``api/objects.py``) to keep the hot retrieve path to one indexed read.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response, StreamingResponse

from vidgate.accounting.keys import Principal
from vidgate.api import openapi_models as m
from vidgate.api.auth import principal
from vidgate.api.body import discard_uploads, read_fields
from vidgate.api.content import content_response
from vidgate.api.events import video_events
from vidgate.api.extended import canonical
from vidgate.api.images import check_images
from vidgate.api.listparams import JOB_STATUSES, TIME_FORMS, job_filter
from vidgate.api.objects import video_deleted, video_list, video_object
from vidgate.api.schema import IDEMPOTENCY_KEY, described, enum, header, page, query
from vidgate.api.urls import base_url
from vidgate.errors import GatewayError, InvalidRequest
from vidgate.jobs.service import JobService
from vidgate.jobs.store import Job
from vidgate.observe.requests import note
from vidgate.request import VideoRequest, parse_request
from vidgate.routing.live import LiveDeployments
from vidgate.values import VARIANTS, Operation

router = APIRouter()
Caller = Depends(principal)
POLL_AFTER_MS_MIN = 200
POLL_AFTER_MS_MAX = 10_000
MAX_IDEMPOTENCY_KEY = 255
MAX_DROPPED_HEADER = 1024
"""Longest ``x-vidgate-dropped-params`` value (header limits of clients start near 8 KiB)."""


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _video(request: Request, job: Job) -> Response:
    note(request.scope, job_id=job.id, model=job.model, deployment_id=job.deployment_id)
    headers = video_headers(job, request.app.state.live)
    body = video_body(job, base_url(request.scope))
    return Response(body, media_type="application/json", headers=headers)


def video_body(job: Job, base: str) -> bytes:
    return json.dumps(video_object(job, base), separators=(",", ":")).encode()


def video_headers(job: Job, live: LiveDeployments) -> dict[str, str]:
    """``x-vidgate-deployment``, ``openai-poll-after-ms`` while the job runs, and
    ``x-vidgate-dropped-params`` when ``drop_params`` dropped fields of its request."""
    headers = {"x-vidgate-deployment": job.deployment_id}
    headers.update(dropped_header(job))
    if not job.terminal:
        headers["openai-poll-after-ms"] = str(_poll_after_ms(job, live))
    return headers


def dropped_header(job: Job) -> dict[str, str]:
    """``x-vidgate-dropped-params: seed,fps`` (names as sent) if the deployment that took the
    job dropped anything; else nothing.

    A dropped ``metadata`` key is named as the client spelled it, so each name is
    percent-encoded (a header carries ASCII only: no newline, no ``ключ``) and the list is cut
    at ``MAX_DROPPED_HEADER`` characters, ending ``,...``; ``dropped_params`` in the body has
    the names whole."""
    dropped = job.request.get("dropped") if job.request else None
    if not dropped:
        return {}
    value = ",".join(quote(str(name), safe="._-[]") for name in dropped)
    if len(value) > MAX_DROPPED_HEADER:
        value = value[: MAX_DROPPED_HEADER - 4].rsplit(",", 1)[0] + ",..."
    return {"x-vidgate-dropped-params": value}


def _poll_after_ms(job: Job, live: LiveDeployments) -> int:
    """Until the gateway's next look at the upstream: polling sooner cannot see news."""
    if job.next_poll_at is not None:
        seconds = job.next_poll_at - time.time()
    else:
        deployment = live.deployment(job.deployment_id)
        seconds = deployment.poll_interval_s if deployment else 2.0
    return min(POLL_AFTER_MS_MAX, max(POLL_AFTER_MS_MIN, int(seconds * 1000)))


def _service(request: Request) -> JobService:
    service: JobService = request.app.state.jobs
    return service


async def _create(
    request: Request, caller: Principal, operation: Operation, source_id: str | None = None
) -> Response:
    job = await submit(
        request, caller, operation, await read_fields(request, files=True), source_id
    )
    return _video(request, job)


async def submit(
    request: Request,
    caller: Principal,
    operation: Operation,
    fields: dict[str, Any],
    source_id: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Job:
    """Parse ``fields`` (OpenAI's, or the extended ones) and submit the job: the one create
    path every client surface goes through. ``names`` says what a surface's client called
    the canonical fields it renamed (``seconds`` sent as ``duration``), for errors."""
    try:
        key = idempotency_key(request)
    except GatewayError:
        await discard_uploads(fields, request.app.state.storage)
        raise
    video = await parsed(request, operation, fields, source_id, names, lenient(request, caller))
    note(request.scope, end_user=video.user)
    return await _service(request).submit(caller, video, key)


async def parsed(
    request: Request,
    operation: Operation,
    fields: dict[str, Any],
    source_id: str | None = None,
    names: Mapping[str, str] | None = None,
    drop_params: bool = False,
) -> VideoRequest:
    """The parsed request; its uploads are deleted if it fails. ``drop_params``: the
    caller's default (``lenient``), which the body's own ``drop_params`` overrides."""
    storage = request.app.state.storage
    try:
        body = canonical(fields)
        names = {**body.names, **(names or {})}
        video = parse_request(
            operation, body.body, source_video_id=source_id, names=names, drop_params=drop_params
        )
        await check_images(video, storage)
    except GatewayError:
        await discard_uploads(fields, storage)
        raise
    return video


def lenient(request: Request, caller: Principal) -> bool:
    """``drop_params`` unless the request says: the key's setting, else the gateway's."""
    if caller.drop_params is not None:
        return caller.drop_params
    return bool(_service(request).settings.drop_params)


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, at most 255 characters (the column's size)."""
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidRequest(
            f"Invalid value for 'Idempotency-Key': {len(key)} characters; "
            f"allowed: at most {MAX_IDEMPOTENCY_KEY}.",
            param="Idempotency-Key",
        )
    return key


@router.post(
    "/videos",
    openapi_extra=described(
        body=m.VideoCreate, form=m.VideoCreateForm, params=[IDEMPOTENCY_KEY], returns=m.Video
    ),
)
async def create_video(request: Request, caller: Principal = Caller) -> Response:
    # called by ``api/createpath.py`` below the framework; the route describes it
    return await _create(request, caller, "create")


@router.post(
    "/videos/estimate",
    openapi_extra=described(body=m.VideoCreate, form=m.VideoCreateForm, returns=m.VideoEstimate),
)
async def estimate_video(request: Request, caller: Principal = Caller) -> Response:
    """A dry run of ``POST /videos``: its cost and whether this key would be admitted."""
    fields = await read_fields(request, files=True)
    video = await parsed(request, "create", fields, drop_params=lenient(request, caller))
    return _json(await _service(request).estimate(caller, video))


@router.post(
    "/videos/edits",
    openapi_extra=described(
        body=m.VideoEdit, form=m.VideoEditForm, params=[IDEMPOTENCY_KEY], returns=m.Video
    ),
)
async def edit_video(request: Request, caller: Principal = Caller) -> Response:
    return await _create(request, caller, "edit")


@router.post(
    "/videos/extensions",
    openapi_extra=described(
        body=m.VideoExtend, form=m.VideoExtendForm, params=[IDEMPOTENCY_KEY], returns=m.Video
    ),
)
async def extend_video(request: Request, caller: Principal = Caller) -> Response:
    return await _create(request, caller, "extend")


@router.post(
    "/videos/{video_id}/remix",
    openapi_extra=described(
        body=m.VideoRemix, form=m.VideoRemix, params=[IDEMPOTENCY_KEY], returns=m.Video
    ),
)
async def remix_video(video_id: str, request: Request, caller: Principal = Caller) -> Response:
    return await _create(request, caller, "remix", video_id)


_FILTERS = (
    query("status", "vidgate: running means queued or in_progress.", **enum(JOB_STATUSES)),
    query("model", "vidgate: only this public model name."),
    query("provider", "vidgate: only jobs served by this provider."),
    query("user", "vidgate: only this end user's jobs (the create's 'user' field)."),
    query("q", "vidgate: a video id, or text in the prompt (case-insensitive).", maxLength=500),
    query("created_after", f"vidgate: created at or after this time: {TIME_FORMS}."),
    query("created_before", f"vidgate: created before this time: {TIME_FORMS}."),
)


@router.get(
    "/videos",
    openapi_extra=described(
        params=[*page("The last video id of the previous page."), *_FILTERS],
        returns=m.VideoList,
    ),
)
async def list_videos(request: Request, caller: Principal = Caller) -> Response:
    """The caller's videos; vidgate's filters narrow them (OpenAI's cursor still pages)."""
    query = request.query_params
    limit = page_limit(query.get("limit"))
    order = query.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise InvalidRequest(
            f"Invalid value for 'order': '{order}'. Allowed: asc, desc.", param="order"
        )
    page = await _service(request).list(
        caller, after=query.get("after"), limit=limit, order=order, where=job_filter(query)
    )
    return _json(video_list(page.jobs, page.has_more, base_url(request.scope)))


def page_limit(value: str | None, most: int = 100, default: int = 20) -> int:
    """A list route's ``limit`` query parameter: 1 to ``most``, else ``default``."""
    if value is None or value == "":
        return default
    digits = len(str(most))
    if not re.fullmatch(f"[0-9]{{1,{digits}}}", value) or not 1 <= int(value) <= most:
        raise InvalidRequest(
            f"Invalid value for 'limit': '{value}'. Allowed: an integer from 1 to {most}.",
            param="limit",
        )
    return int(value)


@router.get(
    "/videos/events",
    response_class=StreamingResponse,
    openapi_extra=described(
        params=[
            query("video_id", "Watch only this video (404 if it is not the caller's)."),
            query(
                "until", "'terminal': end once the watched jobs all ended.", **enum(["terminal"])
            ),
            query(
                "timeout_s", "End the stream after this many seconds (1 to 86400).", type="integer"
            ),
        ],
        returns_media=("text/event-stream",),
    ),
)
async def watch_videos(request: Request, caller: Principal = Caller) -> StreamingResponse:
    """Server-sent ``video.updated`` events for the caller's jobs (the master key: all)."""
    return await video_events(request, caller)


@router.get("/videos/{video_id}", openapi_extra=described(returns=m.Video))
async def retrieve_video(video_id: str, request: Request, caller: Principal = Caller) -> Response:
    return _video(request, await _service(request).get(caller, video_id))


@router.delete("/videos/{video_id}", openapi_extra=described(returns=m.VideoDeleted))
async def delete_video(video_id: str, request: Request, caller: Principal = Caller) -> Response:
    job = await _service(request).delete(caller, video_id)
    return _json(video_deleted(job.id))


_CONTENT: dict[str, Any] = {
    "response_class": Response,
    "openapi_extra": described(
        params=[
            query("variant", "Which asset.", **enum(VARIANTS, "video")),
            header("Range", "A byte range, e.g. 'bytes=0-1023' (206 Partial Content)."),
            header("If-Range", "The ETag the Range applies to."),
            header("If-None-Match", "An ETag already held (304 Not Modified)."),
        ],
        returns_media=("video/mp4", "image/webp", "image/jpeg", "image/png"),
    ),
}


@router.get("/videos/{video_id}/content", **_CONTENT)
@router.head("/videos/{video_id}/content", **_CONTENT)  # its own route: a unique operationId
async def video_content(video_id: str, request: Request, caller: Principal = Caller) -> Response:
    variant = request.query_params.get("variant") or "video"
    if variant not in VARIANTS:
        raise InvalidRequest(
            f"Invalid value for 'variant': '{variant}'. Allowed: {', '.join(VARIANTS)}.",
            param="variant",
        )
    asset = await _service(request).content(caller, video_id, variant)
    ext = asset["key"].rsplit(".", 1)[-1]
    return content_response(request, request.app.state.storage, asset, f"{video_id}.{ext}")
