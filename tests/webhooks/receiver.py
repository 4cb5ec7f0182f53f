"""A webhook receiver for tests: records every request, answers per path as told.

Each test registers endpoints on its own path (``/hook/<token>``), so tests sharing one
receiver and one gateway never see each other's calls. ``plan(path, 500, "hang")`` makes
the next requests to ``path`` answer those (``"hang"``: hold the request past the sender's
timeout; ``"slow"``: answer 200 after ``SLOW_S``), after which it answers ``answer(path, ...)``
(200 unless set). ``max_in_flight`` is the most requests it held at once.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HANG_S = 2.0
SLOW_S = 0.3


@dataclass(frozen=True)
class Call:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """The recording app plus its switches (thread-safe: uvicorn runs in another thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._plans: dict[str, deque[int | str]] = defaultdict(deque)
        self._defaults: dict[str, int | str] = {}
        self._in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])

    def new_path(self) -> str:
        return f"/hook/{secrets.token_hex(6)}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def plan(self, path: str, *answers: int | str) -> None:
        with self._lock:
            self._plans[path].extend(answers)

    def answer(self, path: str, status: int | str) -> None:
        """Answer ``status`` from now on (once the plan is used up)."""
        with self._lock:
            self._defaults[path] = status

    def calls(self, path: str) -> list[Call]:
        with self._lock:
            return [call for call in self._calls if call.path == path]

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        body = await request.body()
        with self._lock:
            self._calls.append(Call(path, dict(request.headers), body, time.time()))
            plan = self._plans[path]
            answer = plan.popleft() if plan else self._defaults.get(path, 200)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if answer in ("hang", "slow"):
                await asyncio.sleep(HANG_S if answer == "hang" else SLOW_S)
                answer = 200
        finally:
            with self._lock:
                self._in_flight -= 1
        assert isinstance(answer, int)
        return Response(b"ok", status_code=answer, headers={"set-cookie": "tracker=1; Path=/"})
