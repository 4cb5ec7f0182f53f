"""The legacy preview jobs API (Sora 1) of the Azure video simulator.

``/openai/v1/video/generations/...``, always with ``?api-version=``; see ``simulator.py``.
"""

from __future__ import annotations

import json
import time
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.azure._sim_state import (
    JOBS_SIZES,
    SimJob,
    SimState,
    SimulatorConfig,
    check_faults,
    require_prompt,
)
from vidgate.providers.azure._sim_wire import (
    Body,
    api_version,
    image_size,
    invalid,
    not_found,
    rate_limited,
    read_body,
)
from vidgate.providers.simkit import jpeg_bytes, markers, mp4_bytes

JOBS = "/openai/v1/video/generations"

JOB_STATUS = {"queued": ("preprocessing", "queued"), "running": ("running", "processing")}


def job_status(job: SimJob) -> str:
    phase, fraction = job.phase()
    if phase == "done":
        return "failed" if "fail" in job.markers else "succeeded"
    if "unknown-status" in job.markers and phase == "running":
        return "rendering"
    early, late = JOB_STATUS[phase]
    if phase == "queued":
        elapsed = time.monotonic() - job.timeline.started
        return early if elapsed < job.timeline.queued_s / 2 else late
    return early if fraction < 0.5 else late


def generation_json(job: SimJob, gen_id: str) -> dict[str, Any]:
    return {
        "object": "video.generation",
        "id": gen_id,
        "job_id": job.id,
        "created_at": int(job.finished_at),
        "width": job.width,
        "height": job.height,
        "n_seconds": job.seconds,
        "prompt": job.prompt,
    }


def job_json(job: SimJob, config: SimulatorConfig) -> dict[str, Any]:
    status = job_status(job)
    finished = status in ("succeeded", "failed")
    succeeded = status == "succeeded"
    return {
        "object": "video.generation.job",
        "id": job.id,
        "status": status,
        "created_at": int(job.created_at),
        "finished_at": int(job.finished_at) if finished else None,
        "expires_at": int(job.finished_at + config.expires_after_s) if finished else None,
        "generations": [generation_json(job, g) for g in job.generations] if succeeded else [],
        "prompt": job.prompt,
        "model": job.deployment,
        "n_variants": job.n_variants,
        "n_seconds": job.seconds,
        "height": job.height,
        "width": job.width,
        "failure_reason": "output_moderation" if status == "failed" else None,
    }


def _int_field(fields: dict[str, Any], name: str, default: int | None) -> int:
    value = fields.get(name, default)
    if value is None:
        raise invalid(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(
            f"Invalid type for '{name}': expected an integer.", name, "invalid_type"
        ) from None


def _check_job_shape(width: int, height: int, seconds: int, variants: int) -> None:
    if (width, height) not in JOBS_SIZES:
        sizes = ", ".join(f"{w}x{h}" for w, h in sorted(JOBS_SIZES))
        raise invalid(
            f"The resolution {width}x{height} is not supported. Supported: {sizes}.", "width"
        )
    if not 1 <= seconds <= 20:
        raise invalid("n_seconds must be between 1 and 20.", "n_seconds", "invalid_value")
    most = 1 if min(width, height) >= 1080 else 2 if min(width, height) >= 720 else 4
    if not 1 <= variants <= most:
        raise invalid(
            f"n_variants must be between 1 and {most} for {width}x{height}.",
            "n_variants",
            "invalid_value",
        )


def _check_inpaint(body: Body, frames: int) -> None:
    files = body.files.get("files", [])
    if not files and "inpaint_items" not in body.fields:
        return
    try:
        items = [dict(item) for item in json.loads(body.fields.get("inpaint_items", "[]"))]
    except (ValueError, TypeError):
        raise invalid("inpaint_items must be a JSON array.", "inpaint_items") from None
    names = {upload.filename for upload in files}
    if len(files) > 2 or len(items) != len(files):
        raise invalid("Provide at most 2 images, each with one inpaint item.", "inpaint_items")
    for item in items:
        if item.get("file_name") not in names or item.get("type") not in ("image", "video"):
            raise invalid(
                "Each inpaint item must name an uploaded file and its type.", "inpaint_items"
            )
        if not isinstance(item.get("frame_index"), int) or not 0 <= item["frame_index"] < frames:
            raise invalid("inpaint_items frame_index is out of range.", "inpaint_items")
    for upload in files:
        if image_size(upload.data) is None:
            raise invalid(f"The file '{upload.filename}' is not a supported image.", "files")


async def jobs_create(request: Request) -> Response:
    sim = SimState.of(request)
    version = api_version(request, required=True)
    body = await read_body(request)
    prompt = require_prompt(body)
    deployment = sim.deployment(body, "jobs")
    width = _int_field(body.fields, "width", None)
    height = _int_field(body.fields, "height", None)
    seconds = _int_field(body.fields, "n_seconds", 5)
    variants = _int_field(body.fields, "n_variants", 1)
    _check_job_shape(width, height, seconds, variants)
    _check_inpaint(body, seconds * 30)
    if "policy" in markers(prompt):
        raise invalid(
            "Your request was rejected as a result of our safety system.",
            "prompt",
            "content_policy_violation",
            inner={
                "code": "ResponsibleAIPolicyViolation",
                "error_details": {},
                "revised_prompt": None,
            },
        )
    await check_faults(request, prompt, "VideoGenerationJob_Create", version)
    shape = {"width": width, "height": height, "seconds": seconds, "n_variants": variants}
    job = sim.new_job("jobs", deployment, prompt, **shape)
    return JSONResponse(job_json(job, sim.config), status_code=201)


async def jobs_retrieve(request: Request) -> Response:
    sim = SimState.of(request)
    version = api_version(request, required=True)
    job = sim.job(request.path_params["job_id"], "jobs")
    if job.poll_429:
        job.poll_429 = False
        raise rate_limited("VideoGenerationJob_Get", version)
    if job.malformed:
        job.malformed = False
        return Response(
            '{"object":"video.generation.job","id":"' + job.id, media_type="application/json"
        )
    return JSONResponse(job_json(job, sim.config))


async def jobs_list(request: Request) -> Response:
    sim = SimState.of(request)
    api_version(request, required=True)
    query = request.query_params
    if not query.get("limit", "").isdigit():
        raise invalid("Missing required parameter: 'limit'.", "limit", "missing_required_parameter")
    limit = int(query["limit"])
    statuses = set(query.getlist("statuses"))
    jobs = [job_json(j, sim.config) for j in reversed(list(sim.jobs.values())) if j.api == "jobs"]
    jobs = [j for j in jobs if not statuses or j["status"] in statuses]
    if after := query.get("after"):
        ids = [j["id"] for j in jobs]
        jobs = jobs[ids.index(after) + 1 :] if after in ids else []
    page = jobs[:limit]
    return JSONResponse(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(jobs) > limit,
        }
    )


async def jobs_delete(request: Request) -> Response:
    sim = SimState.of(request)
    api_version(request, required=True)
    job = sim.job(request.path_params["job_id"], "jobs")
    for gen in job.generations:
        sim.generations.pop(gen, None)
    del sim.jobs[job.id]
    return Response(status_code=204)


def _generation(request: Request) -> tuple[SimJob, str]:
    sim = SimState.of(request)
    api_version(request, required=True)
    gen_id = request.path_params["generation_id"]
    job = sim.jobs.get(sim.generations.get(gen_id, ""))
    if job is None or job_status(job) != "succeeded":
        raise not_found()
    if time.time() > job.finished_at + sim.config.expires_after_s:
        raise not_found()
    return job, gen_id


async def generation_get(request: Request) -> Response:
    job, gen_id = _generation(request)
    return JSONResponse(generation_json(job, gen_id))


async def generation_video(request: Request) -> Response:
    job, _ = _generation(request)
    if request.query_params.get("quality", "high") not in ("high", "low"):
        raise invalid("quality must be 'high' or 'low'.", "quality", "invalid_value")
    modified = int(job.finished_at)
    headers = {"Last-Modified": formatdate(modified, usegmt=True)}
    since = request.headers.get("if-modified-since")
    if since:
        try:
            if parsedate_to_datetime(since).timestamp() >= modified:
                return Response(status_code=304, headers=headers)
        except (TypeError, ValueError):
            pass
    fps = SimState.of(request).config.fps
    data = await run_in_threadpool(mp4_bytes, job.width, job.height, job.seconds, fps)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(data))
        return Response(b"", media_type="video/mp4", headers=headers)
    return Response(data, media_type="video/mp4", headers=headers)


async def generation_thumbnail(request: Request) -> Response:
    job, _ = _generation(request)
    data = await run_in_threadpool(jpeg_bytes, max(2, job.width // 4), max(2, job.height // 4))
    return Response(data, media_type="image/jpeg")


ROUTES = [
    Route(f"{JOBS}/jobs", jobs_create, methods=["POST"]),
    Route(f"{JOBS}/jobs", jobs_list, methods=["GET"]),
    Route(JOBS + "/jobs/{job_id}", jobs_retrieve, methods=["GET"]),
    Route(JOBS + "/jobs/{job_id}", jobs_delete, methods=["DELETE"]),
    Route(JOBS + "/{generation_id}", generation_get, methods=["GET"]),
    Route(JOBS + "/{generation_id}/content/video", generation_video, methods=["GET", "HEAD"]),
    Route(JOBS + "/{generation_id}/content/thumbnail", generation_thumbnail, methods=["GET"]),
]
