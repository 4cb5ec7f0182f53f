"""A fault switch in front of a real simulator: makes one upstream deployment misbehave.

Simulators take faults per request (``[sim:...]`` prompt markers); routing tests need faults
per *upstream* — deployment A answers 503 while B works for the same request — so this ASGI
wrapper intercepts the creates of the simulator it wraps. Everything it does not intercept
reaches the real simulator unchanged; it also records every create body it saw.

Besides answering with a status or hanging, a fault can drop the connection: before the
simulator saw the create, or after it answered (the task exists upstream, the answer is
lost). A ``Storm`` shared by several wrappers fails a random share of their creates.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class Fault:
    status: int = 0
    """Answer with this HTTP status (0: hang until the caller gives up)."""
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    """Only for the next ``times`` creates (None: until cleared)."""
    drop: Literal["before", "after"] | None = None
    """Drop the connection instead of answering: ``before`` the simulator saw the create, or
    ``after`` it answered (the task exists upstream; the caller never hears of it)."""


SERVER_ERROR = Fault(500, {"error": {"message": "storm", "type": "error", "code": "server_error"}})


@dataclass
class Storm:
    """Random faults for every wrapper that shares it: each create fails with probability
    ``rate``; a ``drops`` share of those drop the connection (half before, half after the
    simulator saw the create), the rest answer 500.

    Draws are seeded and keyed by the create's prompt and how often that prompt was sent to
    any wrapper of the storm: faults are independent between creates and attempts, and the
    same for every run whatever the thread timing.
    """

    rate: float
    drops: float = 0.0
    seed: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    """Creates seen, by outcome: ``ok``, ``500``, ``drop-before``, ``drop-after``."""
    _sent: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def draw(self, prompt: str) -> Fault | None:
        """The fault for this create of ``prompt`` (None: let it through)."""
        with self._lock:  # wrappers run in their own server threads
            nth = self._sent[prompt]
            self._sent[prompt] += 1
        rng = random.Random(f"{self.seed}:{prompt}:{nth}")
        fault: Fault | None = None
        if rng.random() < self.rate:
            fault = SERVER_ERROR
            if rng.random() < self.drops:
                fault = Fault(drop="before" if rng.random() < 0.5 else "after")
        with self._lock:
            self.counts[_outcome(fault)] += 1
        return fault


def _outcome(fault: Fault | None) -> str:
    if fault is None:
        return "ok"
    return f"drop-{fault.drop}" if fault.drop else str(fault.status)


class Faults:
    """ASGI wrapper: creates matching ``path`` get ``fault`` while one is set."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = re.compile(path)
        self.fault: Fault | None = None
        self.storm: Storm | None = None
        """Random faults, for creates while no ``fault`` is set."""
        self.queued: list[Fault | None] = []
        """One fault (or none) for each of the next creates, before anything else."""
        self.bodies: list[dict[str, Any]] = []
        """Every create body that arrived (faulted or not)."""
        self.faulted = 0

    def set(self, fault: Fault | None) -> None:
        self.fault = fault

    def queue(self, *faults: Fault | None) -> None:
        """The next creates get these, in order (``None``: that one is let through)."""
        self.queued.extend(faults)

    def reset(self) -> None:
        self.fault, self.storm, self.faulted = None, None, 0
        self.bodies.clear()
        self.queued.clear()

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
        fault = self._next_fault()
        if fault is None:
            await self.app(scope, _replay(raw, receive), send)
            return
        self.faulted += 1
        if fault.drop is not None:
            if fault.drop == "after":
                await self.app(scope, _replay(raw, receive), _discard)
            await _drop(receive)
            return
        if fault.status == 0:
            await _hang(receive)
            return
        body = json.dumps(fault.body).encode()
        headers = [(b"content-type", b"application/json")]
        headers += [(k.lower().encode(), v.encode()) for k, v in fault.headers.items()]
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _next_fault(self) -> Fault | None:
        if self.queued:
            return self.queued.pop(0)
        fault = self.fault
        if fault is None:
            if self.storm is None:
                return None
            return self.storm.draw(str(self.bodies[-1].get("prompt", "")))
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.fault = None
        return fault


async def _discard(message: Message) -> None:
    """A ``send`` that loses the answer."""


async def _drop(receive: Receive) -> None:
    """Abort the connection without a response (needs uvicorn: its ``receive`` is a method of
    the request cycle, which holds the transport)."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("dropping a connection needs uvicorn's request cycle")
    transport.abort()
    while (await receive())["type"] != "http.disconnect":  # uvicorn then sends nothing
        pass


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
