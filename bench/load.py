"""A small HTTP load generator: one ``httpx.AsyncClient``, keep-alive pool sized to concurrency.

Run as its own process (the benchmark harness spawns it per measurement)::

    python bench/load.py < spec.json > result.json

The spec (JSON on stdin) says what to send::

    {"method": "GET", "urls": ["http://127.0.0.1:P/v1/videos/ID", ...],
     "headers": {...}, "json": {...} | null, "concurrency": 8,
     "requests": 2000, "seconds": 5.0, "warmup": 8,
     "stream": false, "idempotency": false, "collect_ids": false}

``concurrency`` workers take turns through ``urls``; the run stops
after ``requests`` measured requests or ``seconds`` of wall time, whichever comes first
(both are required: every loop is bounded). ``warmup`` requests are sent first and not
measured, so connection set-up is not counted. With ``stream`` the body is read
incrementally and counted (downloads); ``idempotency`` adds a unique ``Idempotency-Key``
per request; ``collect_ids`` returns the ``id`` of every JSON reply (creates).

Clients: by default each worker has its own ``httpx.AsyncClient`` holding one keep-alive
HTTP/1.1 connection. One shared client with a pool sized to the concurrency
(``"shared_pool": true``) is what one would write first, but httpcore's pool does work
proportional to (waiting requests x connections) on every request and response, so the
generator itself collapses at high concurrency. Against the simulator's retrieve route on
this 2-core machine, at concurrency 1 / 8 / 64: one shared pool 1,255 / 1,283 / 170 req/s,
per-worker clients 1,300 / 2,114 / 1,910 req/s.

The result (JSON on stdout): counts, status codes, errors, wall time, throughput,
latency percentiles in ms, bytes received and MiB/s.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
import uuid
from typing import Any

import httpx

MAX_REQUESTS = 1_000_000
MAX_SECONDS = 600.0


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (``q`` in 0..100); 0.0 when empty."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


class Run:
    """The shared state of one measurement."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.method = str(spec.get("method", "GET"))
        self.urls = list(spec["urls"])
        self.headers = dict(spec.get("headers") or {})
        self.body = spec.get("json")
        self.stream = bool(spec.get("stream", False))
        self.idempotency = bool(spec.get("idempotency", False))
        self.collect_ids = bool(spec.get("collect_ids", False))
        self.limit = min(int(spec.get("requests", 1000)), MAX_REQUESTS)
        self.seconds = min(float(spec.get("seconds", 10.0)), MAX_SECONDS)
        self.next_url = itertools.cycle(self.urls)
        self.issued = 0
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.ids: list[str] = []
        self.bytes = 0
        self.deadline = 0.0

    def take(self) -> bool:
        """Reserve one measured request; ``False`` once the count or the time is used up."""
        if self.issued >= self.limit or time.perf_counter() >= self.deadline:
            return False
        self.issued += 1
        return True

    async def one(self, client: httpx.AsyncClient, measured: bool) -> None:
        headers = self.headers
        if self.idempotency:
            headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        url = next(self.next_url)
        start = time.perf_counter()
        received = 0
        try:
            if self.stream:
                async with client.stream(self.method, url, headers=headers) as response:
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
                    status = response.status_code
                    payload = None
            else:
                response = await client.request(self.method, url, headers=headers, json=self.body)
                status = response.status_code
                received = len(response.content)
                payload = response
        except httpx.HTTPError as exc:
            if measured:
                name = type(exc).__name__
                self.errors[name] = self.errors.get(name, 0) + 1
            return
        elapsed = time.perf_counter() - start
        if not measured:
            return
        self.latencies.append(elapsed)
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        self.bytes += received
        if self.collect_ids and payload is not None and status < 300:
            self.ids.append(str(payload.json().get("id")))


async def _worker(run: Run, client: httpx.AsyncClient) -> None:
    while run.take():
        await run.one(client, measured=True)


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    run = Run(spec)
    concurrency = max(1, int(spec.get("concurrency", 1)))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(float(spec.get("timeout", 60.0)))
    shared = bool(spec.get("shared_pool", False))
    if shared:
        clients = [httpx.AsyncClient(limits=limits, timeout=timeout)] * concurrency
    else:  # one keep-alive connection per worker: see the module docstring
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        clients = [httpx.AsyncClient(limits=one, timeout=timeout) for _ in range(concurrency)]
    try:
        warmup = int(spec.get("warmup", concurrency))
        for start in range(0, warmup, concurrency):
            batch = min(concurrency, warmup - start)
            await asyncio.gather(*(run.one(clients[i], measured=False) for i in range(batch)))
        run.deadline = time.perf_counter() + run.seconds
        began = time.perf_counter()
        await asyncio.gather(*(_worker(run, client) for client in clients))
        wall = time.perf_counter() - began
    finally:
        for client in set(clients):
            await client.aclose()
    found = report(concurrency, run.latencies, run.statuses, run.errors, wall, run.bytes)
    return {**found, "ids": run.ids}


def report(
    concurrency: int,
    latencies: list[float],
    statuses: dict[str, int],
    errors: dict[str, int],
    wall: float,
    received: int,
) -> dict[str, Any]:
    """A measurement's result (``bench/rawload.py`` reports the same)."""
    latencies = sorted(latencies)
    done = len(latencies)
    return {
        "concurrency": concurrency,
        "requests": done,
        "ok": sum(n for code, n in statuses.items() if code.startswith("2")),
        "statuses": statuses,
        "errors": errors,
        "wall_s": wall,
        "rps": done / wall if wall > 0 else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else 0.0,
        "mean_ms": (sum(latencies) / done * 1000) if done else 0.0,
        "bytes": received,
        "mib_s": received / (1 << 20) / wall if wall > 0 else 0.0,
    }


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(main(spec))
    return uvloop.run(main(spec))


if __name__ == "__main__":
    result = _run(json.load(sys.stdin))
    json.dump(result, sys.stdout)
