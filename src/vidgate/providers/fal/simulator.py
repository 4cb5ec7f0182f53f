"""An in-memory simulator of the fal.ai queue API, wire-exact for what vidgate uses.

Independent of the provider's spec and adapter (only the shared simulator kit and the local
renderer are used), and driven by the official ``fal-client`` SDK in the tests.

Routes (all but ``/files`` need ``Authorization: Key <key>``; a missing or wrong key is a
401 ``{"detail": "..."}``):

- ``POST /{model path}`` (e.g. ``/fal-ai/kling-video/v2.1/master/text-to-video``): the
  model's input at the top level, validated per model like fal's FastAPI apps (422
  ``{"detail": [{"loc": ["body", field], "msg", "type"}]}``); answers ``{request_id,
  response_url, status_url, cancel_url, queue_position}``. The URLs use only the app path
  (``owner/app``) and point back at the simulator. ``fal_max_queue_length=0`` refuses (429).
- ``GET /{app}/requests/{id}/status[?logs=1]``: 202 ``IN_QUEUE`` (``queue_position``) or
  ``IN_PROGRESS``, then 200 ``COMPLETED`` with ``metrics``; ``logs`` is a list only when
  asked for, else ``null``. A cancelled request reads ``CANCELED``.
- ``GET /{app}/requests/{id}``: the result ``{"video": {url, content_type, file_name,
  file_size}, "seed"}``; 400 while the request is not finished.
- ``PUT /{app}/requests/{id}/cancel``: 202 ``CANCELLATION_REQUESTED``, or 400
  ``ALREADY_COMPLETED``.
- ``GET /files/{id}/output.mp4``: the MP4 (a CDN URL: no auth).

Fault markers in ``prompt`` (see ``vidgate.providers.simkit``): ``[sim:fail]`` (the status
still says ``COMPLETED`` — with ``error``/``error_type`` only if ``status_errors`` is on —
and the result is a 422 ``content_policy_violation``), ``[sim:no-video]`` (``COMPLETED``
with a result that has no video), ``[sim:429]``, ``[sim:500]``, ``[sim:unknown-status]``,
``[sim:malformed]`` (the first status poll answers a truncated object), ``[sim:poll-429]``,
``[sim:slow]``, ``[sim:hang]``.
"""

from __future__ import annotations

import base64
import binascii
import io
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.simkit import (
    BaseConfig,
    BaseState,
    BaseTask,
    Guard,
    base_url,
    elide,
    hang,
    key_check,
    markers,
    mp4_bytes,
    mp4_response,
    sim_app,
)

DEFAULT_KEY = "5eed0000-fa1e-4c1a-9e0d-000000000001:" + "5eed" * 8
POLICY = (
    "The content could not be processed because it contained material flagged by a content checker."
)


@dataclass(frozen=True)
class Rules:
    """What one model's input schema accepts (fal's per-model FastAPI validation)."""

    durations: tuple[str, ...] | None = None
    """Accepted ``duration`` strings; ``None``: any whole number of seconds 1-30."""
    default_duration: str = "5"
    aspect_ratios: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
    default_aspect: str = "16:9"
    resolutions: tuple[str, ...] | None = ("480p", "540p", "580p", "720p", "768p", "1080p")
    """``None``: the model takes no ``resolution`` (it is fixed: ``default_resolution``)."""
    default_resolution: str = "720p"
    takes_aspect: bool = True
    image_required: bool = False


MODELS: dict[str, Rules] = {
    "fal-ai/kling-video/v2.1/master/text-to-video": Rules(
        durations=("5", "10"),
        aspect_ratios=("16:9", "9:16", "1:1"),
        resolutions=None,
        default_resolution="1080p",
    ),
    "fal-ai/kling-video/v2.1/master/image-to-video": Rules(
        durations=("5", "10"),
        takes_aspect=False,
        resolutions=None,
        default_resolution="1080p",
        image_required=True,
    ),
    "fal-ai/kling-video/v2.1/standard/image-to-video": Rules(
        durations=("5", "10"),
        takes_aspect=False,
        resolutions=None,
        default_resolution="720p",
        image_required=True,
    ),
    "fal-ai/veo3": Rules(
        durations=("4s", "6s", "8s"),
        default_duration="8s",
        aspect_ratios=("16:9", "9:16"),
        resolutions=("720p", "1080p"),
    ),
    "fal-ai/minimax/hailuo-02/standard/text-to-video": Rules(
        durations=("6", "10"),
        default_duration="6",
        takes_aspect=False,
        resolutions=None,
        default_resolution="768p",
    ),
    "fal-ai/luma-dream-machine/ray-2-flash": Rules(
        durations=("5s", "9s"),
        default_duration="5s",
        resolutions=("540p", "720p", "1080p"),
        default_resolution="540p",
    ),
}
GENERIC = Rules()


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream."""

    api_key: str | None = DEFAULT_KEY
    status_errors: bool = False
    """``COMPLETED`` statuses of failed runs carry ``error``/``error_type`` (newer schema)."""


@dataclass
class SimRequest(BaseTask):
    """One queued request; its status follows the clock."""

    id: str
    app: str
    model: str
    body: dict[str, Any]
    headers: dict[str, str]
    width: int
    height: int
    seconds: int
    seed: int
    cancelled: bool = False


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; ``app.state.sim``."""

    requests: dict[str, SimRequest] = field(default_factory=dict)


class Invalid(Exception):
    """A 422 with FastAPI's ``detail`` list."""

    def __init__(self, field_name: str, msg: str, kind: str) -> None:
        super().__init__(msg)
        self.detail = [{"loc": ["body", field_name], "msg": msg, "type": kind}]


def _detail(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _unauthorized(given: str | None) -> JSONResponse:
    """Every route but the CDN's needs ``Authorization: Key <key>``."""
    if given is None:
        return _detail(401, "Missing authorization header.")
    return _detail(401, "No user found for Key ID and Secret.")


# --- validation ------------------------------------------------------------------------


def _app_of(model: str) -> str:
    parts = model.split("/")
    return "/".join(parts[:3] if parts[0] in ("workflows", "comfy") else parts[:2])


def _seconds(value: Any, rules: Rules) -> int:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if rules.durations is not None:
        if text not in rules.durations:
            allowed = ", ".join(f"'{d}'" for d in rules.durations)
            raise Invalid("duration", f"unexpected value; permitted: {allowed}", "literal_error")
        return int(text.rstrip("s"))
    digits = text[:-1] if text.endswith("s") else text
    if not digits.isdigit() or not 1 <= int(digits) <= 30:
        raise Invalid("duration", "duration must be 1 to 30 seconds", "value_error")
    return int(digits)


def _frame(aspect: str, resolution: str) -> tuple[int, int]:
    """Frame size of an aspect ratio at a resolution (short side; long side rounded up even)."""
    a, b = (int(x) for x in aspect.split(":"))
    short = int(resolution.rstrip("pP"))
    long = int(short * max(a, b) / min(a, b) + 0.5)
    long += long % 2
    return (long, short) if a >= b else (short, long)


def _image_frame(value: str) -> tuple[int, int] | None:
    """The size of a data-URI image, for image-to-video models whose output follows it."""
    if not value.startswith("data:") or "," not in value:
        return None
    from PIL import Image

    try:
        data = base64.b64decode(value.split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (binascii.Error, OSError, ValueError):
        raise Invalid("image_url", "the image could not be decoded", "value_error") from None


def _check(model: str, body: Any) -> tuple[int, int, int]:
    """``(width, height, seconds)`` of a valid input body."""
    if not isinstance(body, dict):
        raise Invalid("", "Input should be a valid dictionary", "dict_type")
    rules = MODELS.get(model, GENERIC)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise Invalid("prompt", "field required", "value_error.missing")
    seconds = _seconds(body.get("duration", rules.default_duration), rules)
    aspect = body.get("aspect_ratio", rules.default_aspect) if rules.takes_aspect else None
    if aspect is not None and aspect not in rules.aspect_ratios:
        allowed = ", ".join(f"'{a}'" for a in rules.aspect_ratios)
        raise Invalid("aspect_ratio", f"unexpected value; permitted: {allowed}", "literal_error")
    resolution = rules.default_resolution
    if rules.resolutions is not None:
        resolution = body.get("resolution", resolution)
        if resolution not in rules.resolutions:
            allowed = ", ".join(f"'{r}'" for r in rules.resolutions)
            raise Invalid("resolution", f"unexpected value; permitted: {allowed}", "literal_error")
    image = body.get("image_url")
    if image is not None and (not isinstance(image, str) or not image):
        raise Invalid("image_url", "Input should be a valid string", "string_type")
    if rules.image_required and image is None:
        raise Invalid("image_url", "field required", "value_error.missing")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise Invalid("seed", "Input should be a valid integer", "int_type")
    if aspect is None:
        found = _image_frame(image) if isinstance(image, str) else None
        width, height = found or (16, 9)
        aspect = "16:9" if width > height * 1.2 else "9:16" if height > width * 1.2 else "1:1"
    width, height = _frame(aspect, resolution)
    return width, height, seconds


# --- routes ----------------------------------------------------------------------------


def _urls(base: str, app: str, request_id: str) -> dict[str, str]:
    response_url = f"{base}/{app}/requests/{request_id}"
    return {
        "response_url": response_url,
        "status_url": f"{response_url}/status",
        "cancel_url": f"{response_url}/cancel",
    }


async def submit(request: Request) -> Response:
    sim = SimState.of(request)
    model = request.path_params["model"].strip("/")
    if len([p for p in model.split("/") if p]) < 2:
        return _detail(404, "Application not found.")
    try:
        body = await request.json()
    except ValueError:
        return _detail(422, [{"loc": ["body"], "msg": "Invalid JSON", "type": "json_invalid"}])
    found = markers(body.get("prompt") if isinstance(body, dict) else None)
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)
    if "429" in found or request.query_params.get("fal_max_queue_length") == "0":
        return _detail(429, "Too many requests; the queue is full.", {"Retry-After": "1"})
    if "500" in found:
        return _detail(500, "Internal server error.", {"x-fal-request-id": str(uuid.uuid4())})
    try:
        width, height, seconds = _check(model, body)
    except Invalid as exc:
        return _detail(422, exc.detail)
    seed = body.get("seed")
    item = SimRequest(
        id=str(uuid.uuid4()),
        app=_app_of(model),
        model=model,
        body=elide(body),
        headers={k: v for k, v in request.headers.items() if k in ("authorization",)},
        width=width,
        height=height,
        seconds=seconds,
        seed=seed if isinstance(seed, int) else random.randrange(2**31),
        timeline=sim.config.timeline(found),
        markers=found,
    )
    sim.requests[item.id] = item
    base = base_url(request)
    return JSONResponse(
        {"request_id": item.id, **_urls(base, item.app, item.id), "queue_position": 0}
    )


def _find(request: Request) -> SimRequest | None:
    item = SimState.of(request).requests.get(request.path_params["request_id"])
    if item is None or item.app != request.path_params["app"].strip("/"):
        return None
    return item


def _logs(item: SimRequest, wanted: bool) -> list[dict[str, str]] | None:
    if not wanted:
        return None
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [{"timestamp": now, "level": "INFO", "source": "user", "message": "Generating"}]


async def status(request: Request) -> Response:
    sim, item = SimState.of(request), _find(request)
    if item is None:
        return _detail(404, "Request not found.")
    fault = item.poll_fault()
    if fault == "poll-429":
        return _detail(429, "Too many requests.", {"Retry-After": "1"})
    if fault == "malformed":
        return Response('{"status": "IN_PROG', 202, media_type="application/json")
    wanted = request.query_params.get("logs", "").lower() in ("1", "true")
    base = base_url(request)
    response_url = _urls(base, item.app, item.id)["response_url"]
    if item.cancelled:
        return JSONResponse({"status": "CANCELED", "response_url": response_url})
    phase, _ = item.timeline.phase()
    if phase == "queued":
        body: dict[str, Any] = {"status": "IN_QUEUE", "queue_position": 0}
        return JSONResponse(body | {"response_url": response_url}, 202)
    if phase == "running":
        raw = "WARMING_UP" if "unknown-status" in item.markers else "IN_PROGRESS"
        body = {"status": raw, "logs": _logs(item, wanted), "response_url": response_url}
        return JSONResponse(body, 202)
    body = {
        "status": "COMPLETED",
        "logs": _logs(item, wanted),
        "metrics": {"inference_time": round(item.timeline.duration_s, 3)},
        "response_url": response_url,
    }
    if "fail" in item.markers and sim.config.status_errors:
        body |= {"error": POLICY, "error_type": "content_policy_violation"}
    return JSONResponse(body)


async def result(request: Request) -> Response:
    item = _find(request)
    if item is None:
        return _detail(404, "Request not found.")
    if item.cancelled:
        return _detail(400, "Request was cancelled.")
    if item.timeline.phase()[0] != "done":
        return _detail(400, "Request is still in progress.")
    if "fail" in item.markers:
        detail = [{"loc": ["body", "prompt"], "msg": POLICY, "type": "content_policy_violation"}]
        return _detail(422, detail, {"x-fal-error-type": "content_policy_violation"})
    if "no-video" in item.markers:
        return JSONResponse({"seed": item.seed})
    data = await run_in_threadpool(
        mp4_bytes, item.width, item.height, item.seconds, SimState.of(request).config.fps
    )
    base = base_url(request)
    video = {
        "url": f"{base}/files/{item.id}/output.mp4",
        "content_type": "video/mp4",
        "file_name": "output.mp4",
        "file_size": len(data),
    }
    return JSONResponse({"video": video, "seed": item.seed})


async def cancel(request: Request) -> Response:
    item = _find(request)
    if item is None:
        return _detail(404, "Request not found.")
    if item.cancelled or item.timeline.phase()[0] == "done":
        return JSONResponse({"status": "ALREADY_COMPLETED"}, 400)
    item.cancelled = True
    return JSONResponse({"status": "CANCELLATION_REQUESTED"}, 202)


async def files(request: Request) -> Response:
    item = SimState.of(request).requests.get(request.path_params["request_id"])
    if item is None or item.cancelled or item.timeline.phase()[0] != "done":
        return Response(status_code=404)
    if "fail" in item.markers or "no-video" in item.markers:
        return Response(status_code=404)
    config = SimState.of(request).config
    return await mp4_response(item.width, item.height, item.seconds, config.fps)


API_PATH = ""  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route("/files/{request_id}/output.mp4", files),
        Route("/{app:path}/requests/{request_id}/status", status),
        Route("/{app:path}/requests/{request_id}/cancel", cancel, methods=["PUT"]),
        Route("/{app:path}/requests/{request_id}", result),
        Route("/{model:path}", submit, methods=["POST"]),
    ]
    check = key_check(lambda: state.config.api_key, _unauthorized, schemes=("Key",))
    return sim_app(state, routes, [Middleware(Guard, check=check, exempt=("/files/",))])
