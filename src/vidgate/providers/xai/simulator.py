"""An in-memory simulator of xAI's Grok Imagine video REST API.

An *independent* implementation of the documented wire format
(``shared/reference/providers/xai.md``); it imports nothing from the ``xai`` provider's
spec or adapter. xAI's official ``xai-sdk`` speaks gRPC, not this REST API, so the
simulator is exercised with plain HTTP (httpx) exactly as the REST reference describes.

Routes:

- ``POST /v1/videos/generations`` (``Authorization: Bearer <key>``) takes ``prompt`` and
  ``model`` (required: 422 when missing), ``duration`` (int 1-15, default 8),
  ``aspect_ratio`` (1:1, 16:9, 9:16, 4:3, 3:4, 3:2, 2:3; default 16:9), ``resolution``
  (480p | 720p; default 480p), ``image: {url}`` (http(s) URL or ``data:image/...;base64``),
  ``user``; the deprecated ``size`` and ``output`` are accepted and ignored. Answers 200
  ``{"request_id": "<uuid>"}``.
- ``GET /v1/videos/{request_id}``: first ``{"request_id"}`` with no status (queued), then
  ``{"status": "pending"}``, then ``done`` with ``video.url``, ``video.duration``,
  ``model`` and ``usage.cost_in_usd_ticks`` - or ``failed`` with ``error: {code, message}``
  - all with HTTP 200. After ``config.expire_after_s`` a finished request reads
  ``{"status": "expired"}``.
- ``GET /vidgen/{request_id}/video.mp4``: the MP4 (no auth, like xAI's CDN URL), rendered
  at the pixel size of the ratio and tier for ``duration`` seconds.

Errors use xAI's envelope ``{"code": "<gRPC status phrase>", "error": "<message>"}``. A
missing or wrong key is an HTTP **400** ("Incorrect API key provided: ..."), as xAI does;
an unknown model is 404; an unknown request id is 404.

Fault markers in the prompt (see ``vidgate.providers.simkit``): ``[sim:fail]`` (failed with
``error.code`` ``content_moderated``), ``[sim:429]``, ``[sim:500]``, ``[sim:unknown-status]``
(``processing`` while running), ``[sim:malformed]`` (the first poll is truncated JSON),
``[sim:poll-429]``, ``[sim:slow]``, ``[sim:hang]`` (the create answers after
``config.hang_seconds``; if the client gives up first, no job is made), and
``[sim:expired]`` (the request ends ``expired``).

Introspection (no auth): ``GET /__sim__/log``, ``POST /__sim__/reset``; ``app.state.sim``
is the :class:`SimState`, whose jobs keep the exact create body and ``Authorization`` header.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.simkit import (
    BaseConfig,
    BaseState,
    BaseTask,
    Check,
    Guard,
    base_url,
    hang,
    markers,
    mp4_response,
    sim_app,
)

INVALID_ARGUMENT = "Client specified an invalid argument"
NOT_FOUND = "Some requested entity was not found"
EXHAUSTED = "Some resource has been exhausted"
INTERNAL = "Internal error"
MODELS = ("grok-imagine-video", "grok-imagine-video-1.5", "grok-imagine-video-1.5-preview")
FRAME = {  # aspect ratio -> pixels at (480p, 720p)
    "16:9": ((854, 480), (1280, 720)),
    "9:16": ((480, 854), (720, 1280)),
    "1:1": ((480, 480), (720, 720)),
    "4:3": ((640, 480), (960, 720)),
    "3:4": ((480, 640), (720, 960)),
    "3:2": ((720, 480), (1080, 720)),
    "2:3": ((480, 720), (720, 1080)),
}
RESOLUTIONS = ("480p", "720p")


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream (``queued_seconds``: how long polls answer a bare
    ``{"request_id"}`` before ``pending``)."""

    api_key: str | None = "xai-sim-key"
    ticks_per_second_480p: int = 500_000_000
    """$0.05/s, as xAI's 1 s 480p sample shows."""
    ticks_per_second_720p: int = 700_000_000
    """Invented: xAI's 720p price is unverified."""
    expire_after_s: float | None = None


@dataclass
class SimJob(BaseTask):
    """One video request; its status follows the clock."""

    request_id: str
    model: str
    prompt: str
    duration: int
    aspect_ratio: str
    resolution: str
    body: dict[str, Any]
    authorization: str | None
    malformed_pending: bool = False
    poll_429_pending: bool = False

    @property
    def frame(self) -> tuple[int, int]:
        low, high = FRAME[self.aspect_ratio]
        return low if self.resolution == "480p" else high


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; exposed as ``app.state.sim``."""

    jobs: dict[str, SimJob] = field(default_factory=dict)

    def phase(self, job: SimJob) -> str:
        """``queued``, ``running``, ``done`` or ``expired``."""
        phase, _ = job.timeline.phase()
        if phase != "done":
            return phase
        expiry = self.config.expire_after_s
        finished = job.timeline.started + job.timeline.duration_s
        if "expired" in job.markers or (
            expiry is not None and time.monotonic() > finished + expiry
        ):
            return "expired"
        return "done"

    def ticks(self, job: SimJob) -> int:
        rate = self.config.ticks_per_second_480p
        if job.resolution == "720p":
            rate = self.config.ticks_per_second_720p
        return rate * job.duration


class SimError(Exception):
    """An error answer in xAI's ``{"code", "error"}`` envelope."""

    def __init__(
        self, status: int, message: str, code: str = INVALID_ARGUMENT, **headers: str
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers


def _key_check(state: SimState) -> Check:
    """``/v1`` needs ``Authorization: Bearer <key>`` (any case of ``Bearer``); else a 400."""

    def check(request: Request) -> Response | None:
        expected = state.config.api_key
        if expected is None:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and given == expected:
            return None
        masked = f"{given[:2]}***{given[-2:]}" if len(given) > 4 else "***"
        wrong = f"Incorrect API key provided: {masked}. " if given else "No API key provided. "
        message = wrong + "You can obtain an API key from https://console.x.ai."
        return _error_response(SimError(400, message))

    return check


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SimError(400, "Failed to parse the request body as JSON.") from None
    if not isinstance(body, dict):
        raise SimError(422, "Failed to deserialize the JSON body into the target type.")
    return body


def _require(body: dict[str, Any]) -> tuple[str, str]:
    for name in ("prompt", "model"):
        if name not in body or body[name] is None:
            raise SimError(
                422,
                f"Failed to deserialize the JSON body into the target type: missing field `{name}`",
            )
        if not isinstance(body[name], str):
            raise SimError(422, f"Invalid type for field `{name}`: expected a string")
    return body["prompt"], body["model"]


def _validate(body: dict[str, Any], model: str) -> tuple[int, str, str]:
    duration = body.get("duration", 8)
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 15:
        raise SimError(400, f"Invalid duration {duration!r}: must be an integer from 1 to 15.")
    ratio = body.get("aspect_ratio", "16:9")
    if ratio not in FRAME:
        raise SimError(400, f"Invalid aspect_ratio {ratio!r}: must be one of {', '.join(FRAME)}.")
    resolution = body.get("resolution", "480p")
    if resolution not in RESOLUTIONS:
        raise SimError(400, f"Invalid resolution {resolution!r}: must be 480p or 720p.")
    if "image" in body and body["image"] is not None:
        _validate_image(body["image"])
    if "user" in body and not isinstance(body["user"], str | None):
        raise SimError(400, "Invalid user: must be a string.")
    if model not in MODELS:
        raise SimError(
            404,
            f"The model {model} does not exist or your team does not have access to it.",
            NOT_FOUND,
        )
    return duration, ratio, resolution


def _validate_image(image: Any) -> None:
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(url, str) or not url:
        raise SimError(400, "Invalid image: expected an object with a 'url'.")
    if url.startswith(("http://", "https://")):
        return
    head, _, payload = url.partition(",")
    if not (head.startswith("data:image/") and head.endswith(";base64")):
        raise SimError(400, "Invalid image url: expected an http(s) URL or an image data URI.")
    try:
        data = base64.b64decode(payload, validate=True)
        from PIL import Image

        with Image.open(io.BytesIO(data)) as picture:
            picture.verify()
    except (binascii.Error, ValueError, OSError):
        raise SimError(400, "Invalid image: the data URI is not a decodable image.") from None


async def create_video(request: Request) -> Response:
    sim = SimState.of(request)
    body = await _json_body(request)
    prompt, model = _require(body)
    found = markers(prompt)
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)  # client closed the request: nothing was created
    if "429" in found:
        raise SimError(
            429,
            "Too many requests: your team has exceeded its video generation rate limit.",
            EXHAUSTED,
            **{"Retry-After": "1"},
        )
    if "500" in found:
        raise SimError(500, "The service encountered an internal error.", INTERNAL)
    duration, ratio, resolution = _validate(body, model)
    job = SimJob(
        request_id=str(uuid.uuid4()),
        model=model,
        prompt=prompt,
        duration=duration,
        aspect_ratio=ratio,
        resolution=resolution,
        body=body,
        authorization=request.headers.get("authorization"),
        timeline=sim.config.timeline(found),
        markers=found,
        malformed_pending="malformed" in found,
        poll_429_pending="poll-429" in found,
    )
    sim.jobs[job.request_id] = job
    return JSONResponse({"request_id": job.request_id})


def _status_body(sim: SimState, job: SimJob, base: str) -> dict[str, Any]:
    phase = sim.phase(job)
    if phase == "queued":
        return {"request_id": job.request_id}
    if phase == "running":
        return {"status": "processing" if "unknown-status" in job.markers else "pending"}
    if phase == "expired":
        return {"status": "expired"}
    if "fail" in job.markers:
        return {
            "status": "failed",
            "video": {"duration": 0, "respect_moderation": True},
            "model": "",
            "error": {
                "code": "content_moderated",
                "message": "The video was blocked by content moderation.",
            },
        }
    return {
        "status": "done",
        "video": {
            "url": f"{base}/vidgen/{job.request_id}/video.mp4",
            "duration": job.duration,
            "respect_moderation": True,
        },
        "model": job.model,
        "usage": {"cost_in_usd_ticks": sim.ticks(job)},
    }


async def retrieve_video(request: Request) -> Response:
    sim = SimState.of(request)
    request_id = request.path_params["request_id"]
    job = sim.jobs.get(request_id)
    if job is None:
        raise SimError(404, f"Video generation request {request_id} not found.", NOT_FOUND)
    if job.poll_429_pending:
        job.poll_429_pending = False
        raise SimError(429, "Too many requests.", EXHAUSTED, **{"Retry-After": "1"})
    if job.malformed_pending:
        job.malformed_pending = False
        return Response('{"status":"pend', media_type="application/json")
    return JSONResponse(_status_body(sim, job, base_url(request)))


async def video_file(request: Request) -> Response:
    sim = SimState.of(request)
    job = sim.jobs.get(request.path_params["request_id"])
    if job is None or sim.phase(job) != "done" or "fail" in job.markers:
        return Response("Not Found", status_code=404, media_type="text/plain")
    width, height = job.frame
    return await mp4_response(width, height, job.duration, sim.config.fps)


def _error_response(exc: SimError) -> JSONResponse:
    return JSONResponse(
        {"code": exc.code, "error": exc.message}, status_code=exc.status, headers=exc.headers
    )


async def _sim_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SimError)
    return _error_response(exc)


API_PATH = "/v1"  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """Build the simulator ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route("/v1/videos/generations", create_video, methods=["POST"]),
        Route("/v1/videos/{request_id}", retrieve_video, methods=["GET"]),
        Route("/vidgen/{request_id}/video.mp4", video_file, methods=["GET"]),
    ]
    guard = Middleware(Guard, check=_key_check(state), under=("/v1/",))
    return sim_app(state, routes, [guard], {SimError: _sim_error})
