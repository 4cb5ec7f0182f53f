"""A load generator that costs little per request: raw HTTP/1.1 keep-alive over asyncio.

Same contract as ``bench/load.py`` (JSON spec on stdin, JSON result on stdout) for
``GET`` requests without a body, which is what ``bench/serve_paths.py`` sends::

    python bench/rawload.py < spec.json > result.json

Why: ``bench/load.py`` drives one core with httpx, which costs the client ~0.4 ms per
request; against a server pinned to the other core it tops out near 2,400 retrieves/s,
below what either server can do, so at concurrency 32 it measured the client, and both
the simulator and the gateway "used under half of their core". This client writes
pre-encoded request bytes and parses responses with ``httptools`` (the parser uvicorn
uses), ~25 us a request, so the server under test is the one that runs out of CPU.

Each of ``concurrency`` connections sends one request, waits for the whole response
(``Content-Length`` or chunked, as ``httptools`` frames it) and sends the next: no
pipelining, as HTTP clients do. Response bodies are counted, not kept.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
from load import report

MAX_REQUESTS = 1_000_000
MAX_SECONDS = 600.0


def request_bytes(url: str, headers: dict[str, str]) -> bytes:
    """One ``GET`` request, encoded once."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request, resolves a future with the response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future[tuple[int, int]] | None = None
        self.received = 0
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.done is not None and not self.done.done():
                self.done.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection closed"))
        if not self.lost.done():
            self.lost.set_result(None)

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.received += len(body)

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result((self.parser.get_status_code(), self.received))

    async def send(self, data: bytes) -> tuple[int, int]:
        """(status, body bytes) of one request."""
        assert self.transport is not None
        self.received = 0
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.done


class Run:
    """The shared state of one measurement."""

    def __init__(self, spec: dict[str, Any]) -> None:
        if str(spec.get("method", "GET")) != "GET" or spec.get("json") is not None:
            raise SystemExit("rawload sends GET requests without a body only")
        headers = dict(spec.get("headers") or {})
        self.requests = [request_bytes(url, headers) for url in spec["urls"]]
        self.address = urlsplit(spec["urls"][0])
        self.limit = min(int(spec.get("requests", 1000)), MAX_REQUESTS)
        self.seconds = min(float(spec.get("seconds", 10.0)), MAX_SECONDS)
        self.next_request = itertools.cycle(self.requests)
        self.issued = 0
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.bytes = 0
        self.deadline = 0.0

    def take(self) -> bool:
        if self.issued >= self.limit or time.perf_counter() >= self.deadline:
            return False
        self.issued += 1
        return True

    async def connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        host, port = self.address.hostname or "127.0.0.1", self.address.port or 80
        _, protocol = await loop.create_connection(Connection, host, port)
        return protocol

    async def one(self, conn: Connection, measured: bool) -> Connection:
        """One request; a new connection if the server closed this one."""
        start = time.perf_counter()
        try:
            status, received = await conn.send(next(self.next_request))
        except (ConnectionError, httptools.HttpParserError) as exc:
            if measured:
                name = type(exc).__name__
                self.errors[name] = self.errors.get(name, 0) + 1
            return await self.connect()
        if not measured:
            return conn
        self.latencies.append(time.perf_counter() - start)
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        self.bytes += received
        return conn


async def _worker(run: Run, conn: Connection) -> None:
    while run.take():
        conn = await run.one(conn, measured=True)
    if conn.transport is not None:
        conn.transport.close()


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    run = Run(spec)
    concurrency = max(1, int(spec.get("concurrency", 1)))
    conns = [await run.connect() for _ in range(concurrency)]
    warmup = int(spec.get("warmup", concurrency))
    for start in range(0, warmup, concurrency):
        batch = range(min(concurrency, warmup - start))
        conns[: len(batch)] = await asyncio.gather(
            *(run.one(conns[i], measured=False) for i in batch)
        )
    run.deadline = time.perf_counter() + run.seconds
    began = time.perf_counter()
    await asyncio.gather(*(_worker(run, conn) for conn in conns))
    wall = time.perf_counter() - began
    return report(concurrency, run.latencies, run.statuses, run.errors, wall, run.bytes)


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(main(spec))
    return uvloop.run(main(spec))


if __name__ == "__main__":
    result = _run(json.load(sys.stdin))
    json.dump(result, sys.stdout)
