"""An in-memory simulator of the OpenAI Videos API (Sora 2) upstream.

Why this exists: vidgate's OpenAI adapter, its end-to-end tests and its benchmarks need
an upstream that speaks the documented wire format without network access or cost. This
module is an *independent* implementation of that format (it imports nothing from the
rest of vidgate but the simulator kit's plumbing) so that adapter bugs cannot hide behind
shared code.

Routes (all under ``/v1``, bearer auth): ``POST /videos`` (multipart or JSON),
``GET /videos``, ``GET|DELETE /videos/{id}``, ``GET /videos/{id}/content?variant=``,
``POST /videos/{id}/remix``, ``POST /videos/edits``, ``POST /videos/extensions``.
Errors use ``{"error": {"message", "type", "param", "code"}}``; every response carries
``x-request-id``; non-terminal video objects carry ``openai-poll-after-ms``. A POST that
repeats an ``Idempotency-Key`` gets the original video back (HTTP 200).

Job state is derived from timestamps on every read: ``queued`` for
``config.queued_seconds``, then ``in_progress`` (progress climbs 0 -> 100 in
``config.progress_steps`` steps) until ``config.job_seconds`` after creation, then
``completed`` (or ``failed``).

Fault markers, written anywhere in the prompt of a create/remix/edit/extension:

- ``[sim:fail]``           job goes queued -> in_progress -> failed with
                           ``error.code == "moderation_blocked"`` (HTTP 200).
- ``[sim:429]``            the POST itself answers 429 ``rate_limit_exceeded``,
                           ``Retry-After: 1``.
- ``[sim:500]``            the POST itself answers 500 ``server_error``.
- ``[sim:unknown-status]`` while not terminal the status reads ``"rendering"``.
- ``[sim:slow]``           the job takes 10x ``config.job_seconds``.
- ``[sim:poll-429]``       the first ``GET /v1/videos/{id}`` answers 429, later ones are normal.

Content answers 404 until the job is completed and after ``expires_at``. The MP4 is
rendered lazily (solid frames, libx264) and cached per (size, seconds); with
``config.content_paths`` (keyed by ``"<size>/<seconds>"``, ``"<size>"`` or ``"<seconds>"``,
the most specific key that matches the job wins) or ``config.content_path`` (any job) that
file is served instead, with HTTP Range support, so a benchmark can serve real videos of the
size and length each job asked for.

Introspection (no auth): ``GET /__sim__/log`` lists every ``/v1`` request as ``{method, path,
idempotency_key, video_id, status_code, t}`` (``/__sim__`` calls are not logged);
``POST /__sim__/reset`` clears jobs and log. ``app.state.sim`` is the :class:`SimState`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.openai._sim_media import (
    MediaCache,
    SimError,
    SimMiddleware,
    VideoRef,
    error_response,
    parse_size_for_model,
    probe_video,
    read_body,
    require_prompt,
    validate_input_reference,
    validate_seconds,
    video_ref,
)
from vidgate.providers.simkit import BaseConfig, BaseState, Guard, ResponseHeaders, key_check

MARKERS = ("fail", "429", "500", "unknown-status", "slow", "poll-429")
EXPIRY_SECONDS = 3600
CONTENT_TYPES = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
Builder = Callable[["SimState", dict[str, Any], str], Awaitable["SimJob"]]


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream (``[sim:hang]`` is not one of its markers)."""

    api_key: str | None = "sk-sim"
    progress_steps: int = 4
    submit_latency_ms: float = 0.0
    poll_after_ms: int = 200
    content_path: str | None = None
    content_paths: dict[str, str] = field(default_factory=dict)

    def content_file(self, size: str, seconds: int) -> str | None:
        """The file served as the video of a ``size`` x ``seconds`` job, if one is set."""
        for key in (f"{size}/{seconds}", size, str(seconds)):
            if key in self.content_paths:
                return self.content_paths[key]
        return self.content_path


@dataclass
class SimJob:
    """One video job; its status is a function of the clock."""

    id: str
    model: str
    prompt: str
    size: str
    seconds: int
    created_at: float
    started: float
    duration: float
    markers: frozenset[str]
    remixed_from_video_id: str | None = None
    poll_429_pending: bool = False


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; exposed as ``app.state.sim``."""

    jobs: dict[str, SimJob] = field(default_factory=dict)
    idempotency: dict[str, str] = field(default_factory=dict)
    idempotency_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    media: MediaCache = field(default_factory=MediaCache)

    def reset(self) -> None:
        """Forget jobs, idempotency keys and the log."""
        super().reset()
        self.log.clear()

    def status_of(self, job: SimJob, now: float | None = None) -> tuple[str, int]:
        """(status, progress) of job at monotonic time now."""
        elapsed = (time.monotonic() if now is None else now) - job.started
        queued = min(self.config.queued_seconds, job.duration)
        if elapsed >= job.duration:
            return ("failed", 0) if "fail" in job.markers else ("completed", 100)
        if elapsed < queued:
            return "queued", 0
        steps = max(self.config.progress_steps, 1)
        fraction = (elapsed - queued) / max(job.duration - queued, 1e-9)
        progress = min(99, int(fraction * steps) * 100 // steps)
        running = "rendering" if "unknown-status" in job.markers else "in_progress"
        return running, progress

    def video_json(self, job: SimJob) -> dict[str, Any]:
        status, progress = self.status_of(job)
        finished = status in ("completed", "failed")
        completed_at = int(job.created_at + job.duration) if finished else None
        expires_at = (
            completed_at + EXPIRY_SECONDS if completed_at and status == "completed" else None
        )
        error = None
        if status == "failed":
            error = {"code": "moderation_blocked", "message": "Blocked by the moderation system."}
        return {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": status,
            "progress": progress,
            "created_at": int(job.created_at),
            "completed_at": completed_at,
            "expires_at": expires_at,
            "prompt": job.prompt,
            "size": job.size,
            "seconds": str(job.seconds),
            "remixed_from_video_id": job.remixed_from_video_id,
            "error": error,
        }

    def video_response(self, job: SimJob) -> JSONResponse:
        body = self.video_json(job)
        headers = {}
        if body["status"] not in ("completed", "failed"):
            headers["openai-poll-after-ms"] = str(self.config.poll_after_ms)
        return JSONResponse(body, headers=headers)

    def new_job(
        self, prompt: str, model: str, size: str, seconds: int, remixed_from: str | None = None
    ) -> SimJob:
        markers = frozenset(m for m in MARKERS if f"[sim:{m}]" in prompt)
        duration = self.config.job_seconds * (10 if "slow" in markers else 1)
        job = SimJob(
            id="video_" + secrets.token_hex(24),
            model=model,
            prompt=prompt,
            size=size,
            seconds=seconds,
            created_at=time.time(),
            started=time.monotonic(),
            duration=duration,
            markers=markers,
            remixed_from_video_id=remixed_from,
            poll_429_pending="poll-429" in markers,
        )
        self.jobs[job.id] = job
        return job

    def get_job(self, video_id: str) -> SimJob:
        job = self.jobs.get(video_id)
        if job is None:
            raise SimError(404, f"Video with id '{video_id}' not found.", code="not_found")
        return job

    def completed_source(self, video_id: str, param: str | None) -> SimJob:
        job = self.get_job(video_id)
        if self.status_of(job)[0] != "completed":
            raise SimError(400, f"Video '{video_id}' is not completed.", param=param)
        return job


def _rate_limited() -> SimError:
    return SimError(
        429,
        "Rate limit reached for requests.",
        type_="requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": "1"},
    )


def _check_faults(prompt: str) -> None:
    if "[sim:429]" in prompt:
        raise _rate_limited()
    if "[sim:500]" in prompt:
        raise SimError(500, "The server had an error.", type_="server_error", code="server_error")


async def _submit(request: Request, build: Builder) -> Response:
    """Shared path of every job-creating POST: latency, idempotency, faults, build."""
    sim = SimState.of(request)
    if sim.config.submit_latency_ms > 0:
        await asyncio.sleep(sim.config.submit_latency_ms / 1000)
    key = request.headers.get("idempotency-key")
    if not key:
        return await _submit_once(request, sim, build, None)
    # Serialise requests that share a key so a retry racing the original cannot fork it.
    async with sim.idempotency_locks.setdefault(key, asyncio.Lock()):
        return await _submit_once(request, sim, build, key)


async def _submit_once(
    request: Request, sim: SimState, build: Builder, key: str | None
) -> Response:
    if key and (known := sim.jobs.get(sim.idempotency.get(key, ""))) is not None:
        request.scope["sim.video_id"] = known.id
        return sim.video_response(known)
    body = await read_body(request)
    prompt = require_prompt(body)
    _check_faults(prompt)
    job = await build(sim, body, prompt)
    if key:
        sim.idempotency[key] = job.id
    request.scope["sim.video_id"] = job.id
    return sim.video_response(job)


async def _build_create(sim: SimState, body: dict[str, Any], prompt: str) -> SimJob:
    model = body.get("model", "sora-2")
    if not isinstance(model, str) or not model:
        raise SimError(400, "Invalid 'model': expected a string.", param="model")
    size = parse_size_for_model(model, body.get("size", "720x1280"))
    seconds = validate_seconds(body.get("seconds", "4"), "seconds")
    if "input_reference" in body and body["input_reference"] is not None:
        validate_input_reference(body["input_reference"], size)
    return sim.new_job(prompt, model, size, seconds)


async def _resolve_source(sim: SimState, ref: VideoRef) -> tuple[str, str, int]:
    """(model, size, seconds) of the video an edit or extension starts from."""
    if isinstance(ref, str):
        source = sim.completed_source(ref, "video")
        return source.model, source.size, source.seconds
    probed = await run_in_threadpool(probe_video, ref.data)
    if probed is None:
        raise SimError(400, "The uploaded 'video' could not be decoded.", param="video")
    return "sora-2", probed[0], probed[1]


async def _build_edit(sim: SimState, body: dict[str, Any], prompt: str) -> SimJob:
    model, size, seconds = await _resolve_source(sim, video_ref(body.get("video")))
    return sim.new_job(prompt, model, size, seconds)


async def _build_extension(sim: SimState, body: dict[str, Any], prompt: str) -> SimJob:
    if "seconds" not in body:
        raise SimError(400, "Missing required parameter: 'seconds'.", param="seconds")
    extra = validate_seconds(body["seconds"], "seconds")
    model, size, seconds = await _resolve_source(sim, video_ref(body.get("video")))
    return sim.new_job(prompt, model, size, seconds + extra)


async def create_video(request: Request) -> Response:
    return await _submit(request, _build_create)


async def edit_video(request: Request) -> Response:
    return await _submit(request, _build_edit)


async def extend_video(request: Request) -> Response:
    return await _submit(request, _build_extension)


async def remix_video(request: Request) -> Response:
    source_id: str = request.path_params["video_id"]

    async def build(sim: SimState, body: dict[str, Any], prompt: str) -> SimJob:
        source = sim.completed_source(source_id, None)
        return sim.new_job(prompt, source.model, source.size, source.seconds, source.id)

    return await _submit(request, build)


async def retrieve_video(request: Request) -> Response:
    sim = SimState.of(request)
    job = sim.get_job(request.path_params["video_id"])
    if job.poll_429_pending:
        job.poll_429_pending = False
        raise _rate_limited()
    return sim.video_response(job)


async def delete_video(request: Request) -> Response:
    sim = SimState.of(request)
    job = sim.get_job(request.path_params["video_id"])
    status, _ = sim.status_of(job)
    if status not in ("completed", "failed"):
        raise SimError(400, f"Video '{job.id}' is {status}; only finished videos can be deleted.")
    del sim.jobs[job.id]
    return JSONResponse({"id": job.id, "object": "video.deleted", "deleted": True})


def _list_params(request: Request) -> tuple[str | None, int, str]:
    query = request.query_params
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        limit = -1
    if not 0 <= limit <= 100:
        raise SimError(400, "Invalid 'limit': expected an integer 0-100.", param="limit")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise SimError(400, "Invalid 'order': expected 'asc' or 'desc'.", param="order")
    return query.get("after"), limit, order


async def list_videos(request: Request) -> Response:
    sim = SimState.of(request)
    after, limit, order = _list_params(request)
    jobs = list(sim.jobs.values())
    if order == "desc":
        jobs.reverse()
    if after:
        ids = [job.id for job in jobs]
        if after not in ids:
            raise SimError(400, f"Invalid 'after': no video '{after}'.", param="after")
        jobs = jobs[ids.index(after) + 1 :]
    page = [sim.video_json(job) for job in jobs[:limit]]
    return JSONResponse(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(jobs) > limit,
        }
    )


async def video_content(request: Request) -> Response:
    sim = SimState.of(request)
    job = sim.get_job(request.path_params["video_id"])
    variant = request.query_params.get("variant", "video")
    if variant not in CONTENT_TYPES:
        raise SimError(400, f"Invalid 'variant': {variant!r}.", param="variant")
    body = sim.video_json(job)
    if body["status"] != "completed":
        raise SimError(404, "Video is not ready yet, check the status.", code="not_found")
    if time.time() > body["expires_at"]:
        raise SimError(404, "Video content has expired.", code="not_found")
    path = sim.config.content_file(job.size, job.seconds) if variant == "video" else None
    if path:
        return FileResponse(path, media_type="video/mp4")
    fps = sim.config.fps
    data = await run_in_threadpool(sim.media.get, variant, job.size, job.seconds, fps)
    return Response(data, media_type=CONTENT_TYPES[variant])


async def sim_log(request: Request) -> Response:
    return JSONResponse(SimState.of(request).log)


async def sim_reset(request: Request) -> Response:
    SimState.of(request).reset()
    return JSONResponse({"reset": True})


async def _handle_sim_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SimError)
    return error_response(exc)


async def _handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else None
    return error_response(SimError(exc.status_code, str(exc.detail), code=code))


async def _handle_crash(request: Request, exc: Exception) -> Response:
    return error_response(SimError(500, f"Internal error: {exc!r}", type_="server_error"))


ROUTES = [
    Route("/v1/videos", create_video, methods=["POST"]),
    Route("/v1/videos", list_videos, methods=["GET"]),
    Route("/v1/videos/edits", edit_video, methods=["POST"]),
    Route("/v1/videos/extensions", extend_video, methods=["POST"]),
    Route("/v1/videos/{video_id}", retrieve_video, methods=["GET"]),
    Route("/v1/videos/{video_id}", delete_video, methods=["DELETE"]),
    Route("/v1/videos/{video_id}/content", video_content, methods=["GET"]),
    Route("/v1/videos/{video_id}/remix", remix_video, methods=["POST"]),
    Route("/__sim__/log", sim_log, methods=["GET"]),
    Route("/__sim__/reset", sim_reset, methods=["POST"]),
]


def _unauthorized(_given: str | None) -> Response:
    msg = "Incorrect API key provided. You can find your API key in your settings."
    return error_response(SimError(401, msg, code="invalid_api_key"))


def _request_id(_request: Request) -> dict[str, str]:
    return {"x-request-id": "req_" + secrets.token_hex(16)}


API_PATH = "/v1"  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """Build the simulator ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    check = key_check(lambda: state.config.api_key, _unauthorized)
    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(SimMiddleware, log=state.log),
            Middleware(ResponseHeaders, make=_request_id),
            Middleware(Guard, check=check, under=("/v1/",)),
        ],
        exception_handlers={
            SimError: _handle_sim_error,
            HTTPException: _handle_http_error,
            Exception: _handle_crash,
        },
    )
    app.state.sim = state
    return app
