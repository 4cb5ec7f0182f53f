"""An in-memory simulator of an Azure OpenAI resource serving Sora video deployments.

Why this exists: the azure adapter, its tests and offline development need an upstream that
speaks Azure's two video APIs without network or cost. It is an independent implementation
of ``shared/reference/providers/azure.md`` and imports neither the azure spec nor adapter.

One resource, several deployments (``config.deployments``: deployment name -> model). Every
``/openai/...`` call needs ``api-key: <key>`` (or ``Authorization: Bearer <Entra token>`` when
``config.entra_token`` is set); otherwise 401 with Azure's front-door body.

**v1 API (Sora 2)** — the OpenAI Videos wire format; ``model`` is the deployment name;
``?api-version`` optional (``preview``/``latest`` tolerated):
``POST /openai/v1/videos`` (JSON or multipart), ``GET /openai/v1/videos``,
``GET|DELETE /openai/v1/videos/{id}``, ``GET /openai/v1/videos/{id}/content?variant=video``,
``POST /openai/v1/videos/{id}/remix``. Edits, extensions and characters answer 404.
Sizes ``720x1280``/``1280x720``; ``seconds`` in ``config.v1_seconds`` (``"16"`` is rejected by
default, as one real deployment did); ``input_reference`` must match ``size`` exactly.

**Legacy jobs API (Sora 1)** — ``?api-version=preview`` (or a dated ``-preview``) required:
``POST /openai/v1/video/generations/jobs`` (JSON, or multipart with ``files`` and
``inpaint_items``; answers 201), ``GET .../jobs?limit=``, ``GET|DELETE .../jobs/{id}``,
``GET .../generations/{gen}``, ``GET|HEAD .../generations/{gen}/content/video`` (``quality``,
``If-Modified-Since``), ``GET .../generations/{gen}/content/thumbnail``. Statuses
preprocessing -> queued -> running -> processing -> succeeded | failed; no progress.

A deployment only answers on its own API: a Sora 2 deployment gets 404 from the jobs API and
a Sora 1 deployment 404 from v1. With ``config.max_running_jobs`` set, a create beyond that
many unfinished jobs per resource answers 429. Results are served for
``config.expires_after_s`` (24 h), then 404.

Fault markers in the prompt: ``[sim:fail]`` (v1: failed with ``moderation_blocked``; jobs:
failed with ``failure_reason: output_moderation``), ``[sim:policy]`` (jobs create refused
with ``inner_error.code: ResponsibleAIPolicyViolation``), ``[sim:429]``, ``[sim:500]``,
``[sim:unknown-status]``, ``[sim:malformed]`` (first poll: v1 ``{}``, jobs a truncated JSON
object), ``[sim:poll-429]``, ``[sim:slow]`` (10x longer), ``[sim:hang]`` (create answers after
``config.hang_seconds``; returns early if the client goes away).

Introspection (no auth): ``GET /__sim__/log``, ``POST /__sim__/reset``; ``app.state.sim`` is
the :class:`SimState` (``auth_seen`` holds the auth headers of every call).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.azure import _sim_jobs as jobs_api
from vidgate.providers.azure._sim_state import (
    V1_SIZES,
    SimJob,
    SimState,
    SimulatorConfig,
    check_faults,
    require_prompt,
)
from vidgate.providers.azure._sim_wire import (
    AzureError,
    api_version,
    error_response,
    front_door_check,
    front_door_headers,
    image_size,
    invalid,
    not_found,
    rate_limited,
    read_body,
)
from vidgate.providers.simkit import Guard, ResponseHeaders, mp4_response, sim_app

__all__ = ["SimState", "SimulatorConfig", "create_app"]

# --- v1 API: Sora 2 --------------------------------------------------------------------


def video_json(job: SimJob, config: SimulatorConfig) -> dict[str, Any]:
    phase, fraction = job.phase()
    status = {"queued": "queued", "running": "in_progress"}.get(phase, "completed")
    if phase == "done" and "fail" in job.markers:
        status = "failed"
    elif phase == "running" and "unknown-status" in job.markers:
        status = "rendering"
    done = phase == "done"
    error = None
    if status == "failed":
        error = {
            "code": "moderation_blocked",
            "message": "Your request was blocked by our moderation system.",
        }
    return {
        "id": job.id,
        "object": "video",
        "model": job.deployment,
        "status": status,
        "progress": 100 if done else int(fraction * 100),
        "created_at": int(job.created_at),
        "completed_at": int(job.finished_at) if done else None,
        "expires_at": int(job.created_at + config.expires_after_s) if done else None,
        "prompt": job.prompt,
        "size": f"{job.width}x{job.height}",
        "seconds": str(job.seconds),
        "remixed_from_video_id": job.remixed_from,
        "error": error,
    }


async def v1_create(request: Request) -> Response:
    sim = SimState.of(request)
    version = api_version(request, required=False)
    body = await read_body(request)
    prompt = require_prompt(body)
    deployment = sim.deployment(body, "v1")
    size = body.fields.get("size", "720x1280")
    if size not in V1_SIZES:
        raise invalid(
            f"Invalid value: '{size}'. Supported values are: '720x1280' and '1280x720'.",
            "size",
            "invalid_value",
        )
    seconds = str(body.fields.get("seconds", "4"))
    if seconds not in sim.config.v1_seconds:
        allowed = ", ".join(f"'{s}'" for s in sim.config.v1_seconds)
        raise invalid(
            f"Invalid value: '{seconds}'. Supported values are: {allowed}.",
            "seconds",
            "invalid_value",
        )
    width, height = (int(v) for v in size.split("x"))
    for upload in body.files.get("input_reference", []):
        if image_size(upload.data) != (width, height):
            raise invalid("Inpaint image must match the requested width and height")
    await check_faults(request, prompt, "Videos_Create", version)
    job = sim.new_job("v1", deployment, prompt, width=width, height=height, seconds=int(seconds))
    return JSONResponse(video_json(job, sim.config))


async def v1_remix(request: Request) -> Response:
    sim = SimState.of(request)
    version = api_version(request, required=False)
    source = sim.job(request.path_params["video_id"], "v1")
    prompt = require_prompt(await read_body(request))
    if video_json(source, sim.config)["status"] != "completed":
        raise invalid(f"Video '{source.id}' is not completed.", "video_id", "invalid_value")
    await check_faults(request, prompt, "Videos_Remix", version)
    shape = {"width": source.width, "height": source.height, "seconds": source.seconds}
    job = sim.new_job("v1", source.deployment, prompt, remixed_from=source.id, **shape)
    return JSONResponse(video_json(job, sim.config))


async def v1_retrieve(request: Request) -> Response:
    sim = SimState.of(request)
    api_version(request, required=False)
    job = sim.job(request.path_params["video_id"], "v1")
    if job.poll_429:
        job.poll_429 = False
        raise rate_limited("Videos_Get", "v1")
    if job.malformed:
        job.malformed = False
        return JSONResponse({})
    return JSONResponse(video_json(job, sim.config))


async def v1_list(request: Request) -> Response:
    sim = SimState.of(request)
    api_version(request, required=False)
    query = request.query_params
    limit = int(query.get("limit", "20")) if query.get("limit", "20").isdigit() else -1
    if not 0 <= limit <= 100:
        raise invalid("Invalid 'limit': expected an integer 0-100.", "limit", "invalid_value")
    jobs = [job for job in sim.jobs.values() if job.api == "v1"]
    if query.get("order", "desc") == "desc":
        jobs.reverse()
    if after := query.get("after"):
        ids = [job.id for job in jobs]
        jobs = jobs[ids.index(after) + 1 :] if after in ids else []
    page = [video_json(job, sim.config) for job in jobs[:limit]]
    return JSONResponse(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(jobs) > limit,
        }
    )


async def v1_delete(request: Request) -> Response:
    sim = SimState.of(request)
    api_version(request, required=False)
    job = sim.job(request.path_params["video_id"], "v1")
    status = video_json(job, sim.config)["status"]
    if status not in ("completed", "failed"):
        raise invalid(f"Video '{job.id}' is {status}; only finished videos can be deleted.")
    del sim.jobs[job.id]
    return JSONResponse({"id": job.id, "object": "video.deleted", "deleted": True})


async def v1_content(request: Request) -> Response:
    sim = SimState.of(request)
    api_version(request, required=False)
    job = sim.job(request.path_params["video_id"], "v1")
    variant = request.query_params.get("variant", "video")
    if variant != "video":
        raise invalid(f"Invalid value: '{variant}'. Supported values are: 'video'.", "variant")
    body = video_json(job, sim.config)
    if body["status"] != "completed":
        raise invalid("Video is not ready yet, check the status.", code="not_found", status=404)
    if time.time() > job.created_at + sim.config.expires_after_s:
        raise invalid("Video content has expired.", code="not_found", status=404)
    return await mp4_response(job.width, job.height, job.seconds, sim.config.fps)


async def v1_unsupported(request: Request) -> Response:
    raise not_found()


async def _on_azure_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AzureError)
    return error_response(exc)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(not_found())
    return error_response(
        AzureError(
            exc.status_code, {"error": {"code": str(exc.status_code), "message": str(exc.detail)}}
        )
    )


V1 = "/openai/v1/videos"
ROUTES = [
    Route(V1, v1_create, methods=["POST"]),
    Route(V1, v1_list, methods=["GET"]),
    Route(f"{V1}/edits", v1_unsupported, methods=["POST"]),
    Route(f"{V1}/extensions", v1_unsupported, methods=["POST"]),
    Route(f"{V1}/characters", v1_unsupported, methods=["POST"]),
    Route(V1 + "/{video_id}", v1_retrieve, methods=["GET"]),
    Route(V1 + "/{video_id}", v1_delete, methods=["DELETE"]),
    Route(V1 + "/{video_id}/content", v1_content, methods=["GET"]),
    Route(V1 + "/{video_id}/remix", v1_remix, methods=["POST"]),
]

API_PATH = ""  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """Build the simulator ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    check = front_door_check(
        lambda: state.config.api_key, lambda: state.config.entra_token, state.auth_seen
    )
    return sim_app(
        state,
        [*ROUTES, *jobs_api.ROUTES],
        [
            Middleware(ResponseHeaders, make=front_door_headers, under=("/openai/",)),
            Middleware(Guard, check=check, under=("/openai/",)),
        ],
        {AzureError: _on_azure_error, HTTPException: _on_http_error},
    )
