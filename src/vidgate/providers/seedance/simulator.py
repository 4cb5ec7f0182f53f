"""An in-memory simulator of the Ark content-generation API (Seedance), wire-exact for what
vidgate and the official ``volcenginesdkarkruntime`` / ``byteplussdkarkruntime`` use.

Independent of the provider's spec and adapter (only the shared simulator kit is imported).
It serves both platforms' model names; point a deployment's ``api_base`` at
``<url>/api/v3``.

Routes (``/api/v3`` needs ``Authorization: Bearer <ARK API key>``; otherwise a 401
``AuthenticationError``):

- ``POST /api/v3/contents/generations/tasks`` → ``{"id": "cgt-…"}``; the body is validated
  per model (``_sim_rules``), legacy ``--flags`` in the text are stripped and applied when
  the body field is absent.
- ``GET /api/v3/contents/generations/tasks/{id}``: ``queued``, ``running``, then
  ``succeeded`` with ``content.video_url`` (a signed URL on this simulator, no auth) and
  ``usage.completion_tokens``, or ``failed`` with ``error {code, message}``; ``cancelled``
  after a DELETE while queued; ``expired`` with ``[sim:expire]``.
- ``GET /api/v3/contents/generations/tasks?page_num&page_size&filter.status&filter.task_ids
  &filter.model`` → ``{items, total}``.
- ``DELETE /api/v3/contents/generations/tasks/{id}`` → ``{}``: cancels a queued task, deletes
  a finished one, and is a 400 on a running one (``SimState.deleted`` records what it did).
- ``GET /tos/{id}/video.mp4?X-Tos-Expires&X-Tos-Signature`` (and ``last_frame.jpg``): the
  bytes; a wrong signature is a 403 like TOS.

Errors are ``{"error": {"code", "message", "param", "type"}}`` with ``X-Request-Id``; the
SDK's ``X-Client-Request-Id`` is echoed. Fault markers in the text (``vidgate.providers.
simkit``): ``[sim:fail]`` (``OutputVideoSensitiveContentDetected``), ``[sim:blocked]`` (a 400
``InputTextSensitiveContentDetected`` at create), ``[sim:expire]``, ``[sim:429]``,
``[sim:500]``, ``[sim:unknown-status]``, ``[sim:malformed]``, ``[sim:poll-429]``,
``[sim:slow]``, ``[sim:hang]``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.seedance import _sim_rules as rules
from vidgate.providers.simkit import (
    BaseConfig,
    BaseState,
    BaseTask,
    Guard,
    ResponseHeaders,
    base_url,
    elide,
    hang,
    jpeg_bytes,
    key_check,
    markers,
    mp4_response,
    sim_app,
)

DEFAULT_KEY = "ark-5eed" + "a1b2c3d4" * 4
PREFIX = "/api/v3"
TERMINAL = ("succeeded", "failed", "expired", "cancelled")
URL_LIFETIME_S = 86_400


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream."""

    api_key: str | None = DEFAULT_KEY
    endpoints: dict[str, str] = field(default_factory=dict)
    """Ark endpoint ids (``ep-…``) and the model each serves."""
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))


@dataclass
class SimTask(BaseTask):
    """One task; its status follows the clock (or a DELETE)."""

    id: str
    model: str
    checked: rules.Checked
    body: dict[str, Any]
    headers: dict[str, str]
    created_at: int
    cancelled_at: int | None = None

    @property
    def tokens(self) -> int:
        c = self.checked
        return c.width * c.height * (24 * c.duration + 1) // 1024


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; ``app.state.sim``."""

    tasks: dict[str, SimTask] = field(default_factory=dict)
    deleted: dict[str, str] = field(default_factory=dict)
    """Task id → ``"cancelled"`` or ``"deleted"``, for what DELETE did."""

    def signature(self, task_id: str, name: str) -> str:
        message = f"{task_id}/{name}".encode()
        return hmac.new(self.config.signing_key, message, hashlib.sha256).hexdigest()

    def signed(self, base_url: str, task: SimTask, name: str) -> str:
        query = f"X-Tos-Expires={URL_LIFETIME_S}&X-Tos-Signature={self.signature(task.id, name)}"
        return f"{base_url}/tos/{task.id}/{name}?{query}"

    def status(self, task: SimTask) -> str:
        if task.cancelled_at is not None:
            return "cancelled"
        phase = task.timeline.phase()[0]
        if phase == "queued":
            return "queued"
        if phase == "running":
            return "preprocessing" if "unknown-status" in task.markers else "running"
        if "fail" in task.markers:
            return "failed"
        return "expired" if "expire" in task.markers else "succeeded"

    def task_json(self, task: SimTask, base_url: str) -> dict[str, Any]:
        c, status = task.checked, self.status(task)
        body: dict[str, Any] = {
            "id": task.id,
            "model": task.model,
            "status": status,
            "created_at": task.created_at,
            "updated_at": task.cancelled_at or int(time.time()),
            "seed": c.seed,
            "resolution": c.resolution,
            "ratio": c.ratio,
            "duration": c.duration,
            "framespersecond": self.config.fps,
            "service_tier": c.service_tier,
            "execution_expires_after": c.execution_expires_after,
        }
        if c.generate_audio is not None:
            body |= {"generate_audio": c.generate_audio, "draft": False}
        if status == "succeeded":
            content = {"video_url": self.signed(base_url, task, "video.mp4")}
            if c.return_last_frame:
                content["last_frame_url"] = self.signed(base_url, task, "last_frame.jpg")
            body["content"] = content
            body["usage"] = {"completion_tokens": task.tokens, "total_tokens": task.tokens}
        elif status == "failed":
            body["error"] = {
                "code": "OutputVideoSensitiveContentDetected",
                "message": "The request failed because the output video may contain sensitive "
                f"information. Request id: {_request_id()}",
            }
        return body


def _request_id() -> str:
    return "021" + str(int(time.time() * 1000)) + secrets.token_hex(12)


def _error(
    status: int,
    code: str,
    message: str,
    param: str = "",
    kind: str = "BadRequest",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    request_id = _request_id()
    body = {
        "error": {
            "code": code,
            "message": f"{message} Request id: {request_id}",
            "param": param,
            "type": kind,
        }
    }
    return JSONResponse(
        body, status_code=status, headers={"X-Request-Id": request_id, **(headers or {})}
    )


def _invalid(exc: rules.Invalid) -> JSONResponse:
    return _error(exc.status, exc.code, exc.message, exc.param, exc.type)


def _rate_limited() -> JSONResponse:
    return _error(
        429,
        "RateLimitExceeded.EndpointRPMExceeded",
        "The request has exceeded the rate limit of requests per minute of this model.",
        kind="TooManyRequests",
        headers={"Retry-After": "1"},
    )


def _unauthorized(_given: str | None) -> JSONResponse:
    """``/api/v3`` needs ``Authorization: Bearer <key>``."""
    return _error(
        401,
        "AuthenticationError",
        "The API key or AK/SK in the request is missing or invalid.",
        kind="Unauthorized",
    )


def _client_request_id(request: Request) -> dict[str, str]:
    """Ark echoes the SDK's ``X-Client-Request-Id`` on every ``/api/v3`` answer."""
    client_id = request.headers.get("x-client-request-id")
    return {"x-client-request-id": client_id} if client_id else {}


async def create_task(request: Request) -> Response:
    sim = SimState.of(request)
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "InvalidParameter", "The request body is not valid JSON.")
    found = markers(_texts(body))
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)  # nobody is listening any more
    if "429" in found:
        return _rate_limited()
    if "500" in found:
        return _error(
            500,
            "InternalServiceError",
            "The service encountered an unexpected internal error.",
            kind="InternalServerError",
        )
    try:
        checked = rules.check(body, sim.config.endpoints)
    except rules.Invalid as exc:
        return _invalid(exc)
    if "blocked" in found:
        return _error(
            400,
            "InputTextSensitiveContentDetected",
            "The request failed because the input text may contain sensitive information.",
        )
    task = _new_task(sim, checked, body, request, found)
    return JSONResponse({"id": task.id}, headers={"X-Request-Id": _request_id()})


def _texts(body: Any) -> str:
    content = body.get("content") if isinstance(body, dict) else None
    items = content if isinstance(content, list) else []
    return " ".join(
        str(item.get("text")) for item in items if isinstance(item, dict) and item.get("text")
    )


def _new_task(
    sim: SimState,
    checked: rules.Checked,
    body: dict[str, Any],
    request: Request,
    found: frozenset[str],
) -> SimTask:
    if checked.seed == -1:
        checked.seed = secrets.randbelow(2**31)
    kept = ("authorization", "content-type", "x-client-request-id", "user-agent")
    now = datetime.now()
    task = SimTask(
        id=f"cgt-{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)[:5]}",
        model=checked.name,
        checked=checked,
        body=elide(body),
        headers={k: v for k, v in request.headers.items() if k in kept},
        timeline=sim.config.timeline(found, slow_queue=True),
        markers=found,
        created_at=int(time.time()),
    )
    sim.tasks[task.id] = task
    return task


def _task(request: Request) -> SimTask | None:
    return SimState.of(request).tasks.get(request.path_params["task_id"])


def _not_found(task_id: str) -> JSONResponse:
    return _error(
        404,
        "ResourceNotFound",
        f"The specified task {task_id} is not found.",
        "id",
        kind="NotFound",
    )


async def task_endpoint(request: Request) -> Response:
    sim, task = SimState.of(request), _task(request)
    if task is None:
        return _not_found(request.path_params["task_id"])
    if request.method == "DELETE":
        return _delete(sim, task)
    fault = task.poll_fault()
    if fault == "poll-429":
        return _rate_limited()
    if fault == "malformed":
        return Response(f'{{"id":"{task.id}","status":"runn', media_type="application/json")
    return JSONResponse(sim.task_json(task, base_url(request)))


def _delete(sim: SimState, task: SimTask) -> Response:
    status = sim.status(task)
    if status == "queued":
        task.cancelled_at = int(time.time())
        sim.deleted[task.id] = "cancelled"
        return JSONResponse({})
    if status not in TERMINAL:
        return _error(
            400,
            "InvalidAction.TaskRunning",
            f"The task {task.id} is running and can be neither cancelled nor deleted.",
            "id",
        )
    del sim.tasks[task.id]
    sim.deleted[task.id] = "deleted"
    return JSONResponse({})


async def list_tasks(request: Request) -> Response:
    sim, query = SimState.of(request), request.query_params
    try:
        page_num = int(query.get("page_num", "1"))
        page_size = int(query.get("page_size", "10"))
    except ValueError:
        return _error(400, "InvalidParameter", "page_num and page_size must be integers.")
    if page_num < 1 or not 1 <= page_size <= 500:
        return _error(400, "InvalidParameter", "page_num >= 1 and page_size in [1, 500].")
    wanted_ids = set(query.getlist("filter.task_ids"))
    status, model = query.get("filter.status"), query.get("filter.model")
    tasks = [
        t
        for t in sorted(sim.tasks.values(), key=lambda t: (t.created_at, t.id), reverse=True)
        if (not wanted_ids or t.id in wanted_ids)
        and (status is None or sim.status(t) == status)
        and (model is None or t.model == model)
    ]
    page = tasks[(page_num - 1) * page_size : page_num * page_size]
    base = base_url(request)
    return JSONResponse({"items": [sim.task_json(t, base) for t in page], "total": len(tasks)})


async def output(request: Request) -> Response:
    sim, task = SimState.of(request), _task(request)
    name = request.path_params["name"]
    token = request.query_params.get("X-Tos-Signature", "")
    if task is None or not hmac.compare_digest(token, sim.signature(task.id, name)):
        xml = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
        return Response(
            xml + "<Message>Access Denied</Message></Error>", 403, media_type="application/xml"
        )
    if sim.status(task) != "succeeded":
        return Response(status_code=404)
    c = task.checked
    if name == "last_frame.jpg":
        return Response(jpeg_bytes(c.width, c.height), media_type="image/jpeg")
    return await mp4_response(c.width, c.height, c.duration, sim.config.fps)


API_PATH = "/api/v3"  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    tasks = f"{PREFIX}/contents/generations/tasks"
    routes = [
        Route(tasks, create_task, methods=["POST"]),
        Route(tasks, list_tasks, methods=["GET"]),
        Route(tasks + "/{task_id}", task_endpoint, methods=["GET", "DELETE"]),
        Route("/tos/{task_id}/{name:str}", output),
    ]
    api = (PREFIX + "/",)
    check = key_check(lambda: state.config.api_key, _unauthorized)
    return sim_app(
        state,
        routes,
        [
            Middleware(ResponseHeaders, make=_client_request_id, under=api),
            Middleware(Guard, check=check, under=api),
        ],
    )
