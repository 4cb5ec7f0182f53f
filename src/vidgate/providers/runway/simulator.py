"""An in-memory simulator of the RunwayML API, wire-exact for what vidgate uses.

Independent of the provider's spec and adapter (only the shared simulator kit and the local
renderer are imported), and driven by the official ``runwayml`` SDK in the tests.

Routes (``/v1`` needs ``Authorization: Bearer <secret>`` and ``X-Runway-Version: 2024-11-06``;
a bad secret is a 401, a missing or unknown version a 400, both as ``{"error": "..."}``):

- ``POST /v1/text_to_video``, ``/v1/image_to_video``, ``/v1/video_to_video`` → ``{id,
  estimatedCost: {credits}}``; bodies are validated per model like the API (ratios,
  durations, promptText ≤ 1000 UTF-16 units, seed, data URIs ≤ 5 MB for images and 16 MB
  for videos, https URLs on a domain) and refused with ``{"error": "Validation of body
  failed", "issues": [...]}``.
- ``GET /v1/tasks/{id}``: ``PENDING`` (``THROTTLED`` with ``config.throttled`` or the
  ``[sim:throttled]`` marker), ``RUNNING`` with a fractional ``progress``, then
  ``SUCCEEDED`` with ``output: [signed URL]`` and ``cost.credits``, or ``FAILED``.
- ``DELETE /v1/tasks/{id}``: 204; cancels a running task or deletes a finished one; either
  way it then answers 404 (``SimState.deleted`` remembers which it was).
- ``GET /v1/organization``: credit balance and usage.
- ``GET /outputs/{id}/output.mp4?_jwt=<signature>``: the MP4 (no auth header needed; a
  missing or wrong signature is a 403 like CloudFront's).

Fault markers in ``promptText`` (see ``vidgate.providers.simkit``): ``[sim:fail]`` (FAILED,
``failureCode: SAFETY.INPUT.TEXT``), ``[sim:429]``, ``[sim:500]`` (a 503, Runway's load
shedding), ``[sim:unknown-status]``, ``[sim:malformed]`` (the first poll answers a truncated
object), ``[sim:poll-429]``, ``[sim:slow]``, ``[sim:hang]`` (create answers after 30 s, or
gives up when the client goes away).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import av
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.runway import _sim_rules as rules
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
    mp4_response,
    sim_app,
)

VERSION = "2024-11-06"
DEFAULT_KEY = "key_" + "5eed" * 32


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream."""

    api_key: str | None = DEFAULT_KEY
    throttled: bool = False
    """Queued tasks read ``THROTTLED`` (over the concurrency limit) instead of ``PENDING``."""
    credit_balance: int = 100_000
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))


@dataclass
class SimTask(BaseTask):
    """One task; its status follows the clock."""

    id: str
    endpoint: str
    model: str
    body: dict[str, Any]
    headers: dict[str, str]
    width: int
    height: int
    seconds: int
    audio: bool
    credits: int
    created_at: str


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; ``app.state.sim``."""

    tasks: dict[str, SimTask] = field(default_factory=dict)
    deleted: dict[str, str] = field(default_factory=dict)
    """Task id → ``"cancelled"`` or ``"deleted"``, for what DELETE did."""

    def signature(self, task_id: str) -> str:
        return hmac.new(self.config.signing_key, task_id.encode(), hashlib.sha256).hexdigest()

    def task_json(self, task: SimTask, base_url: str) -> dict[str, Any]:
        phase, fraction = task.timeline.phase()
        body: dict[str, Any] = {"id": task.id, "createdAt": task.created_at}
        estimate = {"credits": task.credits}
        if phase == "queued":
            throttled = self.config.throttled or "throttled" in task.markers
            return body | {
                "status": "THROTTLED" if throttled else "PENDING",
                "estimatedCost": estimate,
            }
        if phase == "running":
            status = "PREPARING_ASSETS" if "unknown-status" in task.markers else "RUNNING"
            return body | {
                "status": status,
                "progress": round(fraction, 4),
                "estimatedCost": estimate,
            }
        if "fail" in task.markers:
            return body | {
                "status": "FAILED",
                "failure": "Your prompt was flagged by our content moderation system.",
                "failureCode": "SAFETY.INPUT.TEXT",
                "cost": {"credits": 0},
            }
        url = f"{base_url}/outputs/{task.id}/output.mp4?_jwt={self.signature(task.id)}"
        return body | {"status": "SUCCEEDED", "output": [url], "cost": {"credits": task.credits}}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _unauthorized(_given: str | None) -> JSONResponse:
    """``/v1`` needs the API secret as a bearer token (then a known ``X-Runway-Version``)."""
    return _error(401, "Incorrect or missing API key. Pass it as 'Authorization: Bearer <key>'.")


def _version_check(request: Request) -> Response | None:
    version = request.headers.get("x-runway-version")
    if version == VERSION:
        return None
    message = (
        "The X-Runway-Version header is required. Set it to 2024-11-06."
        if version is None
        else f"Unsupported API version {version!r}. Use 2024-11-06."
    )
    return _error(400, message)


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise rules.issue("", "Invalid JSON body.", "invalid_type") from None


async def _create(request: Request, endpoint: str, table: dict[str, rules.Model]) -> Response:
    sim = SimState.of(request)
    try:
        body = await _json_body(request)
        checked = rules.check(body, table)
        found = markers(checked.prompt)
        if "hang" in found and not await hang(request, sim.config.hang_seconds):
            return Response(status_code=499)  # nobody is listening any more
        if "429" in found:
            return _error(
                429, "You have exceeded the daily task limit for this model.", {"Retry-After": "1"}
            )
        if "500" in found:
            return _error(503, "Runway is temporarily shedding load. Retry with backoff.")
        if endpoint == "video_to_video":
            await _source_video(sim, checked, body)
    except rules.Invalid as exc:
        return JSONResponse(exc.body(), status_code=400)
    task = _new_task(sim, endpoint, checked, body, request, found)
    return JSONResponse({"id": task.id, "estimatedCost": {"credits": task.credits}})


def _new_task(
    sim: SimState,
    endpoint: str,
    checked: rules.Checked,
    body: dict[str, Any],
    request: Request,
    found: frozenset[str],
) -> SimTask:
    model = checked.model
    rate = model.credits_per_second
    if checked.audio and model.audio_credits_per_second is not None:
        rate = model.audio_credits_per_second
    kept = ("authorization", "x-runway-version", "content-type")
    task = SimTask(
        id=str(uuid.uuid4()),
        endpoint=endpoint,
        model=checked.name,
        body=elide(body),
        headers={k: v for k, v in request.headers.items() if k in kept},
        width=checked.width,
        height=checked.height,
        seconds=checked.seconds,
        audio=checked.audio,
        credits=round(rate * checked.seconds),
        timeline=sim.config.timeline(found),
        markers=found,
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    )
    sim.tasks[task.id] = task
    return task


async def _source_video(sim: SimState, checked: rules.Checked, body: dict[str, Any]) -> None:
    """Size and length of an edit's input video; the output keeps them (or ``ratio``)."""
    uri = body["videoUri"]
    if not isinstance(uri, str) or not uri:
        raise rules.issue("videoUri", "Invalid input: expected string", "invalid_type")
    probed = (1280, 720, 5)  # what a URL the simulator cannot fetch stands for
    if uri.startswith("data:"):
        _, data = rules.data_uri(uri, "videoUri", "video", rules.MAX_VIDEO_DATA_URI)
        decoded = await run_in_threadpool(_probe, data)
        if decoded is None:
            raise rules.issue("videoUri", "The video could not be decoded.")
        probed = decoded
    elif not uri.startswith("runway://"):
        rules.https_url(uri, "videoUri")
        parts = urlsplit(uri).path.split("/")
        own = sim.tasks.get(parts[2]) if len(parts) > 2 and parts[1] == "outputs" else None
        if own is not None:
            probed = (own.width, own.height, own.seconds)
    width, height, seconds = probed
    if seconds > rules.MAX_VIDEO_SECONDS:
        raise rules.issue(
            "videoUri",
            "Too big: the input video must be at most 30 seconds",
            "too_big",
            maximum=rules.MAX_VIDEO_SECONDS,
        )
    ratio = body.get("ratio")
    if isinstance(ratio, str) and ratio.count(":") == 1 and ratio.replace(":", "").isdigit():
        width, height = (int(v) for v in ratio.split(":"))
    checked.width, checked.height, checked.seconds = width, height, seconds


def _probe(data: bytes) -> tuple[int, int, int] | None:
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            seconds = (container.duration or 0) / 1_000_000
            width, height = stream.codec_context.width, stream.codec_context.height
            return width, height, max(1, round(seconds))
    except Exception:
        return None


async def text_to_video(request: Request) -> Response:
    return await _create(request, "text_to_video", rules.TEXT_TO_VIDEO)


async def image_to_video(request: Request) -> Response:
    return await _create(request, "image_to_video", rules.IMAGE_TO_VIDEO)


async def video_to_video(request: Request) -> Response:
    return await _create(request, "video_to_video", rules.VIDEO_TO_VIDEO)


def _task(request: Request) -> SimTask | None:
    return SimState.of(request).tasks.get(request.path_params["task_id"])


async def task_endpoint(request: Request) -> Response:
    sim, task = SimState.of(request), _task(request)
    if task is None:
        return _error(404, "Task not found.")
    if request.method == "DELETE":
        active = task.timeline.phase()[0] != "done"
        sim.deleted[task.id] = "cancelled" if active else "deleted"
        del sim.tasks[task.id]
        return Response(status_code=204)
    fault = task.poll_fault()
    if fault == "poll-429":
        return _error(429, "Too many requests.", {"Retry-After": "1"})
    if fault == "malformed":
        return Response(f'{{"id":"{task.id}","status":"RUN', media_type="application/json")
    return JSONResponse(sim.task_json(task, base_url(request)))


async def organization(request: Request) -> Response:
    sim = SimState.of(request)
    usage: dict[str, dict[str, int]] = {}
    for task in sim.tasks.values():
        usage.setdefault(task.model, {"dailyGenerations": 0})["dailyGenerations"] += 1
    spent = sum(task.credits for task in sim.tasks.values())
    return JSONResponse(
        {
            "creditBalance": sim.config.credit_balance - spent,
            "tier": {"maxMonthlyCreditSpend": 10_000, "models": {}},
            "usage": {"models": usage},
        }
    )


async def output(request: Request) -> Response:
    sim, task = SimState.of(request), _task(request)
    token = request.query_params.get("_jwt", "")
    if task is None or not hmac.compare_digest(token, sim.signature(task.id)):
        xml = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
        return Response(
            xml + "<Message>Access denied</Message></Error>", 403, media_type="text/xml"
        )
    if task.timeline.phase()[0] != "done" or "fail" in task.markers:
        return Response(status_code=404)
    return await mp4_response(task.width, task.height, task.seconds, sim.config.fps)


API_PATH = ""  # a deployment's api_base: the simulator's URL plus this
EXAMPLE_MODEL = "gen4.5"  # `vidgate simulate`'s entry: gen4_turbo, the first, needs an image


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route("/v1/text_to_video", text_to_video, methods=["POST"]),
        Route("/v1/image_to_video", image_to_video, methods=["POST"]),
        Route("/v1/video_to_video", video_to_video, methods=["POST"]),
        Route("/v1/tasks/{task_id}", task_endpoint, methods=["GET", "DELETE"]),
        Route("/v1/organization", organization),
        Route("/outputs/{task_id}/output.mp4", output),
    ]
    keyed = key_check(lambda: state.config.api_key, _unauthorized)
    return sim_app(
        state,
        routes,
        [
            Middleware(Guard, check=keyed, under=("/v1/",)),
            Middleware(Guard, check=_version_check, under=("/v1/",)),
        ],
    )
