"""A fault switch in front of a real simulator: makes one upstream deployment misbehave.

Simulators take faults per request (``[sim:...]`` prompt markers); routing tests need faults
per *upstream* — deployment A answers 503 while B works for the same request — so this ASGI
wrapper intercepts the creates of the simulator it wraps. Everything it does not intercept
reaches the real simulator unchanged; it also records every create body it saw.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class Fault:
    status: int = 0
    """Answer with this HTTP status (0: hang until the caller gives up)."""
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    """Only for the next ``times`` creates (None: until cleared)."""


class Faults:
    """ASGI wrapper: creates matching ``path`` get ``fault`` while one is set."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = re.compile(path)
        self.fault: Fault | None = None
        self.bodies: list[dict[str, Any]] = []
        """Every create body that arrived (faulted or not)."""
        self.faulted = 0

    def set(self, fault: Fault | None) -> None:
        self.fault = fault

    def reset(self) -> None:
        self.fault, self.faulted = None, 0
        self.bodies.clear()

    @property
    def creates(self) -> int:
        return len(self.bodies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not self.path.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        raw = await _read(receive)
        try:
            self.bodies.append(json.loads(raw) if raw else {})
        except ValueError:
            self.bodies.append({"raw": raw.decode("latin-1")})
        fault = self.fault
        if fault is None:
            await self.app(scope, _replay(raw, receive), send)
            return
        self.faulted += 1
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.fault = None
        if fault.status == 0:
            await _hang(receive)
            return
        body = json.dumps(fault.body).encode()
        headers = [(b"content-type", b"application/json")]
        headers += [(k.lower().encode(), v.encode()) for k, v in fault.headers.items()]
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(raw: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay


async def _hang(receive: Receive) -> None:
    """Never answer; return once the caller has disconnected (it timed out)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        await asyncio.sleep(0)


def openai_error(status: int, message: str, code: str, param: str | None = None) -> Fault:
    body = {"error": {"message": message, "type": "error", "param": param, "code": code}}
    return Fault(status=status, body=body)
