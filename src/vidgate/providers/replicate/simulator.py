"""An in-memory simulator of the Replicate predictions API, wire-exact for what vidgate uses.

Independent of the provider's spec and adapter (only the shared simulator kit and the local
renderer are imported), and driven by the official ``replicate`` SDK in the tests.

Routes (``/v1`` needs ``Authorization: Bearer <token>``, or the legacy ``Token <token>``;
anything else is a 401 problem JSON):

- ``POST /v1/models/{owner}/{name}/predictions`` ``{input, webhook?...}`` and
  ``POST /v1/predictions`` ``{version, input}`` (``version`` a 64-hex id or
  ``owner/name:<id>``) → 201 with the prediction (``starting``). ``Prefer: wait[=n]`` holds
  the answer until the prediction ends (at most n, at most 60 s); ``Cancel-After: 1m30s``
  sets a deadline: passed before the start the prediction ends ``aborted``, passed while
  running it ends ``canceled``. Inputs of the models in ``MODELS`` are validated like Cog
  does (422 with ``invalid_fields``); other models take any input.
- ``GET /v1/predictions/{id}``: ``starting``, ``processing`` (a tqdm bar in ``logs``), then
  ``succeeded`` with ``output`` (a URL on this server, or a list of one URL with
  ``config.list_output``) and ``metrics.predict_time``, or ``failed`` with ``error``. After
  ``config.output_ttl_s`` the output is removed (``data_removed: true``, ``output: null``).
- ``POST /v1/predictions/{id}/cancel``: ``canceled`` unless already finished; 200.
- ``GET /v1/predictions``: ``{next, previous, results}``, newest first, with ``cursor``.
- ``GET /delivery/{id}/output.mp4``: the MP4, no auth (like replicate.delivery).

Fault markers in the prompt (see ``vidgate.providers.simkit``): ``[sim:fail]`` (``failed``
with Replicate's E005 "flagged as sensitive" error), ``[sim:429]``, ``[sim:500]``,
``[sim:unknown-status]`` (``booting`` while running), ``[sim:malformed]`` (the first poll
answers a truncated object), ``[sim:poll-429]``, ``[sim:slow]``, ``[sim:hang]``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    Guard,
    base_url,
    elide,
    hang,
    key_check,
    markers,
    mp4_response,
    sim_app,
)

DEFAULT_TOKEN = "r8_" + "5eed" * 9 + "sim"
PROBLEM = "application/problem+json"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
TIERS = {"480p": 480, "540p": 540, "720p": 720, "1080p": 1080}
RATIOS = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
    "9:21": (9, 21),
}


@dataclass(frozen=True)
class SimModel:
    """An official model's input rules (what its Cog schema enforces)."""

    durations: tuple[int, ...] | None = None
    default_duration: int = 5
    ratios: tuple[str, ...] = ("16:9",)
    resolutions: tuple[str, ...] = ("720p",)
    fixed: tuple[int, int, int] | None = None
    """(width, height, seconds) of a model that takes none of them."""
    image_fields: tuple[str, ...] = ()
    fps: int | None = None
    """``None``: the simulator's ``fps``."""


MODELS: dict[str, SimModel] = {
    "bytedance/seedance-2.0": SimModel(
        durations=tuple(range(4, 16)),
        ratios=("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"),
        resolutions=("480p", "720p"),
        image_fields=("image", "last_frame_image"),
    ),
    "vidu/q3-turbo": SimModel(
        durations=tuple(range(1, 17)),
        ratios=("16:9", "9:16", "1:1"),
        resolutions=("540p", "720p", "1080p"),
        image_fields=("start_image", "end_image"),
    ),
    "minimax/video-01": SimModel(fixed=(1280, 720, 6), image_fields=("first_frame_image",), fps=25),
}


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream."""

    api_key: str | None = DEFAULT_TOKEN
    list_output: bool = False
    """``output`` is a list of URLs instead of one URL string."""
    output_ttl_s: float = 3600.0
    """How long output files stay (Replicate: about an hour)."""
    strict_models: bool = False
    """Only the models in ``MODELS`` exist (others are a 404)."""


@dataclass
class SimPrediction(BaseTask):
    """One prediction; its status follows the clock."""

    id: str
    model: str
    version: str
    input: dict[str, Any]
    headers: dict[str, str]
    path: str
    width: int
    height: int
    seconds: int
    fps: int
    created: float
    deadline_s: float | None = None
    canceled_at: float | None = None


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; ``app.state.sim``."""

    predictions: dict[str, SimPrediction] = field(default_factory=dict)

    def status(self, p: SimPrediction) -> tuple[str, float, float | None]:
        """(status, progress 0..1, when it ended or ``None``)."""
        now = time.monotonic()
        if p.canceled_at is not None:
            return "canceled", 0.0, p.canceled_at
        queued = p.timeline.queued_s
        if p.deadline_s is not None and now - p.created >= p.deadline_s:
            ended = p.created + p.deadline_s
            if p.deadline_s < min(queued, p.timeline.duration_s):
                return "aborted", 0.0, ended
            if p.deadline_s < p.timeline.duration_s:
                return "canceled", 0.0, ended
        phase, fraction = p.timeline.phase(now)
        if phase == "queued":
            return "starting", 0.0, None
        if phase == "running":
            return ("booting" if "unknown-status" in p.markers else "processing"), fraction, None
        ended = p.created + p.timeline.duration_s
        return ("failed" if "fail" in p.markers else "succeeded"), 1.0, ended

    def to_json(self, p: SimPrediction, base_url: str) -> dict[str, Any]:
        status, fraction, ended = self.status(p)
        api = f"{base_url}/v1/predictions/{p.id}"
        started = p.created + p.timeline.queued_s if status not in ("starting", "aborted") else None
        removed = ended is not None and time.monotonic() - ended >= self.config.output_ttl_s
        body: dict[str, Any] = {
            "id": p.id,
            "model": p.model,
            "version": p.version,
            "input": p.input,
            "logs": _logs(status, fraction),
            "output": None,
            "data_removed": removed,
            "error": None,
            "status": status,
            "source": "api",
            "created_at": _iso(p.created),
            "started_at": _iso(started),
            "completed_at": _iso(ended),
            "urls": {
                "get": api,
                "cancel": f"{api}/cancel",
                "stream": f"{base_url}/stream/{p.id}",
                "web": f"https://replicate.com/p/{p.id}",
            },
        }
        if ended is not None and started is not None:
            predict = round(ended - started, 3)
            body["metrics"] = {"predict_time": predict, "total_time": round(ended - p.created, 3)}
        if status == "failed":
            body["error"] = (
                "The input or output was flagged as sensitive. Please try again with "
                "different inputs. (E005)"
            )
        if status == "succeeded" and not removed:
            url = f"{base_url}/delivery/{p.id}/output.mp4"
            body["output"] = [url] if self.config.list_output else url
        return body


_CLOCK_ORIGIN = (time.time(), time.monotonic())


def _iso(monotonic: float | None) -> str | None:
    if monotonic is None:
        return None
    wall = _CLOCK_ORIGIN[0] + (monotonic - _CLOCK_ORIGIN[1])
    return (
        datetime.fromtimestamp(wall, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


def _logs(status: str, fraction: float) -> str:
    if status in ("starting", "aborted"):
        return ""
    percent = int(fraction * 100)
    bar = "#" * (percent // 10)
    return f"Generating video\n{percent:3d}%|{bar:<10}| {percent}/100 [00:01<00:01]\n"


def _problem(
    status: int, title: str, detail: str, extra: dict[str, Any] | None = None, **headers: str
) -> JSONResponse:
    body = {"title": title, "detail": detail, "status": status, **(extra or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)


def _throttled() -> JSONResponse:
    return _problem(
        429,
        "Request was throttled",
        "Request was throttled. Expected available in 1 second.",
        {"retry_after": 1},
        **{"Retry-After": "1"},
    )


def _unauthenticated(_given: str | None) -> JSONResponse:
    """``/v1`` needs the API token as ``Bearer`` (or the legacy ``Token``) credentials."""
    return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")


class Invalid(Exception):
    """Input validation failed (a 422 with ``invalid_fields``)."""

    def __init__(self, field_name: str, description: str) -> None:
        super().__init__(description)
        self.field_name, self.description = field_name, description

    def response(self) -> JSONResponse:
        return _problem(
            422,
            "Input validation failed",
            f"- {self.field_name}: {self.description}",
            {
                "invalid_fields": [
                    {"type": "invalid", "field": self.field_name, "description": self.description}
                ]
            },
        )


def _shape(model: SimModel | None, data: dict[str, Any]) -> tuple[int, int, int, int | None]:
    """(width, height, seconds, fps) the model makes from ``data``; ``Invalid`` if refused."""
    rules = model or SimModel(ratios=tuple(RATIOS), resolutions=tuple(TIERS))
    for name in rules.image_fields if model is not None else ("image",):
        _check_image(data.get(name), f"input.{name}")
    if rules.fixed is not None:
        width, height, seconds = rules.fixed
        return width, height, seconds, rules.fps
    seconds = data.get("duration", rules.default_duration)
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise Invalid("input.duration", "Invalid type. Expected: integer, given: string")
    if rules.durations is not None and seconds not in rules.durations:
        allowed = ", ".join(str(d) for d in rules.durations)
        raise Invalid("input.duration", f"duration must be one of the following: {allowed}")
    if model is None and not 1 <= seconds <= 60:
        raise Invalid("input.duration", "Must be less than or equal to 60")
    ratio = data.get("aspect_ratio", rules.ratios[0])
    if ratio not in rules.ratios:
        raise Invalid(
            "input.aspect_ratio",
            f"aspect_ratio must be one of the following: {', '.join(map(repr, rules.ratios))}",
        )
    tier = data.get("resolution", rules.resolutions[0])
    if tier not in rules.resolutions:
        raise Invalid(
            "input.resolution",
            f"resolution must be one of the following: {', '.join(map(repr, rules.resolutions))}",
        )
    rw, rh = RATIOS.get(ratio, (16, 9))
    short = TIERS[tier]
    long_side = round(short * max(rw, rh) / min(rw, rh))
    long_side += long_side % 2
    width, height = (long_side, short) if rw >= rh else (short, long_side)
    return width, height, seconds, rules.fps


def _check_image(value: Any, name: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.startswith(("https://", "http://", "data:")):
        raise Invalid(name, "Does not match format 'uri'")
    if value.startswith("data:"):
        head, _, payload = value.partition(",")
        if ";base64" not in head or not head[5:].startswith("image/"):
            raise Invalid(name, "Does not match format 'uri'")
        try:
            base64.b64decode(payload, validate=True)
        except ValueError:
            raise Invalid(name, "Does not match format 'uri'") from None


def _deadline(value: str | None) -> float | None:
    if not value:
        return None
    text = value.strip()
    parts = DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * UNITS[u] for n, u in parts)


def _new_id() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().lower()[:26]


async def _create(request: Request, model_ref: str | None) -> Response:
    sim = SimState.of(request)
    try:
        body = await request.json()
    except ValueError:
        return _problem(400, "Invalid JSON", "The request body is not valid JSON.")
    if not isinstance(body, dict) or not isinstance(body.get("input", {}), dict):
        return _problem(422, "Input validation failed", "- input: Invalid type. Expected: object")
    data: dict[str, Any] = body.get("input") or {}
    model, version = model_ref, None
    if model is None:
        raw_version = body.get("version")
        text = raw_version if isinstance(raw_version, str) else ""
        owner_name, _, sha = text.rpartition(":")
        if not HEX64.match(sha):
            return _problem(422, "Invalid version", "Invalid version or not permitted")
        model, version = owner_name or "sim/pinned-model", sha
    if sim.config.strict_models and model not in MODELS:
        return _problem(404, "Not found", "The requested resource could not be found.")
    found = markers(data.get("prompt") if isinstance(data.get("prompt"), str) else None)
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)
    if "429" in found:
        return _throttled()
    if "500" in found:
        return _problem(500, "Internal Server Error", "Something went wrong on our end.")
    try:
        width, height, seconds, fps = _shape(MODELS.get(model), data)
    except Invalid as exc:
        return exc.response()
    prediction = _new_prediction(sim, request, model, version, data, (width, height, seconds, fps))
    await _prefer_wait(request, sim, prediction)
    return JSONResponse(sim.to_json(prediction, base_url(request)), status_code=201)


def _new_prediction(
    sim: SimState,
    request: Request,
    model: str,
    version: str | None,
    data: dict[str, Any],
    shape: tuple[int, int, int, int | None],
) -> SimPrediction:
    prompt = data.get("prompt") if isinstance(data.get("prompt"), str) else None
    found = markers(prompt)
    kept = ("authorization", "prefer", "cancel-after", "content-type")
    width, height, seconds, fps = shape
    prediction = SimPrediction(
        id=_new_id(),
        model=model,
        version=version or hashlib.sha256(model.encode()).hexdigest(),
        input=elide(data),
        headers={k: v for k, v in request.headers.items() if k in kept},
        path=request.url.path,
        width=width,
        height=height,
        seconds=seconds,
        fps=fps or sim.config.fps,
        timeline=sim.config.timeline(found),
        markers=found,
        created=time.monotonic(),
        deadline_s=_deadline(request.headers.get("cancel-after")),
    )
    sim.predictions[prediction.id] = prediction
    return prediction


async def _prefer_wait(request: Request, sim: SimState, prediction: SimPrediction) -> None:
    prefer = request.headers.get("prefer", "")
    match = re.fullmatch(r"\s*wait(?:=(\d+))?\s*", prefer)
    if not match:
        return
    limit = min(60.0, float(match.group(1) or 60))
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and sim.status(prediction)[2] is None:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.02)


async def create_official(request: Request) -> Response:
    owner, name = request.path_params["owner"], request.path_params["name"]
    return await _create(request, f"{owner}/{name}")


async def create_version(request: Request) -> Response:
    return await _create(request, None)


def _lookup(request: Request) -> SimPrediction | None:
    return SimState.of(request).predictions.get(request.path_params["pid"])


def _not_found() -> JSONResponse:
    return _problem(404, "Not found", "The requested resource could not be found.")


async def get_prediction(request: Request) -> Response:
    sim, prediction = SimState.of(request), _lookup(request)
    if prediction is None:
        return _not_found()
    fault = prediction.poll_fault()
    if fault == "poll-429":
        return _throttled()
    if fault == "malformed":
        return Response(f'{{"id":"{prediction.id}","stat', media_type="application/json")
    return JSONResponse(sim.to_json(prediction, base_url(request)))


async def cancel_prediction(request: Request) -> Response:
    sim, prediction = SimState.of(request), _lookup(request)
    if prediction is None:
        return _not_found()
    if sim.status(prediction)[2] is None:
        prediction.canceled_at = time.monotonic()
    return JSONResponse(sim.to_json(prediction, base_url(request)))


async def list_predictions(request: Request) -> Response:
    sim = SimState.of(request)
    ordered = sorted(sim.predictions.values(), key=lambda p: p.created, reverse=True)
    start = int(request.query_params.get("cursor", "0") or 0)
    page = ordered[start : start + 100]
    base = base_url(request)
    more = start + 100 < len(ordered)
    return JSONResponse(
        {
            "next": f"{base}/v1/predictions?cursor={start + 100}" if more else None,
            "previous": f"{base}/v1/predictions?cursor={max(0, start - 100)}" if start else None,
            "results": [sim.to_json(p, base) for p in page],
        }
    )


async def delivery(request: Request) -> Response:
    sim, prediction = SimState.of(request), _lookup(request)
    if prediction is None:
        return Response("Not Found", status_code=404)
    body = sim.to_json(prediction, base_url(request))
    if body["status"] != "succeeded" or body["data_removed"]:
        return Response("Not Found", status_code=404)
    p = prediction
    return await mp4_response(p.width, p.height, p.seconds, p.fps)


API_PATH = "/v1"  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route("/v1/models/{owner}/{name}/predictions", create_official, methods=["POST"]),
        Route("/v1/predictions", create_version, methods=["POST"]),
        Route("/v1/predictions", list_predictions, methods=["GET"]),
        Route("/v1/predictions/{pid}", get_prediction, methods=["GET"]),
        Route("/v1/predictions/{pid}/cancel", cancel_prediction, methods=["POST"]),
        Route("/delivery/{pid}/output.mp4", delivery),
    ]
    check = key_check(lambda: state.config.api_key, _unauthenticated, schemes=("Bearer", "Token"))
    return sim_app(state, routes, [Middleware(Guard, check=check, under=("/v1/",))])
