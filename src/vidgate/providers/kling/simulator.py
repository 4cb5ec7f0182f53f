"""An in-memory simulator of the Kling AI video API, wire-exact for what vidgate uses.

Independent of the provider's spec and adapter (only the shared simulator kit, the local
renderer and this folder's ``_sim_rules`` are imported); driven with plain httpx and a
hand-signed JWT in the tests, as Kling's docs describe (Kling has no official Python SDK).

Credentials: ``SimulatorConfig.api_key`` is ``"ACCESS_KEY:SECRET_KEY"`` (a value without a
colon is both the access and the secret key, or the access key when ``secret_key`` is set;
``None`` accepts any access key and skips the signature check). ``/v1`` calls need
``Authorization: Bearer <jwt>`` (HS256, ``iss`` = access key, ``exp``, ``nbf``); the
signature, ``exp`` and ``nbf`` are checked and failures are HTTP 401 with codes 1000-1004.

Routes:

- ``POST /v1/videos/text2video`` and ``/v1/videos/image2video`` → ``{"code": 0, "message":
  "SUCCEED", "request_id", "data": {task_id, task_status: "submitted", task_info,
  created_at, updated_at}}``; bodies are validated like the API (model_name, string
  ``duration``, mode, aspect_ratio, cfg_scale, camera_control, sound, raw-base64 or URL
  images of at least 300 px) and refused with code 1201 (HTTP 400), unknown models with
  1203 (HTTP 404), a reused ``external_task_id`` with 1201.
- ``GET /v1/videos/{family}/{task_id or external_task_id}``: ``submitted``, ``processing``,
  then ``succeed`` with ``task_result.videos[0].url`` and ``final_unit_deduction`` (a
  string), or ``failed`` with the reason in ``task_status_msg`` (``message`` is still
  ``"SUCCEED"``). The family must be the create call's, else 1203 / HTTP 404.
- ``GET /v1/videos/{family}?pageNum=&pageSize=``: the list.
- ``GET /cdn/videos/{task_id}.mp4``: the MP4 (no auth, like Kling's CDN).

Text-to-video output is ``aspect_ratio`` at 720p (``std``) or 1080p (``pro``) on the short
side; image-to-video output follows the input image's aspect ratio.

Fault markers in ``prompt`` (see ``vidgate.providers.simkit``): ``[sim:fail]`` (failed,
``task_status_msg`` a risk-control refusal), ``[sim:429]`` (code 1302 with
``Retry-After``), ``[sim:500]`` (code 5000), ``[sim:unknown-status]``, ``[sim:malformed]``
(the first poll answers a truncated object), ``[sim:poll-429]``, ``[sim:slow]``,
``[sim:hang]`` (create answers after 30 s, or gives up when the client goes away).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.kling import _sim_rules as rules
from vidgate.providers.kling._sim_rules import KlingError
from vidgate.providers.simkit import (
    BaseConfig,
    BaseState,
    BaseTask,
    Check,
    Guard,
    base_url,
    elide,
    hang,
    markers,
    mp4_response,
    sim_app,
)

DEFAULT_KEY = "kling-sim-access-key:kling-sim-secret-key"
FAMILIES = ("text2video", "image2video")
KEPT_HEADERS = ("authorization", "content-type")
POLICY_REFUSAL = "Failure to pass the risk control system: the content may violate the policy"


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream."""

    api_key: str | None = DEFAULT_KEY
    """``"ACCESS_KEY:SECRET_KEY"``; ``None`` accepts any access key unsigned-checked."""
    secret_key: str | None = None
    max_active_tasks: int | None = None
    """Over this many unfinished tasks a create answers 1303 (resource-pack concurrency)."""

    def keys(self) -> dict[str, str] | None:
        """Access key → secret key, or ``None`` to accept any."""
        if self.api_key is None:
            return None
        if ":" in self.api_key:
            access, secret = self.api_key.split(":", 1)
            return {access: secret}
        return {self.api_key: self.secret_key or self.api_key}


@dataclass
class SimTask(BaseTask):
    """One task; its status follows the clock."""

    id: str
    family: str
    checked: rules.Checked
    body: dict[str, Any]
    headers: dict[str, str]
    created_at: int

    def status(self) -> str:
        phase, _ = self.timeline.phase()
        if phase == "queued":
            return "submitted"
        if phase == "running":
            return "queueing-gpu" if "unknown-status" in self.markers else "processing"
        return "failed" if "fail" in self.markers else "succeed"


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; ``app.state.sim``."""

    tasks: dict[str, SimTask] = field(default_factory=dict)
    external: dict[str, str] = field(default_factory=dict)

    def find(self, family: str, ident: str) -> SimTask | None:
        task = self.tasks.get(self.external.get(ident, ident))
        return task if task is not None and task.family == family else None

    def task_json(self, task: SimTask, base_url: str) -> dict[str, Any]:
        status = task.status()
        elapsed = min(time.monotonic() - task.timeline.started, task.timeline.duration_s)
        data: dict[str, Any] = {
            "task_id": task.id,
            "task_status": status,
            "task_status_msg": POLICY_REFUSAL if status == "failed" else "",
            "task_info": _task_info(task),
            "created_at": task.created_at,
            "updated_at": task.created_at + int(elapsed * 1000),
        }
        if status == "failed":
            data["final_unit_deduction"] = "0"
        if status == "succeed":
            checked = task.checked
            deducted = rules.units(checked.model, checked.mode, checked.seconds, checked.sound)
            url = f"{base_url}/cdn/videos/{task.id}.mp4"
            data["final_unit_deduction"] = f"{deducted:g}"
            data["task_result"] = {
                "videos": [
                    {
                        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, task.id)),
                        "url": url,
                        "watermark_url": f"{url}?watermark=1",
                        "duration": str(checked.seconds),
                    }
                ]
            }
        return data


def _task_info(task: SimTask) -> dict[str, Any]:
    external = task.checked.external_task_id
    return {"external_task_id": external} if external else {}


def _request_id() -> str:
    return str(uuid.uuid4())


def _ok(data: Any) -> JSONResponse:
    body = {"code": 0, "message": "SUCCEED", "request_id": _request_id(), "data": data}
    return JSONResponse(body)


def _error(error: KlingError, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"code": error.code, "message": error.message, "request_id": _request_id()}
    return JSONResponse(body, status_code=error.status, headers=headers)


def _rate_limited(code: int, message: str) -> JSONResponse:
    return _error(KlingError(code, message), {"Retry-After": "1"})


def _jwt_check(state: SimState) -> Check:
    """Checks the JWT on every ``/v1`` call, as Kling's gateway does."""

    def check(request: Request) -> Response | None:
        try:
            rules.check_jwt(request.headers.get("authorization"), state.config.keys(), time.time())
        except KlingError as exc:
            return _error(exc)
        return None

    return check


async def _create(request: Request, family: str) -> Response:
    sim = SimState.of(request)
    try:
        body = await request.json()
    except ValueError:
        return _error(KlingError(1200, "Invalid request parameters: malformed JSON"))
    try:
        checked = rules.check_create(body, family)
        if checked.external_task_id and checked.external_task_id in sim.external:
            raise rules.invalid("external_task_id already exists")
    except KlingError as exc:
        return _error(exc)
    found = markers(checked.prompt)
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)  # nobody is listening any more
    if "429" in found:
        return _rate_limited(1302, "The API request frequency is too high, please slow down")
    if "500" in found:
        return _error(KlingError(5000, "Server internal error"))
    limit = sim.config.max_active_tasks
    active = sum(1 for t in sim.tasks.values() if t.timeline.phase()[0] != "done")
    if limit is not None and active >= limit:
        return _rate_limited(1303, "Parallel task over resource pack limit")
    task = _new_task(sim, family, checked, body, request, found)
    data = sim.task_json(task, base_url(request))
    data.pop("task_status_msg")
    return _ok(data)


def _new_task(
    sim: SimState,
    family: str,
    checked: rules.Checked,
    body: dict[str, Any],
    request: Request,
    found: frozenset[str],
) -> SimTask:
    task = SimTask(
        id=str(random.randrange(10**17, 10**18)),
        family=family,
        checked=checked,
        body=elide(body, any_text=True),
        headers={k: v for k, v in request.headers.items() if k in KEPT_HEADERS},
        timeline=sim.config.timeline(found),
        markers=found,
        created_at=rules.now_ms(),
    )
    sim.tasks[task.id] = task
    if checked.external_task_id:
        sim.external[checked.external_task_id] = task.id
    return task


async def text2video(request: Request) -> Response:
    return await _create(request, "text2video")


async def image2video(request: Request) -> Response:
    return await _create(request, "image2video")


async def query(request: Request) -> Response:
    sim = SimState.of(request)
    family = request.path_params["family"]
    task = sim.find(family, request.path_params["task_id"]) if family in FAMILIES else None
    if task is None:
        return _error(KlingError(1203, "task not found"))
    fault = task.poll_fault()
    if fault == "poll-429":
        return _rate_limited(1302, "The API request frequency is too high, please slow down")
    if fault == "malformed":
        truncated = f'{{"code":0,"message":"SUCCEED","data":{{"task_id":"{task.id}","task_st'
        return Response(truncated, media_type="application/json")
    return _ok(sim.task_json(task, base_url(request)))


async def list_tasks(request: Request) -> Response:
    sim = SimState.of(request)
    family = request.path_params["family"]
    if family not in FAMILIES:
        return _error(KlingError(1202, "request method or path is wrong"))
    try:
        page = int(request.query_params.get("pageNum", "1"))
        size = int(request.query_params.get("pageSize", "30"))
    except ValueError:
        return _error(rules.invalid("pageNum and pageSize must be integers"))
    if not 1 <= page <= 1000 or not 1 <= size <= 500:
        return _error(rules.invalid("pageNum must be in [1,1000] and pageSize in [1,500]"))
    tasks = sorted(
        (t for t in sim.tasks.values() if t.family == family),
        key=lambda t: t.created_at,
        reverse=True,
    )
    base = base_url(request)
    return _ok([sim.task_json(t, base) for t in tasks[(page - 1) * size : page * size]])


async def video_file(request: Request) -> Response:
    sim = SimState.of(request)
    task = sim.tasks.get(request.path_params["task_id"])
    if task is None or task.status() != "succeed":
        return Response("<Error><Code>NoSuchKey</Code></Error>", 404, media_type="text/xml")
    checked = task.checked
    return await mp4_response(checked.width, checked.height, checked.seconds, sim.config.fps)


API_PATH = ""  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route("/v1/videos/text2video", text2video, methods=["POST"]),
        Route("/v1/videos/image2video", image2video, methods=["POST"]),
        Route("/v1/videos/{family}/{task_id}", query),
        Route("/v1/videos/{family}", list_tasks),
        Route("/cdn/videos/{task_id}.mp4", video_file),
    ]
    guard = Middleware(Guard, check=_jwt_check(state), under=("/v1/",))
    return sim_app(state, routes, [guard])
