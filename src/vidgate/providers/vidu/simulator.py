"""An in-memory simulator of the Vidu enterprise API v2, wire-exact for what vidgate uses.

Independent of the provider's spec and adapter (only the shared simulator kit, PIL and the
local renderer are used). Vidu has no official Python SDK; the tests drive this with plain
httpx as the Vidu docs do with curl.

Routes (``/ent/v2`` needs ``Authorization: Token <key>``; anything else, ``Bearer`` included,
is a 401 ``{"code": "Unauthorized", ...}``):

- ``POST /ent/v2/text2video``, ``/img2video`` (1 image), ``/start-end2video`` (2 images),
  ``/reference2video`` (1-7 images; 1-3 on vidu2.0 / vidu1.5) → the request echoed with
  ``task_id``, ``state: "created"``, ``credits`` and ``created_at``. Bodies are validated per
  model and endpoint and refused with 400 ``{"code", "reason", "message", "metadata":
  {"trace_id"}}`` (``FieldInvalid``, ``FieldLacking``, ``FieldUnwanted``,
  ``FieldItemCountOutOfRange``, ``ModelUnavailable``, ``ImageFormatInvalid``...); over the
  configured credit balance it is ``CreditInsufficient`` (HTTP 400, or 402 if configured).
- ``GET /ent/v2/tasks/{id}/creations`` → ``{id, state, err_code, credits, payload, bgm,
  off_peak, creations: [{id, url, cover_url[, watermarked_url]}]}``; ``state`` goes
  ``created`` → ``queueing`` → ``processing`` → ``success`` (or ``failed`` with ``err_code``).
- ``POST /ent/v2/tasks/{id}/cancel`` → ``{}``; the task then reads ``failed`` with
  ``err_code: "UserCancelled"``; a finished task answers 400 ``BadRequest``.
- ``GET /media/{id}/video.mp4?sign=...`` and ``/media/{id}/cover.jpg?sign=...``: the MP4 at
  the task's size and duration and a JPEG cover; no auth header, a bad signature is a 403.

Fault markers in ``prompt`` (``vidgate.providers.simkit``): ``[sim:fail]`` (``failed``,
``err_code: "CreationPolicyViolation"``), ``[sim:429]`` (``TooManyRequests``),
``[sim:500]`` (``InternalServiceFailure``), ``[sim:unknown-status]`` (``scheduling`` while
running), ``[sim:malformed]`` (the first poll answers a truncated object),
``[sim:poll-429]`` (``SystemThrottling``), ``[sim:slow]``, ``[sim:hang]`` (create answers
after 30 s, or gives up when the client goes away), and ``[sim:create-failed]`` (the create
answers HTTP 200 with ``state: "failed"``, ``err_code: "AuditSubmitIllegal"``).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import time
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
    jpeg_bytes,
    key_check,
    markers,
    mp4_response,
    sim_app,
)
from vidgate.providers.vidu import _sim_rules as rules

DEFAULT_KEY = "vda_" + "5eed" * 12
PREFIX = "/ent/v2"


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream."""

    api_key: str | None = DEFAULT_KEY
    credit_balance: int | None = None
    """``None``: unlimited; else creates beyond it are refused with ``CreditInsufficient``."""
    credit_error_status: int = 400
    """400 as documented; some clients saw 402."""
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))


@dataclass
class SimTask(BaseTask):
    """One task; its state follows the clock."""

    id: str
    checked: rules.Checked
    body: dict[str, Any]
    headers: dict[str, str]
    created_at: str
    cancelled: bool = False

    @property
    def failed(self) -> bool:
        return self.cancelled or "fail" in self.markers


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; ``app.state.sim``."""

    tasks: dict[str, SimTask] = field(default_factory=dict)
    spent: int = 0

    def reset(self) -> None:
        super().reset()
        self.spent = 0

    def sign(self, task_id: str, name: str) -> str:
        message = f"{task_id}/{name}".encode()
        return hmac.new(self.config.signing_key, message, hashlib.sha256).hexdigest()[:32]

    def state_of(self, task: SimTask) -> str:
        if task.cancelled:
            return "failed"
        phase, _ = task.timeline.phase()
        if phase == "queued":
            early = task.timeline.queued_s / 2
            return "created" if _elapsed(task) < early else "queueing"
        if phase == "running":
            return "scheduling" if "unknown-status" in task.markers else "processing"
        return "failed" if task.failed else "success"

    def query(self, task: SimTask, base_url: str) -> dict[str, Any]:
        state = self.state_of(task)
        checked = task.checked
        err = ""
        if state == "failed":
            err = "UserCancelled" if task.cancelled else "CreationPolicyViolation"
        creations: list[dict[str, Any]] = []
        if state == "success":
            media = f"{base_url}/media/{task.id}"
            creation = {
                "id": str(int(task.id) + 1),
                "url": f"{media}/video.mp4?sign={self.sign(task.id, 'video.mp4')}",
                "cover_url": f"{media}/cover.jpg?sign={self.sign(task.id, 'cover.jpg')}",
            }
            if checked.watermark:
                creation["watermarked_url"] = creation["url"] + "&watermark=1"
            creations.append(creation)
        return {
            "id": task.id,
            "state": state,
            "err_code": err,
            "credits": 0 if state == "failed" else checked.credits,
            "payload": checked.payload,
            "bgm": checked.bgm,
            "off_peak": checked.off_peak,
            "creations": creations,
        }


def _elapsed(task: SimTask) -> float:
    return time.monotonic() - task.timeline.started


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "code": code,
        "reason": code,
        "message": message,
        "metadata": {"trace_id": uuid.uuid4().hex},
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _unauthorized(_given: str | None) -> JSONResponse:
    """``/ent/v2`` needs ``Authorization: Token <api key>``."""
    return _error(401, "Unauthorized", "invalid or missing token")


async def _create(request: Request) -> Response:
    sim = SimState.of(request)
    endpoint = request.path_params["endpoint"]
    if endpoint not in rules.ENDPOINTS:
        return _error(404, "NotFound", "not found")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "BadRequest", "request body is not valid JSON")
    found = markers(body.get("prompt") if isinstance(body, dict) else None)
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)  # the caller has gone away
    if "429" in found:
        return _error(
            429, "TooManyRequests", "too many requests, please retry later", {"Retry-After": "1"}
        )
    if "500" in found:
        return _error(500, "InternalServiceFailure", "internal service failure")
    try:
        checked = await run_in_threadpool(rules.check, endpoint, body)
    except rules.Invalid as exc:
        return _error(exc.status, exc.code, exc.message)
    balance = sim.config.credit_balance
    if balance is not None and sim.spent + checked.credits > balance:
        return _error(sim.config.credit_error_status, "CreditInsufficient", "insufficient credits")
    task = _new_task(sim, checked, body, request, found)
    reply = _echo(task)
    if "create-failed" in found:
        del sim.tasks[task.id]
        reply |= {"state": "failed", "err_code": "AuditSubmitIllegal", "credits": 0}
    else:
        sim.spent += checked.credits
    return JSONResponse(reply)


def _new_task(
    sim: SimState,
    checked: rules.Checked,
    body: dict[str, Any],
    request: Request,
    found: frozenset[str],
) -> SimTask:
    if checked.seed == 0:
        checked.seed = random.randint(1, 2_147_483_647)
    kept = ("authorization", "content-type")
    task = SimTask(
        id=str(random.randint(10**17, 10**18 - 2)),
        checked=checked,
        body=elide(body),
        headers={k: v for k, v in request.headers.items() if k in kept},
        timeline=sim.config.timeline(found),
        markers=found,
        created_at=_now(),
    )
    sim.tasks[task.id] = task
    return task


def _echo(task: SimTask) -> dict[str, Any]:
    """The create reply: the request echoed with the task id, state and credits."""
    c = task.checked
    reply: dict[str, Any] = {"task_id": task.id, "state": "created", "model": c.model}
    if c.images:
        reply["images"] = task.body["images"]
    reply |= {"prompt": c.prompt, "duration": c.duration, "seed": c.seed}
    if c.endpoint in ("text2video", "reference2video"):
        reply["aspect_ratio"] = c.aspect_ratio
    reply |= {
        "resolution": c.resolution,
        "bgm": c.bgm,
        "movement_amplitude": c.movement_amplitude,
        "payload": c.payload,
        "off_peak": c.off_peak,
        "credits": c.credits,
        "watermark": c.watermark,
        "created_at": task.created_at,
    }
    if c.audio is not None:
        reply["audio"] = c.audio
    return reply


def _task(request: Request) -> SimTask | None:
    return SimState.of(request).tasks.get(request.path_params["task_id"])


async def creations(request: Request) -> Response:
    sim, task = SimState.of(request), _task(request)
    if task is None:
        return _error(404, "TaskNotFound", "task not found")
    fault = task.poll_fault()
    if fault == "poll-429":
        return _error(429, "SystemThrottling", "system is busy, please retry later",
                      {"Retry-After": "1"})  # fmt: skip
    if fault == "malformed":
        return Response(f'{{"id":"{task.id}","state":"proc', media_type="application/json")
    return JSONResponse(sim.query(task, base_url(request)))


async def cancel(request: Request) -> Response:
    sim, task = SimState.of(request), _task(request)
    if task is None:
        return _error(404, "TaskNotFound", "task not found")
    if sim.state_of(task) in ("success", "failed"):
        return _error(400, "BadRequest", "task has finished and cannot be cancelled")
    task.cancelled = True
    sim.spent -= task.checked.credits
    return JSONResponse({})


async def media(request: Request) -> Response:
    sim, task = SimState.of(request), _task(request)
    name = request.path_params["name"]
    sign = request.query_params.get("sign", "")
    if task is None or name not in ("video.mp4", "cover.jpg"):
        return Response("<Error><Code>NoSuchKey</Code></Error>", 404, media_type="text/xml")
    if not hmac.compare_digest(sign, sim.sign(task.id, name)):
        return Response("<Error><Code>AccessDenied</Code></Error>", 403, media_type="text/xml")
    if sim.state_of(task) != "success":
        return Response("<Error><Code>NoSuchKey</Code></Error>", 404, media_type="text/xml")
    c = task.checked
    if name == "cover.jpg":
        data = await run_in_threadpool(jpeg_bytes, c.width // 4, c.height // 4)
        return Response(data, media_type="image/jpeg")
    return await mp4_response(c.width, c.height, c.duration, sim.config.fps)


API_PATH = "/ent/v2"  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route(PREFIX + "/tasks/{task_id}/creations", creations),
        Route(PREFIX + "/tasks/{task_id}/cancel", cancel, methods=["POST"]),
        Route(PREFIX + "/{endpoint}", _create, methods=["POST"]),
        Route("/media/{task_id}/{name}", media),
    ]
    check = key_check(lambda: state.config.api_key, _unauthorized, schemes=("Token",))
    return sim_app(state, routes, [Middleware(Guard, check=check, under=(PREFIX + "/",))])
