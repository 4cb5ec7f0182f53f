"""The AI/ML API (aimlapi) ``/v2`` video surface, for clients written against aimlapi.

Routes: ``POST``/``GET /v2/video/generations`` (universal) and
``POST``/``GET /v2/generate/video/{vendor}/generation`` (legacy, per vendor); the poll takes
``generation_id`` (or ``generation_ids``) as a query parameter.

Parsing and rendering only. A ``/v2`` body is translated into the canonical fields of
``POST /v1/videos`` and submitted through ``videos.submit`` — the one create path — so
validation, routing, budgets, billing and ownership are exactly ``/v1``'s, and a generation
*is* a ``/v1`` video: the same id works on both surfaces, with the same key. There is no job
code here on purpose: a second create path would drift from the first. Vendor fields are
passed on in ``metadata``, where the chosen model's spec accepts or rejects them, and every
error names the field as the client sent it (``duration``, ``image_url``, ``cfg_scale``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from vidgate.accounting.keys import Principal
from vidgate.api import openapi_models as m
from vidgate.api import videos
from vidgate.api.auth import principal
from vidgate.api.body import read_fields
from vidgate.api.extended import image_ref
from vidgate.api.objects import content_url
from vidgate.api.schema import IDEMPOTENCY_KEY, described, query
from vidgate.api.urls import base_url
from vidgate.errors import GatewayError, InvalidRequest, NotFound
from vidgate.jobs.service import JobService
from vidgate.jobs.store import Job
from vidgate.observe.requests import note
from vidgate.request import as_object
from vidgate.routing.config import DeploymentTable

router = APIRouter()
Caller = Depends(principal)


DIRECT = frozenset({"prompt", "aspect_ratio", "resolution", "size", "seed", "user", "drop_params"})
"""Fields with the same name and meaning in vidgate's canonical request."""
FIRST_FRAME = ("image_url", "first_frame_image")
LAST_FRAME = ("last_image_url", "last_frame_image", "tail_image_url")
OPTIONS = {"generate_audio": "audio", "negative_prompt": "negative_prompt"}
"""Fields that are canonical options under another name (``metadata.<name>``)."""
IGNORED = {"generation_type": "video"}
"""Fields with only one value here, accepted and dropped (Luma's legacy body)."""

STATUS = {
    "queued": "queued",
    "in_progress": "generating",
    "completed": "completed",
    "failed": "error",
}
MAX_IDS = 100


# --- requests ---------------------------------------------------------------------------


def translate(
    body: Mapping[str, Any], table: DeploymentTable, vendor: str | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """An aimlapi body as canonical fields, and what the client called each renamed one."""
    fields: dict[str, Any] = {}
    names: dict[str, str] = {}
    metadata = as_object(body.get("metadata"), "metadata")
    for key, value in body.items():
        if value is None or key in ("model", "metadata") or IGNORED.get(key) == value:
            continue
        if key in DIRECT:
            fields[key] = value
        elif key == "duration":
            fields["seconds"] = _seconds(value)
            names["seconds"] = key
        elif key in FIRST_FRAME:
            _put(fields, "input_reference", image_ref(value, key), key, names)
        elif key in LAST_FRAME:
            _put(metadata, "last_frame", image_ref(value, key), key, names, "metadata.")
        elif key == "keyframes":
            _keyframes(fields, metadata, value, names)
        else:
            _put(metadata, OPTIONS.get(key, key), value, key, names, "metadata.")
    if metadata:
        fields["metadata"] = metadata
    target = _target(body.get("model"), vendor, table)
    fields["model"] = vidgate_model(target, "input_reference" in fields, table)
    implied = table.foreign_names.get(target.lower())
    if implied and implied.resolution and "resolution" not in fields and "size" not in fields:
        fields["resolution"] = implied.resolution
    return fields, names


def _seconds(value: Any) -> Any:
    """``5``, ``"5"`` and Luma's ``"5s"`` are all five seconds; anything else is checked by
    ``parse_request`` and named ``duration``."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*s\s*", value, re.I):
        return value.strip()[:-1].strip()
    return value


def _put(
    target: dict[str, Any],
    key: str,
    value: Any,
    sent: str,
    names: dict[str, str],
    prefix: str = "",
) -> None:
    """``target[key] = value`` for the field the client sent as ``sent``; two fields saying
    the same thing (``image_url`` and ``first_frame_image``) are a 400, not a guess."""
    canonical = prefix + key
    if key in target:
        other = names.get(canonical, canonical)
        raise InvalidRequest(
            f"'{sent}' and '{other}' say the same thing; give one.",
            param=sent,
            code="invalid_value",
        )
    target[key] = value
    if sent != canonical:
        names[canonical] = sent


def _keyframes(
    fields: dict[str, Any], metadata: dict[str, Any], value: Any, names: dict[str, str]
) -> None:
    """Luma's ``keyframes: {frame0, frame1}`` of ``{type: "image", url}``: first and last
    frames. Extending an earlier generation is ``POST /v1/videos/extensions``."""
    frames = as_object(value, "keyframes")
    for name, frame in frames.items():
        param = f"keyframes.{name}"
        if name not in ("frame0", "frame1") or not isinstance(frame, dict):
            raise InvalidRequest(
                f"'{param}' is not a keyframe; give 'frame0' and/or 'frame1' as "
                "{type: image, url}.",
                param=param,
            )
        if frame.get("type") != "image":
            raise InvalidRequest(
                f"'{param}.type' must be 'image' here; to extend a video use "
                "POST /v1/videos/extensions.",
                param=f"{param}.type",
                code="invalid_value",
            )
        ref = image_ref(frame.get("url"), f"{param}.url")
        if name == "frame0":
            _put(fields, "input_reference", ref, param, names)
        else:
            _put(metadata, "last_frame", ref, param, names, "metadata.")


def _target(model: Any, vendor: str | None, table: DeploymentTable) -> str:
    """The model the client named, or the vendor's default on a legacy path."""
    if model is None or model == "":
        if vendor is not None:
            return table.vendor_paths[vendor]
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str):
        raise InvalidRequest("'model' must be a string.", param="model", code="invalid_type")
    return model


def vidgate_model(name: str, has_image: bool, table: DeploymentTable) -> str:
    """The vidgate model for an aimlapi name: the config's own meaning first, then the first
    configured name of the table's entry, else the name as sent (whose 404 names it)."""
    if table.resolve(name) in table.groups:
        return name
    target = table.foreign_names.get(name.lower())
    if target is None:
        return name
    candidates = target.image_models if has_image and target.image_models else target.models
    return next((c for c in candidates if table.resolve(c) in table.groups), name)


def _client_names(error: GatewayError, names: Mapping[str, str]) -> None:
    """Name the field in an error as the client sent it, where a check used our name."""
    sent = names.get(error.param or "")
    if sent is None or error.param is None:
        return
    error.message = error.message.replace(f"'{error.param}'", f"'{sent}'")
    error.param = sent


async def _create(request: Request, caller: Principal, vendor: str | None) -> Response:
    body = await read_fields(request, files=True)
    table: DeploymentTable = request.app.state.live.table
    fields, names = translate(body, table, vendor)
    try:
        job = await videos.submit(request, caller, "create", fields, names=names)
    except GatewayError as exc:
        _client_names(exc, names)
        raise
    note(request.scope, job_id=job.id, model=job.model, deployment_id=job.deployment_id)
    created = {
        "id": job.id,
        "generation_id": job.id,
        "status": STATUS.get(job.status, "queued"),
        "model": job.model,
        "created_at": int(job.created_at),
    }
    response = _json(created, 201)
    response.headers.update(videos.dropped_header(job))
    return response


# --- responses --------------------------------------------------------------------------


def _json(body: Any, status: int = 200) -> Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status_code=status, media_type="application/json")


def generation(job: Job, base: str) -> dict[str, Any]:
    """A job as aimlapi's poll answers: ``video.url`` is the gateway's content URL (the
    owner's key fetches it), never an upstream one; ``meta.usage`` is the final charge."""
    usage = job.usage or {}
    duration = usage.get("duration_seconds") or job.seconds
    completed = job.status == "completed"
    error = None
    if job.status == "failed":
        error = {"name": job.error_code or "failed", "message": job.error_message or ""}
    return {
        "id": job.id,
        "generation_id": job.id,
        "model": job.model,
        "status": STATUS.get(job.status, "queued"),
        "progress": job.progress,
        "created_at": int(job.created_at),
        "completed_at": int(job.completed_at) if job.completed_at else None,
        "video": {"url": content_url(base, job.id), "duration": duration} if completed else None,
        "duration": duration,
        "error": error,
        "meta": {
            "usage": {
                "cost_usd": job.cost_usd,
                "duration_seconds": usage.get("duration_seconds"),
            }
        },
    }


def _ids(request: Request) -> tuple[list[str], bool]:
    """The ids asked for, and whether as a batch (``generation_ids``: repeated, ``[]``/``[n]``
    keys or comma-separated)."""
    query = request.query_params
    one = query.get("generation_id")
    if one:
        return [one.strip()], False
    ids = [
        part.strip()
        for key, value in query.multi_items()
        if key == "generation_ids" or key.startswith("generation_ids[")
        for part in value.split(",")
        if part.strip()
    ]
    if not ids:
        raise InvalidRequest("Missing required parameter: 'generation_id'.", param="generation_id")
    if len(ids) > MAX_IDS:
        raise InvalidRequest(
            f"'generation_ids' holds {len(ids)} ids; at most {MAX_IDS} at once.",
            param="generation_ids",
        )
    return ids, True


async def _poll(request: Request, caller: Principal) -> Response:
    ids, batch = _ids(request)
    service: JobService = request.app.state.jobs
    base = base_url(request.scope)
    found = []
    for job_id in ids:
        try:
            job = await service.get(caller, job_id)
        except NotFound as exc:
            exc.param = "generation_ids" if batch else "generation_id"
            raise
        found.append(generation(job, base))
    if not batch:
        note(request.scope, job_id=ids[0], model=found[0]["model"])
    return _json(found if batch else found[0])


def _vendor(vendor: str, table: DeploymentTable) -> str:
    if vendor not in table.vendor_paths:
        raise NotFound(
            f"Unknown vendor '{vendor}'. Served: {', '.join(sorted(table.vendor_paths))}.",
            param="vendor",
            code="vendor_not_found",
        )
    return vendor


# --- routes -----------------------------------------------------------------------------

_CREATE = described(
    body=m.V2GenerationCreate,
    params=[IDEMPOTENCY_KEY],
    returns=m.V2GenerationCreated,
    status=201,
)
_POLL = described(
    returns=m.V2GenerationPoll,
    params=[
        query("generation_id", "One generation (the id a create returned)."),
        query(
            "generation_ids",
            f"Several, at most {MAX_IDS}: repeated, generation_ids[]=, or comma-separated.",
            type="array",
            items={"type": "string"},
            maxItems=MAX_IDS,
        ),
    ],
)


@router.post("/v2/video/generations", status_code=201, openapi_extra=_CREATE)
async def create_generation(request: Request, caller: Principal = Caller) -> Response:
    return await _create(request, caller, None)


@router.get("/v2/video/generations", openapi_extra=_POLL)
async def get_generation(request: Request, caller: Principal = Caller) -> Response:
    return await _poll(request, caller)


@router.post("/v2/generate/video/{vendor}/generation", status_code=201, openapi_extra=_CREATE)
async def create_vendor_generation(
    vendor: str, request: Request, caller: Principal = Caller
) -> Response:
    return await _create(request, caller, _vendor(vendor, request.app.state.live.table))


@router.get("/v2/generate/video/{vendor}/generation", openapi_extra=_POLL)
async def get_vendor_generation(
    vendor: str, request: Request, caller: Principal = Caller
) -> Response:
    _vendor(vendor, request.app.state.live.table)
    return await _poll(request, caller)
