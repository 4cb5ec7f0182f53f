"""Shared plumbing for upstream simulators: timelines, fault markers, media, request log.

Simulators are independent implementations of each provider's documented wire format and
never import their provider's spec or adapter. What they share here is only the *test
harness* side — how a job's state advances with time, the ``[sim:...]`` fault markers every
simulator understands, real MP4 bytes (from the local renderer) and the request log the
contract suite counts calls with — so none of it can hide a wire mistake.

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
import functools
import os
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


Endpoint = Callable[[Request], Awaitable[Response]]
