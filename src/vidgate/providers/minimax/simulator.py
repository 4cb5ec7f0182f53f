"""An in-memory simulator of the MiniMax video API (v1 and v2), wire-exact for what vidgate uses.

Independent of the provider's spec and adapter (only the shared simulator kit and its own
rules module are imported). MiniMax has no official Python SDK; the tests drive this app with
plain httpx, exactly as the platform docs do.

Every ``/v1`` and ``/v2`` call needs ``Authorization: Bearer <key>``. Like MiniMax, business
errors come inside **HTTP 200** as ``{"base_resp": {"status_code": N, "status_msg": ...}}``:
a missing key is ``1004``, a wrong one ``2049``, a bad body ``2013``.

v1 routes:
- ``POST /v1/video_generation`` → ``{"task_id", "base_resp"}``.
- ``GET /v1/query/video_generation?task_id=`` → ``Preparing``, ``Queueing``, ``Processing``,
  then ``Success`` with ``file_id`` (a string) and ``video_width``/``video_height``, or
  ``Fail``.
- ``GET /v1/files/retrieve?file_id=`` → ``{"file": {"file_id": <number>, ...,
  "download_url"}}``; ``GET /v1/files/retrieve_content?file_id=`` → the bytes.
- ``GET /download/{file_id}/output.mp4?Expires=&Signature=`` → the MP4 (signed, no auth;
  a bad or expired signature is a 403 like the object store's).

v2 routes (MiniMax-H3): ``POST /v2/video_generation`` → ``{"task_id"}``;
``GET /v2/query/video_generation/{id}`` → ``{"task": {...}}`` with ``queued``, ``running``,
``succeeded`` (``content.url``, ``usage``), ``failed`` (``error``), ``cancelled``;
``DELETE /v2/video_generation/{id}`` cancels a queued task or deletes a finished one.

Fault markers in the prompt (see ``vidgate.providers.simkit``): ``[sim:fail]`` (``Fail`` with
``1027`` output sensitive / v2 ``failed``), ``[sim:429]`` (``1002`` inside HTTP 200),
``[sim:500]`` (HTTP 500), ``[sim:unknown-status]``, ``[sim:malformed]`` (the first poll is
truncated JSON), ``[sim:poll-429]`` (an edge HTTP 429 with ``Retry-After``), ``[sim:slow]``,
``[sim:hang]``, and ``[sim:code-NNNN]`` (the create answers ``base_resp`` code NNNN).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.minimax import _sim_rules as rules
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

DEFAULT_KEY = "sk-api-" + "5eed" * 16
MESSAGES = {
    0: "success",
    1000: "unknown error",
    1002: "rate limit exceeded(RPM)",
    1004: "login fail: Please carry the API secret key in the 'Authorization' field",
    1008: "insufficient balance",
    1026: "input new_sensitive",
    1027: "output new_sensitive",
    1033: "system error",
    2013: "invalid params",
    2049: "invalid api key",
    2061: "your current token plan not support model",
}


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream."""

    api_key: str | None = DEFAULT_KEY
    url_lifetime_s: float = 9 * 3600
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))


@dataclass
class SimTask(BaseTask):
    """One task; its status follows the clock."""

    id: str
    api: str
    """``v1`` or ``v2``."""
    model: str
    prompt: str
    body: dict[str, Any]
    headers: dict[str, str]
    width: int
    height: int
    seconds: int
    created_at: int
    file_id: int
    cancelled: bool = False


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; ``app.state.sim``."""

    tasks: dict[str, SimTask] = field(default_factory=dict)
    deleted: dict[str, str] = field(default_factory=dict)
    """Task id → ``"cancelled"`` or ``"deleted"``, for what DELETE did."""

    def by_file(self, file_id: str) -> SimTask | None:
        for task in self.tasks.values():
            if str(task.file_id) == file_id and _succeeded(task):
                return task
        return None

    def signature(self, file_id: int, expires: int) -> str:
        text = f"{file_id}:{expires}".encode()
        return hmac.new(self.config.signing_key, text, hashlib.sha256).hexdigest()

    def download_url(self, task: SimTask, base_url: str) -> str:
        expires = int(time.time() + self.config.url_lifetime_s)
        signature = self.signature(task.file_id, expires)
        return (
            f"{base_url}/download/{task.file_id}/output.mp4?Expires={expires}&Signature={signature}"
        )


def _succeeded(task: SimTask) -> bool:
    return task.timeline.phase()[0] == "done" and "fail" not in task.markers and not task.cancelled


def base_resp(code: int, message: str | None = None) -> dict[str, Any]:
    return {"status_code": code, "status_msg": message or MESSAGES.get(code, "error")}


def _business(code: int, message: str | None = None, **extra: Any) -> JSONResponse:
    """A MiniMax business error: HTTP 200 with a non-zero ``base_resp``."""
    return JSONResponse({**extra, "base_resp": base_resp(code, message)})


def _new_id() -> int:
    return 100_000_000_000_000 + secrets.randbelow(900_000_000_000_000)


def _unauthorized(given: str | None) -> JSONResponse:
    """``/v1`` and ``/v2`` need ``Authorization: Bearer <key>``; failures are HTTP 200."""
    return _business(2049 if (given or "").startswith("Bearer ") else 1004)


async def _create(request: Request, api: str) -> Response:
    sim = SimState.of(request)
    try:
        body = await request.json()
    except ValueError:
        return _business(2013, "invalid params, body is not JSON")
    try:
        checked = rules.check_v1(body) if api == "v1" else rules.check_v2(body)
    except rules.Invalid as exc:
        return _business(exc.code, exc.message)
    found = markers(checked.prompt)
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)  # nobody is listening any more
    if "429" in found:
        return _business(1002)
    if "500" in found:
        return JSONResponse({"base_resp": base_resp(1000)}, status_code=500)
    for marker in found:
        if marker.startswith("code-") and marker[5:].isdigit():
            return _business(int(marker[5:]), task_id="")
    task = _new_task(sim, api, checked, body, request, found)
    if api == "v2":
        return JSONResponse({"task_id": task.id})
    return JSONResponse({"task_id": task.id, "base_resp": base_resp(0)})


def _new_task(
    sim: SimState,
    api: str,
    checked: rules.Checked,
    body: dict[str, Any],
    request: Request,
    found: frozenset[str],
) -> SimTask:
    kept = ("authorization", "content-type")
    task = SimTask(
        id=str(_new_id()),
        api=api,
        model=checked.model,
        prompt=checked.prompt,
        body=elide(body),
        headers={k: v for k, v in request.headers.items() if k in kept},
        width=checked.width,
        height=checked.height,
        seconds=checked.seconds,
        timeline=sim.config.timeline(found),
        markers=found,
        created_at=int(time.time()),
        file_id=_new_id(),
    )
    sim.tasks[task.id] = task
    return task


def _poll_fault(task: SimTask) -> Response | None:
    fault = task.poll_fault()
    if fault == "poll-429":
        body = {"base_resp": base_resp(1002)}
        return JSONResponse(body, status_code=429, headers={"Retry-After": "1"})
    if fault == "malformed":
        return Response(f'{{"task_id":"{task.id}","sta', media_type="application/json")
    return None


# --- v1 ----------------------------------------------------------------------------------


async def v1_create(request: Request) -> Response:
    return await _create(request, "v1")


def v1_status(task: SimTask) -> dict[str, Any]:
    phase, _ = task.timeline.phase()
    body: dict[str, Any] = {"task_id": task.id}
    if phase == "queued":
        elapsed = time.monotonic() - task.timeline.started
        status = "Preparing" if elapsed < task.timeline.queued_s / 2 else "Queueing"
        return body | {"status": status, "file_id": "", "base_resp": base_resp(0)}
    if phase == "running":
        status = "Rendering" if "unknown-status" in task.markers else "Processing"
        return body | {"status": status, "file_id": "", "base_resp": base_resp(0)}
    if "fail" in task.markers:
        return body | {"status": "Fail", "file_id": "", "base_resp": base_resp(1027)}
    return body | {
        "status": "Success",
        "file_id": str(task.file_id),
        "video_width": task.width,
        "video_height": task.height,
        "base_resp": base_resp(0),
    }


async def v1_query(request: Request) -> Response:
    sim = SimState.of(request)
    task = sim.tasks.get(request.query_params.get("task_id", ""))
    if task is None or task.api != "v1":
        return _business(2013, "invalid params, task_id not found")
    return _poll_fault(task) or JSONResponse(v1_status(task))


async def v1_retrieve(request: Request) -> Response:
    sim = SimState.of(request)
    task = sim.by_file(request.query_params.get("file_id", ""))
    if task is None:
        return _business(2013, "invalid params, file_id not found")
    file = {
        "file_id": task.file_id,
        "bytes": len(await _video(sim, task)),
        "created_at": task.created_at,
        "filename": "output.mp4",
        "purpose": "video_generation",
        "download_url": sim.download_url(task, base_url(request)),
    }
    return JSONResponse({"file": file, "base_resp": base_resp(0)})


async def v1_retrieve_content(request: Request) -> Response:
    sim = SimState.of(request)
    task = sim.by_file(request.query_params.get("file_id", ""))
    if task is None:
        return _business(2013, "invalid params, file_id not found")
    return await mp4_response(task.width, task.height, task.seconds, sim.config.fps)


async def _video(sim: SimState, task: SimTask) -> bytes:
    return await run_in_threadpool(mp4_bytes, task.width, task.height, task.seconds, sim.config.fps)


async def download(request: Request) -> Response:
    sim = SimState.of(request)
    file_id = request.path_params["file_id"]
    try:
        expires = int(request.query_params.get("Expires", ""))
    except ValueError:
        expires = 0
    signature = request.query_params.get("Signature", "")
    task = sim.by_file(file_id)
    valid = task is not None and hmac.compare_digest(
        signature, sim.signature(task.file_id, expires)
    )
    if task is None or not valid or expires < time.time():
        xml = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
        return Response(
            xml + "<Message>Request has expired or is not signed</Message></Error>",
            403,
            media_type="application/xml",
        )
    return await mp4_response(task.width, task.height, task.seconds, sim.config.fps)


# --- v2 ----------------------------------------------------------------------------------


async def v2_create(request: Request) -> Response:
    return await _create(request, "v2")


def v2_task(task: SimTask, base_url: str, sim: SimState) -> dict[str, Any]:
    phase, _ = task.timeline.phase()
    if task.cancelled:
        status = "cancelled"
    elif phase == "queued":
        status = "queued"
    elif phase == "running":
        status = "processing" if "unknown-status" in task.markers else "running"
    else:
        status = "failed" if "fail" in task.markers else "succeeded"
    body = task.body
    out: dict[str, Any] = {
        "id": task.id,
        "model": task.model,
        "status": status,
        "error": None,
        "created_at": task.created_at,
        "updated_at": int(time.time()),
        "content": None,
        "resolution": body.get("resolution", "768P"),
        "duration": task.seconds,
        "ratio": body.get("ratio", "adaptive"),
        "usage": None,
        "task_type": "image_to_video" if len(body.get("content", [])) > 1 else "text_to_video",
    }
    if status == "failed":
        out["error"] = {"code": 1027, "message": "output new_sensitive"}
    if status == "succeeded":
        images = sum(1 for item in body.get("content", []) if item.get("type") == "image_url")
        out["content"] = {"url": sim.download_url(task, base_url)}
        out["usage"] = {
            "total_seconds": task.seconds,
            "input_seconds": 0,
            "output_seconds": task.seconds,
            "input_image_count": images,
        }
    return out


async def v2_task_endpoint(request: Request) -> Response:
    sim = SimState.of(request)
    task_id = request.path_params["task_id"]
    task = sim.tasks.get(task_id)
    if task is None or task.api != "v2":
        return _business(2013, "invalid params, task not found")
    if request.method == "DELETE":
        return _v2_delete(sim, task)
    return _poll_fault(task) or JSONResponse({"task": v2_task(task, base_url(request), sim)})


def _v2_delete(sim: SimState, task: SimTask) -> Response:
    phase = task.timeline.phase()[0]
    if task.cancelled or phase == "running":
        state = "cancelled" if task.cancelled else "running"
        return _business(2013, f"invalid params, a {state} task cannot be cancelled or deleted")
    if phase == "queued":
        task.cancelled = True
        sim.deleted[task.id] = "cancelled"
    else:
        del sim.tasks[task.id]
        sim.deleted[task.id] = "deleted"
    return JSONResponse({"task_id": task.id, "base_resp": base_resp(0)})


API_PATH = ""  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route("/v1/video_generation", v1_create, methods=["POST"]),
        Route("/v1/query/video_generation", v1_query),
        Route("/v1/files/retrieve", v1_retrieve),
        Route("/v1/files/retrieve_content", v1_retrieve_content),
        Route("/v2/video_generation", v2_create, methods=["POST"]),
        Route("/v2/video_generation/{task_id}", v2_task_endpoint, methods=["DELETE"]),
        Route("/v2/query/video_generation/{task_id}", v2_task_endpoint),
        Route("/download/{file_id}/output.mp4", download),
    ]
    check = key_check(lambda: state.config.api_key, _unauthorized)
    return sim_app(state, routes, [Middleware(Guard, check=check, under=("/v1/", "/v2/"))])
