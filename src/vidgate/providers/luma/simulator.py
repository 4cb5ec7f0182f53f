"""An in-memory simulator of the Luma Dream Machine API (``/dream-machine/v1``).

An independent implementation of the wire format in ``shared/reference/providers/luma.md``
and the official ``lumaai`` SDK; it imports nothing from the luma adapter or spec.

Routes (bearer auth): ``POST /generations`` and ``POST /generations/video`` (201, a
Generation), ``GET /generations?limit=&offset=``, ``GET|DELETE /generations/{id}`` (delete:
204), ``GET /generations/concepts/list``, ``GET /generations/camera_motion/list``,
``GET /ping``, ``GET /credits``. Finished media are served without auth, like Luma's CDN,
from ``/cdn/{id}/video.mp4`` (a real MP4 at the requested aspect ratio, resolution and
duration) and ``/cdn/{id}/thumbnail.jpg``. Errors are FastAPI-shaped: ``{"detail": "..."}``,
or on 422 ``{"detail": [{"type", "loc", "msg", "input"}]}``.

Generations follow the clock: ``queued``, then ``dreaming``, then ``completed`` (with
``assets.video`` and ``assets.image``) or ``failed`` (with ``failure_reason``). A keyframe
``{"type": "generation", "id"}`` in ``frame0`` extends that generation: the result is the
source's length plus the new duration, at the source's size.

Fault markers in the prompt: ``[sim:fail]`` (moderation failure), ``[sim:429]``,
``[sim:500]``, ``[sim:unknown-status]`` (``state: "processing"`` while running),
``[sim:malformed]`` (the first poll answers truncated JSON), ``[sim:poll-429]``,
``[sim:slow]`` (10x longer), ``[sim:hang]`` (the create answers after 30 s; a caller that
gives up first leaves no generation).
``GET /__sim__/log`` lists requests, ``POST /__sim__/reset`` forgets everything;
``app.state.sim`` is the :class:`SimState`.
"""

from __future__ import annotations

import json
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
    hang,
    jpeg_bytes,
    key_check,
    mp4_response,
    sim_app,
)
from vidgate.providers.simkit import markers as find_markers

API = "/dream-machine/v1"
RATIOS = {
    "1:1": (1, 1),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
    "9:21": (9, 21),
}
SHORT_SIDE = {"540p": 540, "720p": 720, "1080p": 1080, "4k": 2160}
MODELS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ray-2": (("5s", "9s"), ("540p", "720p", "1080p", "4k")),
    "ray-flash-2": (("5s", "9s"), ("540p", "720p", "1080p", "4k")),
    "ray-1-6": (("5s",), ("720p",)),
}
"""Each model's durations and resolutions."""
CAMERA_MOTIONS = ["camera orbit left", "camera orbit right", "camera pan left", "camera zoom in"]
CONCEPTS = ["dolly_zoom", "handheld", "aerial"]
FAILURE = "400: prompt not allowed because advanced moderation failed"


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated upstream."""

    api_key: str | None = "luma-sim"
    credit_balance: float = 1_000_000.0
    """USD cents, as ``GET /credits`` reports them."""


@dataclass
class SimGeneration(BaseTask):
    """One video generation; its state is a function of the clock."""

    id: str
    model: str
    request: dict[str, Any]
    width: int
    height: int
    seconds: int
    created_at: float
    poll_429_pending: bool = False
    malformed_pending: bool = False


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; ``app.state.sim``."""

    generations: dict[str, SimGeneration] = field(default_factory=dict)

    def state_of(self, gen: SimGeneration) -> str:
        phase, _ = gen.timeline.phase()
        if phase == "done":
            return "failed" if "fail" in gen.markers else "completed"
        if phase == "running":
            return "processing" if "unknown-status" in gen.markers else "dreaming"
        return "queued"

    def generation_json(self, gen: SimGeneration, base: str) -> dict[str, Any]:
        state = self.state_of(gen)
        assets = None
        if state == "completed":
            assets = {
                "video": f"{base}/cdn/{gen.id}/video.mp4",
                "image": f"{base}/cdn/{gen.id}/thumbnail.jpg",
                "progress_video": None,
            }
        created = datetime.fromtimestamp(gen.created_at, UTC)
        return {
            "id": gen.id,
            "generation_type": "video",
            "state": state,
            "failure_reason": FAILURE if state == "failed" else None,
            "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "assets": assets,
            "model": gen.model,
            "request": gen.request,
        }


class LumaError(Exception):
    """An error answered FastAPI-style: ``{"detail": ...}``."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(detail))
        self.status, self.detail, self.headers = status, detail, headers or {}


def _invalid(kind: str, loc: list[Any], msg: str, value: Any) -> LumaError:
    return LumaError(422, [{"type": kind, "loc": ["body", *loc], "msg": msg, "input": value}])


def _error_response(exc: LumaError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, exc.status, headers=exc.headers)


async def _on_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LumaError)
    return _error_response(exc)


def _unauthorized(_given: str | None) -> JSONResponse:
    return _error_response(LumaError(401, "Invalid API key provided"))


def _rate_limited() -> LumaError:
    return LumaError(429, "Rate limit exceeded. Please try again later.", {"Retry-After": "1"})


# --------------------------------------------------------------------------- create


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        raise _invalid(
            "json_invalid", [0], "JSON decode error", raw.decode(errors="replace")
        ) from None
    if not isinstance(body, dict):
        raise _invalid("model_attributes_type", [], "Input should be a valid dictionary", body)
    return body


def _literal(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name, default)
    if value not in allowed:
        choices = ", ".join(f"'{a}'" for a in allowed)
        raise _invalid("literal_error", [name], f"Input should be one of {choices}", value)
    return str(value)


def _string(body: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = body.get(name, default)
    if value is not None and not isinstance(value, str):
        raise _invalid("string_type", [name], "Input should be a valid string", value)
    return value


def _frame(sim: SimState, slot: str, value: Any) -> SimGeneration | None:
    """Check one keyframe; the generation it points at, if it is a generation reference."""
    if not isinstance(value, dict) or value.get("type") not in ("image", "generation"):
        msg = "Input tag does not match any of the expected tags: 'generation', 'image'"
        raise _invalid("union_tag_invalid", ["keyframes", slot], msg, value)
    field_name = "url" if value["type"] == "image" else "id"
    ref = value.get(field_name)
    if not isinstance(ref, str) or not ref:
        loc = ["keyframes", slot, value["type"], field_name]
        raise _invalid("missing", loc, "Field required", value)
    if value["type"] == "image":
        if not ref.startswith(("https://", "http://")):
            raise LumaError(400, f"Invalid image url for keyframe {slot}: must be http(s).")
        return None
    source = sim.generations.get(ref)
    if source is None:
        raise LumaError(400, f"Generation {ref} not found for keyframe {slot}.")
    if sim.state_of(source) != "completed":
        raise LumaError(400, f"Generation {ref} is not completed and cannot be a keyframe.")
    return source


def _keyframes(sim: SimState, body: dict[str, Any]) -> dict[str, SimGeneration | None]:
    value = body.get("keyframes")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid("model_type", ["keyframes"], "Input should be a valid dictionary", value)
    return {slot: _frame(sim, slot, value[slot]) for slot in ("frame0", "frame1") if slot in value}


def _check_extras(body: dict[str, Any]) -> None:
    if "loop" in body and not isinstance(body["loop"], bool):
        raise _invalid("bool_type", ["loop"], "Input should be a valid boolean", body["loop"])
    _string(body, "callback_url")
    concepts = body.get("concepts")
    if concepts is not None:
        items = concepts if isinstance(concepts, list) else [None]
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                msg = "Input should be a valid dictionary with a string 'key'"
                raise _invalid("model_type", ["concepts", index], msg, item)


def _shape(ratio: str, resolution: str) -> tuple[int, int]:
    across, down = RATIOS[ratio]
    short = SHORT_SIDE[resolution]
    long = round(short * max(across, down) / min(across, down) / 2) * 2
    return (long, short) if across >= down else (short, long)


def _new_generation(sim: SimState, body: dict[str, Any]) -> SimGeneration:
    if body.get("generation_type", "video") != "video":
        _literal(body, "generation_type", ("video",), "video")
    model = _literal(body, "model", tuple(MODELS), "")
    durations, resolutions = MODELS[model]
    prompt = _string(body, "prompt") or ""
    ratio = _literal(body, "aspect_ratio", tuple(RATIOS), "16:9")
    resolution = _string(body, "resolution", "720p") or "720p"
    duration = _string(body, "duration", "5s") or "5s"
    if resolution not in resolutions:
        raise LumaError(400, f"Resolution {resolution} is not supported by model {model}.")
    if duration not in durations:
        raise LumaError(400, f"Duration {duration} is not supported by model {model}.")
    _check_extras(body)
    frames = _keyframes(sim, body)
    if not prompt and not frames:
        raise LumaError(400, "A prompt is required for text to video.")
    width, height = _shape(ratio, resolution)
    seconds = int(duration.removesuffix("s"))
    source = frames.get("frame0") or frames.get("frame1")
    if source is not None and not (frames.get("frame0") and frames.get("frame1")):
        width, height, seconds = source.width, source.height, source.seconds + seconds
    found = find_markers(prompt)
    echo = {k: v for k, v in body.items() if v is not None}
    echo.setdefault("generation_type", "video")
    gen = SimGeneration(
        id=str(uuid.uuid4()),
        model=model,
        request=echo,
        width=width,
        height=height,
        seconds=seconds,
        created_at=time.time(),
        timeline=sim.config.timeline(found),
        markers=found,
        poll_429_pending="poll-429" in found,
        malformed_pending="malformed" in found,
    )
    sim.generations[gen.id] = gen
    return gen


async def create_generation(request: Request) -> Response:
    sim = SimState.of(request)
    body = await _json_body(request)
    prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else ""
    found = find_markers(prompt)
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        return Response(status_code=499)  # the caller gave up: nothing is created
    if "429" in found:
        raise _rate_limited()
    if "500" in found:
        raise LumaError(500, "Internal Server Error")
    gen = _new_generation(sim, body)
    return JSONResponse(sim.generation_json(gen, base_url(request)), status_code=201)


# --------------------------------------------------------------------------- read, delete


def _find(sim: SimState, generation_id: str) -> SimGeneration:
    gen = sim.generations.get(generation_id)
    if gen is None:
        raise LumaError(404, "Generation not found")
    return gen


async def get_generation(request: Request) -> Response:
    sim = SimState.of(request)
    gen = _find(sim, request.path_params["generation_id"])
    if gen.poll_429_pending:
        gen.poll_429_pending = False
        raise _rate_limited()
    body = sim.generation_json(gen, base_url(request))
    if gen.malformed_pending:
        gen.malformed_pending = False
        truncated = json.dumps(body)[:40]
        return Response(truncated, media_type="application/json")
    return JSONResponse(body)


async def delete_generation(request: Request) -> Response:
    sim = SimState.of(request)
    gen = _find(sim, request.path_params["generation_id"])
    del sim.generations[gen.id]
    return Response(status_code=204)


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        msg = "Input should be a valid integer, unable to parse string as an integer"
        raise LumaError(
            422, [{"type": "int_parsing", "loc": ["query", name], "msg": msg}]
        ) from None
    if not low <= value <= high:
        msg = f"Input should be between {low} and {high}"
        raise LumaError(422, [{"type": "value_error", "loc": ["query", name], "msg": msg}])
    return value


async def list_generations(request: Request) -> Response:
    sim = SimState.of(request)
    limit = _query_int(request, "limit", 10, 1, 100)
    offset = _query_int(request, "offset", 0, 0, 1_000_000)
    newest_first = list(reversed(sim.generations.values()))
    page = newest_first[offset : offset + limit]
    base = base_url(request)
    return JSONResponse(
        {
            "generations": [sim.generation_json(g, base) for g in page],
            "count": len(page),
            "has_more": offset + limit < len(newest_first),
            "limit": limit,
            "offset": offset,
        }
    )


async def camera_motions(_request: Request) -> Response:
    return JSONResponse(CAMERA_MOTIONS)


async def concepts(_request: Request) -> Response:
    return JSONResponse(CONCEPTS)


async def ping(_request: Request) -> Response:
    return JSONResponse({"message": "pong"})


async def credits(request: Request) -> Response:
    return JSONResponse({"credit_balance": SimState.of(request).config.credit_balance})


# --------------------------------------------------------------------------- CDN


async def cdn_media(request: Request) -> Response:
    """Finished media, unauthenticated like Luma's CDN; 404 until completed."""
    sim = SimState.of(request)
    gen = sim.generations.get(request.path_params["generation_id"])
    if gen is None or sim.state_of(gen) != "completed":
        return Response("Not Found", status_code=404, media_type="text/plain")
    if request.path_params["name"] == "thumbnail.jpg":
        data = await run_in_threadpool(jpeg_bytes, gen.width, gen.height)
        return Response(data, media_type="image/jpeg")
    if request.path_params["name"] != "video.mp4":
        return Response("Not Found", status_code=404, media_type="text/plain")
    return await mp4_response(gen.width, gen.height, gen.seconds, sim.config.fps)


API_PATH = "/dream-machine/v1"  # a deployment's api_base: the simulator's URL plus this


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.sim``."""
    state = SimState(config or SimulatorConfig())
    routes = [
        Route(f"{API}/generations", create_generation, methods=["POST"]),
        Route(f"{API}/generations/video", create_generation, methods=["POST"]),
        Route(f"{API}/generations", list_generations, methods=["GET"]),
        Route(f"{API}/generations/camera_motion/list", camera_motions, methods=["GET"]),
        Route(f"{API}/generations/concepts/list", concepts, methods=["GET"]),
        Route(f"{API}/generations/{{generation_id}}", get_generation, methods=["GET"]),
        Route(f"{API}/generations/{{generation_id}}", delete_generation, methods=["DELETE"]),
        Route(f"{API}/ping", ping, methods=["GET"]),
        Route(f"{API}/credits", credits, methods=["GET"]),
        Route("/cdn/{generation_id}/{name}", cdn_media, methods=["GET"]),
    ]
    check = key_check(lambda: state.config.api_key, _unauthorized)
    guard = Middleware(Guard, check=check, under=(f"{API}/",))
    return sim_app(state, routes, [guard], {LumaError: _on_error})
