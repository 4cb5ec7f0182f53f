"""An in-memory simulator of DashScope's async video synthesis, wire-exact for what vidgate uses.

Independent of the provider's spec and adapter (only the shared simulator kit and the local
renderer are imported), and driven by the official ``dashscope`` SDK in the tests. Serve it
and point ``dashscope.base_http_api_url`` (or a deployment's ``api_base``) at
``<url>/api/v1``.

Routes (``/api/v1`` needs ``Authorization: Bearer <key>``; a missing or wrong key is a 401
``InvalidApiKey``; errors are ``{"request_id", "code", "message"}``):

- ``POST /api/v1/services/aigc/video-generation/video-synthesis`` (text- and image-to-video)
  and ``POST /api/v1/services/aigc/image2video/video-synthesis`` (first/last-frame ``kf2v``
  models) → ``{"request_id", "output": {"task_id", "task_status": "PENDING"}}``. Both need
  ``X-DashScope-Async: enable`` (else 403 ``AccessDenied`` "current user api does not support
  synchronous calls"); bodies are validated per model (``_sim_rules``) and refused with 400
  ``InvalidParameter``.
- ``GET /api/v1/tasks/{task_id}``: ``PENDING``, ``RUNNING``, then ``SUCCEEDED`` with
  ``output.video_url`` (a signed URL back at this simulator) and ``usage``, or ``FAILED``
  with ``output.code``/``message``; ``CANCELED`` after a cancel; ``UNKNOWN`` for an id never
  issued or older than ``task_ttl_s`` (24 h). Times are CST strings with milliseconds.
- ``POST /api/v1/tasks/{task_id}/cancel``: only a ``PENDING`` task; anything else is a 400
  ``UnsupportedOperation``.
- ``GET /results/{task_id}.mp4?Expires=..&OSSAccessKeyId=..&Signature=..``: the MP4, no auth
  header; a wrong signature or an expired URL is a 403 XML error like OSS's.

Fault markers in ``input.prompt`` (see ``vidgate.providers.simkit``): ``[sim:fail]`` (FAILED,
``DataInspectionFailed``), ``[sim:429]`` (``Throttling.RateQuota``), ``[sim:500]``
(``InternalError``), ``[sim:unknown-status]`` (``PREPARING`` while running),
``[sim:malformed]`` (the first poll answers a truncated object), ``[sim:poll-429]``,
``[sim:slow]`` (ten times as long, queue included), ``[sim:hang]`` (create answers after
30 s, or gives up when the client goes away).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
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
    mp4_response,
    sim_app,
)
from vidgate.providers.wan import _sim_rules as rules

DEFAULT_KEY = "sk-" + "5eed" * 8
CST = timezone(timedelta(hours=8))
DAY_S = 24 * 3600.0


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream."""

    api_key: str | None = DEFAULT_KEY
    task_ttl_s: float = DAY_S
    """Tasks older than this answer ``UNKNOWN`` (DashScope keeps them 24 h)."""
    url_ttl_s: float = DAY_S
    retry_after: str | None = None
    """A ``Retry-After`` for 429s; DashScope documents none, so by default there is none."""
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))


@dataclass
class SimTask(BaseTask):
    """One task; its status follows the clock."""

    id: str
    endpoint: str
    checked: rules.Checked
    body: dict[str, Any]
    headers: dict[str, str]
    created: float = field(default_factory=time.time)
    canceled_at: float | None = None


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; ``app.state.sim``."""

    tasks: dict[str, SimTask] = field(default_factory=dict)
    cancels: list[tuple[str, int]] = field(default_factory=list)
    """``(task_id, HTTP status)`` of every cancel call."""

    def signature(self, task_id: str, expires: int) -> str:
        message = f"{task_id}:{expires}".encode()
        return hmac.new(self.config.signing_key, message, hashlib.sha256).hexdigest()

    def status(self, task: SimTask) -> str:
        if task.canceled_at is not None:
            return "CANCELED"
        phase, _ = task.timeline.phase()
        if phase == "queued":
            return "PENDING"
        if phase == "running":
            return "PREPARING" if "unknown-status" in task.markers else "RUNNING"
        return "FAILED" if "fail" in task.markers else "SUCCEEDED"

    def task_json(self, task: SimTask, base_url: str) -> dict[str, Any]:
        status = self.status(task)
        output: dict[str, Any] = {
            "task_id": task.id,
            "task_status": status,
            "submit_time": _cst(task.created),
        }
        body: dict[str, Any] = {"request_id": _request_id(), "output": output}
        if status == "CANCELED":
            output["end_time"] = _cst(task.canceled_at or task.created)
            return body
        if status == "PENDING":
            return body
        output["scheduled_time"] = _cst(task.created + task.timeline.queued_s)
        if status in ("RUNNING", "PREPARING"):
            return body
        output["end_time"] = _cst(task.created + task.timeline.duration_s)
        if status == "FAILED":
            output["code"] = "DataInspectionFailed"
            output["message"] = "Output data may contain inappropriate content."
            return body
        checked = task.checked
        output["orig_prompt"] = checked.prompt
        if checked.prompt_extend:
            output["actual_prompt"] = f"{checked.prompt}, cinematic lighting, smooth motion"
        output["video_url"] = self.video_url(task, base_url)
        body["usage"] = _usage(checked)
        return body

    def video_url(self, task: SimTask, base_url: str) -> str:
        expires = int(time.time() + self.config.url_ttl_s)
        query = urlencode(
            {
                "Expires": expires,
                "OSSAccessKeyId": "LTAI5tSimulated",
                "Signature": self.signature(task.id, expires),
            }
        )
        return f"{base_url}/results/{task.id}.mp4?{query}"


def _usage(checked: rules.Checked) -> dict[str, Any]:
    ratio = f"{checked.width}*{checked.height}"
    if checked.model.usage_v2:
        return {
            "video_duration": checked.seconds,
            "video_count": 1,
            "video_ratio": ratio,
            "SR": rules.SR[checked.tier],
        }
    return {"duration": checked.seconds, "video_count": 1, "video_ratio": ratio}


def _cst(epoch: float) -> str:
    """DashScope's time format: CST (UTC+8) with milliseconds and no zone marker."""
    return datetime.fromtimestamp(epoch, CST).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _request_id() -> str:
    return str(uuid.uuid4())


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"request_id": _request_id(), "code": code, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def _unauthorized(given: str | None) -> JSONResponse:
    """``/api/v1`` needs the API key as a bearer token."""
    message = "Invalid API-key provided." if given else "No API-key provided."
    return _error(401, "InvalidApiKey", message)


async def _create(request: Request, endpoint: str) -> Response:
    sim = SimState.of(request)
    if request.headers.get("x-dashscope-async", "").lower() != "enable":
        return _error(403, "AccessDenied", "current user api does not support synchronous calls")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "InvalidParameter", "The request body is not valid JSON.")
    prompt = body.get("input", {}).get("prompt") if isinstance(body, dict) else None
    found = markers(prompt if isinstance(prompt, str) else "")
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)  # nobody is listening any more
    if "429" in found:
        retry = {"Retry-After": sim.config.retry_after} if sim.config.retry_after else None
        return _error(
            429,
            "Throttling.RateQuota",
            "Requests rate limit exceeded, please try again later.",
            retry,
        )
    if "500" in found:
        return _error(
            500,
            "InternalError",
            "An internal error has occured, please try again later or contact service support.",
        )
    try:
        checked = rules.check(body, endpoint)
    except rules.Invalid as exc:
        return _error(400, exc.code, exc.message)
    task = _new_task(sim, endpoint, checked, body, request, found)
    output = {"task_id": task.id, "task_status": "PENDING"}
    return JSONResponse({"request_id": _request_id(), "output": output})


def _new_task(
    sim: SimState,
    endpoint: str,
    checked: rules.Checked,
    body: dict[str, Any],
    request: Request,
    found: frozenset[str],
) -> SimTask:
    kept = ("authorization", "x-dashscope-async", "content-type")
    task = SimTask(
        id=str(uuid.uuid4()),
        endpoint=endpoint,
        checked=checked,
        body=elide(body),
        headers={k: v for k, v in request.headers.items() if k in kept},
        timeline=sim.config.timeline(found, slow_queue=True),
        markers=found,
    )
    sim.tasks[task.id] = task
    return task


async def video_generation(request: Request) -> Response:
    return await _create(request, "video-generation")


async def image2video(request: Request) -> Response:
    return await _create(request, "image2video")


def _live_task(sim: SimState, task_id: str) -> SimTask | None:
    task = sim.tasks.get(task_id)
    if task is None or time.time() - task.created > sim.config.task_ttl_s:
        return None
    return task


async def task_endpoint(request: Request) -> Response:
    sim = SimState.of(request)
    task_id = request.path_params["task_id"]
    task = _live_task(sim, task_id)
    if task is None:
        output = {"task_id": task_id, "task_status": "UNKNOWN"}
        return JSONResponse({"request_id": _request_id(), "output": output})
    fault = task.poll_fault()
    if fault == "poll-429":
        return _error(429, "Throttling.RateQuota", "Requests rate limit exceeded.")
    if fault == "malformed":
        truncated = f'{{"request_id":"{_request_id()}","output":{{"task_id":"{task.id}","task_st'
        return Response(truncated, media_type="application/json")
    return JSONResponse(sim.task_json(task, base_url(request)))


async def cancel(request: Request) -> Response:
    sim = SimState.of(request)
    task = _live_task(sim, request.path_params["task_id"])
    if task is None or sim.status(task) != "PENDING":
        response = _error(
            400,
            "UnsupportedOperation",
            "Failed to cancel the task, please confirm if the task is in PENDING status.",
        )
    else:
        task.canceled_at = time.time()
        response = JSONResponse({"request_id": _request_id()})
    sim.cancels.append((request.path_params["task_id"], response.status_code))
    return response


def _oss_denied(code: str, message: str) -> Response:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{code}</Code>\n  <Message>{message}</Message>\n</Error>"
    )
    return Response(xml, 403, media_type="application/xml")


async def result(request: Request) -> Response:
    sim = SimState.of(request)
    task = sim.tasks.get(request.path_params["task_id"])
    query = request.query_params
    try:
        expires = int(query.get("Expires", ""))
    except ValueError:
        expires = 0
    good = task is not None and hmac.compare_digest(
        query.get("Signature", ""), sim.signature(task.id, expires)
    )
    if not good:
        return _oss_denied(
            "SignatureDoesNotMatch", "The request signature we calculated does not match."
        )
    if expires < time.time():
        return _oss_denied("AccessDenied", "Request has expired.")
    assert task is not None
    if sim.status(task) != "SUCCEEDED":
        return _oss_denied("NoSuchKey", "The specified key does not exist.")
    checked = task.checked
    return await mp4_response(checked.width, checked.height, checked.seconds, sim.config.fps)


API_PATH = "/api/v1"  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route(
            "/api/v1/services/aigc/video-generation/video-synthesis",
            video_generation,
            methods=["POST"],
        ),
        Route("/api/v1/services/aigc/image2video/video-synthesis", image2video, methods=["POST"]),
        Route("/api/v1/tasks/{task_id}", task_endpoint, methods=["GET"]),
        Route("/api/v1/tasks/{task_id}/cancel", cancel, methods=["POST"]),
        Route("/results/{task_id}.mp4", result),
    ]
    check = key_check(lambda: state.config.api_key, _unauthorized)
    return sim_app(state, routes, [Middleware(Guard, check=check, under=("/api/",))])
