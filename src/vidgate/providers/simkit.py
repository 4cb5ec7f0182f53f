"""Shared plumbing for upstream simulators: state, config, auth, timelines, faults, media, log.

Simulators are independent implementations of each provider's documented wire format and
never import their provider's spec or adapter. What they share here is only plumbing —
the config knobs every simulator has (:class:`BaseConfig`), a state that resets itself
(:class:`BaseState`), how a job's state advances with time (:class:`Timeline`,
:class:`BaseTask`), the ``[sim:...]`` fault markers every simulator understands, an auth
gate whose refusal each simulator writes itself (:class:`Guard`, :func:`key_check`),
headers stamped on answers (:class:`ResponseHeaders`), the base URL of a request, job
records without data URIs (:func:`elide`), real MP4s from the local renderer
(:func:`mp4_bytes`, :func:`mp4_response`), the request log the contract suite counts calls
with and the app around it all (:func:`sim_app`). No path, field name, status string or
error body lives here, so none of it can hide a wire mistake.

Fault markers (put them anywhere in the prompt):

- ``[sim:fail]`` the job ends failed (content-policy style reason);
- ``[sim:429]`` the create is rejected with 429 and rate-limit headers;
- ``[sim:500]`` the create fails with a 5xx;
- ``[sim:unknown-status]`` while running, the status is an undocumented value;
- ``[sim:malformed]`` the first poll answers a body that is not the documented shape;
- ``[sim:poll-429]`` the first poll answers 429;
- ``[sim:slow]`` the job takes ten times as long;
- ``[sim:hang]`` the create answers only after 30 s (a timeout for the caller).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hmac
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

_MARKER = re.compile(r"\[sim:([a-z0-9-]+)\]")


def markers(prompt: str | None) -> frozenset[str]:
    """The ``[sim:...]`` fault markers in a prompt."""
    return frozenset(_MARKER.findall(prompt or ""))


@dataclass
class Timeline:
    """A job whose state follows the wall clock: queued, then running with progress, then done."""

    duration_s: float
    queued_s: float = 0.1
    started: float = field(default_factory=time.monotonic)

    def phase(self, now: float | None = None) -> tuple[str, float]:
        """``("queued" | "running" | "done", fraction 0..1)``."""
        elapsed = (time.monotonic() if now is None else now) - self.started
        if elapsed >= self.duration_s:
            return "done", 1.0
        if elapsed < min(self.queued_s, self.duration_s):
            return "queued", 0.0
        span = max(self.duration_s - self.queued_s, 1e-9)
        return "running", min(0.99, (elapsed - self.queued_s) / span)


# --- config, state, tasks ----------------------------------------------------------------


@dataclass
class BaseConfig:
    """The knobs every simulator has; its ``SimulatorConfig`` extends this with its own
    default key and knobs."""

    api_key: str | None = None
    """The credential the simulated upstream accepts; ``None`` accepts any."""
    job_seconds: float = 1.0
    """Create to finished (ten times as long with ``[sim:slow]``)."""
    queued_seconds: float = 0.1
    """How long a job stays queued before it runs (at most ``job_seconds``)."""
    hang_seconds: float = 30.0
    """How long ``[sim:hang]`` holds a create (where the simulator honours the marker)."""
    fps: int = 24
    """Frame rate of the MP4s served."""

    def timeline(self, found: frozenset[str], *, slow_queue: bool = False) -> Timeline:
        """A new job's timeline; ``[sim:slow]`` stretches the run (and the queue too, with
        ``slow_queue``) ten times."""
        scale = 10 if "slow" in found else 1
        duration = self.job_seconds * scale
        queued = self.queued_seconds * (scale if slow_queue else 1)
        return Timeline(duration, queued_s=min(queued, duration))


C = TypeVar("C", bound=BaseConfig)


KEPT: Mapping[str, bool] = {"kept": True}
"""``field(..., metadata=KEPT)``: a :class:`BaseState` store that ``reset`` leaves alone."""


@dataclass
class BaseState(Generic[C]):
    """Everything a simulator remembers, ``app.state.sim``: its config, the request log and
    the stores (dicts, lists, sets of jobs by id...) its ``SimState`` adds."""

    config: C
    log: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, request: Request) -> Self:
        """The state of the simulator that serves ``request``."""
        state = request.app.state.sim
        if not isinstance(state, cls):
            raise TypeError(f"app.state.sim is {type(state).__name__}, not {cls.__name__}")
        return state

    def reset(self) -> None:
        """Empty every store in place (the log and stores marked :data:`KEPT` excepted)."""
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            store = isinstance(value, dict | list | set) and spec.name not in ("config", "log")
            if store and not spec.metadata.get("kept"):
                value.clear()


@dataclass(kw_only=True)
class BaseTask:
    """What every simulated job has besides its wire fields: a timeline, the fault markers of
    its prompt and how often it was polled."""

    timeline: Timeline
    markers: frozenset[str]
    polls: int = 0

    def poll_fault(self) -> str | None:
        """Count a poll; on the first, the fault its markers ask for: ``"poll-429"`` or else
        ``"malformed"`` (the simulator answers it in its upstream's words)."""
        self.polls += 1
        if self.polls == 1:
            for fault in ("poll-429", "malformed"):
                if fault in self.markers:
                    return fault
        return None


def elide(value: Any, *, any_text: bool = False) -> Any:
    """``value`` for a job's record, with long data URIs (any long text with ``any_text``)
    cut to their start and length, in nested dicts and lists too."""
    if isinstance(value, dict):
        return {k: elide(v, any_text=any_text) for k, v in value.items()}
    if isinstance(value, list):
        return [elide(item, any_text=any_text) for item in value]
    if isinstance(value, str) and len(value) > 200 and (any_text or value.startswith("data:")):
        return f"{value[:40]}...<{len(value)} chars>"
    return value


def base_url(request: Request) -> str:
    """Where the simulator is served, without a trailing slash (URLs it answers point here)."""
    return str(request.base_url).rstrip("/")


# --- auth ----------------------------------------------------------------------------------

Check = Callable[[Request], Response | None]
"""Looks at a request before its route does; a response refuses the request."""


class Guard:
    """ASGI middleware: a request whose path starts with one of ``under`` (and none of
    ``exempt``; ``/__sim__`` never) passes ``check`` first; a response from it is the answer."""

    def __init__(
        self,
        app: ASGIApp,
        check: Check,
        under: tuple[str, ...] = ("/",),
        exempt: tuple[str, ...] = (),
    ) -> None:
        self.app, self.check, self.under, self.exempt = app, check, under, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(self.under):
            skip = _internal(path) or path.startswith(self.exempt)
            refused = None if skip else self.check(Request(scope))
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _internal(path: str) -> bool:
    """``/__sim__`` routes: the test harness's, never guarded or stamped."""
    return path.startswith("/__sim__")


def key_check(
    key: Callable[[], str | None],
    refuse: Callable[[str | None], Response],
    *,
    header: str = "authorization",
    schemes: tuple[str, ...] = ("Bearer",),
) -> Check:
    """A :class:`Guard` check: ``header`` must be ``"<scheme> <key>"`` for one of ``schemes``
    (the bare key if there are none), else the answer is ``refuse(the header's value or
    None)``. ``key()`` is read on every request; ``None`` accepts anything."""

    def check(request: Request) -> Response | None:
        expected = key()
        if expected is None:
            return None
        given = request.headers.get(header)
        wanted = [f"{scheme} {expected}" for scheme in schemes] if schemes else [expected]
        if given is not None and any(_same(given, value) for value in wanted):
            return None
        return refuse(given)

    return check


def _same(given: str, wanted: str) -> bool:
    return hmac.compare_digest(given.encode(), wanted.encode())


class ResponseHeaders:
    """ASGI middleware: every response to a path under ``under`` (``/__sim__`` excepted) gets
    the headers that ``make(request)`` gives (called once a request)."""

    def __init__(
        self,
        app: ASGIApp,
        make: Callable[[Request], Mapping[str, str]],
        under: tuple[str, ...] = ("/",),
    ) -> None:
        self.app, self.make, self.under = app, make, under

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.under) or _internal(path):
            await self.app(scope, receive, send)
            return
        extra = [(k.encode(), v.encode()) for k, v in self.make(Request(scope)).items()]

        async def stamp(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, stamp)


# --- media -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def mp4_bytes(width: int, height: int, seconds: int, fps: int = 24) -> bytes:
    """A real H.264 MP4 of the given shape, rendered once per shape by the local renderer."""
    from vidgate.media.render import RenderSpec, render

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sim.mp4")
        spec = RenderSpec("simulated upstream", max(1, seconds), width, height, fps=fps, seed=7)
        render(spec, path)
        with open(path, "rb") as handle:
            return handle.read()


async def mp4_response(width: int, height: int, seconds: int, fps: int = 24) -> Response:
    """A ``video/mp4`` answer with :func:`mp4_bytes`, rendered off the event loop."""
    data = await run_in_threadpool(mp4_bytes, width, height, seconds, fps)
    return Response(data, media_type="video/mp4")


@functools.lru_cache(maxsize=8)
def jpeg_bytes(width: int = 320, height: int = 180) -> bytes:
    """A small JPEG, for simulators whose upstream serves preview images."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


async def hang(request: Request, seconds: float) -> bool:
    """Wait ``seconds`` before answering (``[sim:hang]``); ``False`` as soon as the caller
    has gone away, so a timed-out client leaves no job and no handler behind."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return False
        await asyncio.sleep(0.05)
    return True


# --- the request log and the app ---------------------------------------------------------


class RequestLog:
    """ASGI middleware recording every request (``/__sim__`` excluded) for tests to count."""

    def __init__(self, app: ASGIApp, entries: list[dict[str, Any]]) -> None:
        self.app = app
        self.entries = entries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__sim__"):
            await self.app(scope, receive, send)
            return
        entry: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode(),
            "t": time.time(),
        }

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status_code"] = message["status"]
                self.entries.append(entry)
            await send(message)

        await self.app(scope, receive, record)


def log_routes(entries: list[dict[str, Any]], reset: Callable[[], None]) -> list[Route]:
    """``GET /__sim__/log`` and ``POST /__sim__/reset`` (no auth)."""

    async def show(_request: Request) -> Response:
        return JSONResponse(entries)

    async def clear(_request: Request) -> Response:
        entries.clear()
        reset()
        return JSONResponse({"ok": True})

    return [Route("/__sim__/log", show), Route("/__sim__/reset", clear, methods=["POST"])]


def sim_app(
    state: BaseState[Any],
    routes: Sequence[BaseRoute],
    middleware: Sequence[Middleware] = (),
    exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
) -> Starlette:
    """A simulator's ASGI app: the ``/__sim__`` routes, then ``routes``; the request log
    around ``middleware``; ``app.state.sim`` is ``state``."""
    app = Starlette(
        routes=[*log_routes(state.log, state.reset), *routes],
        middleware=[Middleware(RequestLog, entries=state.log), *middleware],
        exception_handlers=exception_handlers,
    )
    app.state.sim = state
    return app
