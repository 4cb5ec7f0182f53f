"""The mixed workload's client side: open-loop creates, each job followed as SDK users do.

Run as its own process by ``bench/mixed.py`` (asyncio on uvloop + httpx)::

    python bench/mixed_load.py < spec.json

Protocol on stdout, one line each: ``ready`` once the clients are set up; the harness
answers ``go`` on stdin (so it can read the servers' CPU counters right before the load);
``done`` when the last job is finished (so it can read them right after); then the result
as one JSON line. Progress goes to stderr every few seconds.

Why open loop: a create is sent every ``1/rate`` s whatever the latency of earlier ones,
as independent users do; a closed loop would slow its creates down exactly when the server
struggles and hide the backlog. Each created job is then followed like the OpenAI SDK's
``videos.poll``: retrieve, sleep ``poll_ms``, retrieve again until ``completed`` (or
``failed``), then one ``GET /v1/videos/{id}/content`` read to the end and checked for
its size.

Modes: ``busy`` is the real workload above. ``idle`` keeps the same request mix and rates
with no background work on the server: creates go to a model whose jobs never complete
(the gateway's poller leaves them alone), and each "job" is followed by ``polls``
retrieves and one download of an already completed job.

Connections: one ``httpx.AsyncClient`` with one keep-alive connection per request in
flight, taken from a free list and made on demand, for the reason in ``bench/load.py``'s
docstring (httpcore's shared pool costs the client work per waiting request).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import itertools
import json
import ssl
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

MAX_CLIENTS = 1024
STALE_S = 3.0  # a connection idle this long is dropped: uvicorn closes them after 5 s
MAX_SECONDS = 900.0
PROGRESS_S = 5.0
STALL_TICK_S = 0.002
STALL_S = 0.010
"""The client's own event loop is watched: a 2 ms tick late by this much is a client stall.
A stall delays every request in flight, so a latency tail that comes with client stalls
is the load generator's (its core is shared with the simulators), not the server's."""
SLOWEST = 12
"""The slowest requests of each kind kept with their start time and ``x-request-id``, so a
tail can be matched with the server's own access log (``bench/mixed.py --keep``)."""


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (``q`` in 0..100); 0.0 when empty."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def summary(values: list[float], scale: float = 1000.0) -> dict[str, float]:
    """Count and percentiles of ``values`` (seconds), scaled (ms by default)."""
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": percentile(ordered, 50) * scale,
        "p90": percentile(ordered, 90) * scale,
        "p99": percentile(ordered, 99) * scale,
        "max": (ordered[-1] * scale) if ordered else 0.0,
        "mean": (sum(ordered) / len(ordered) * scale) if ordered else 0.0,
    }


class Clients:
    """A free list of single-connection clients, one per request in flight."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout = httpx.Timeout(timeout_s)
        self.free: list[tuple[float, httpx.AsyncClient]] = []
        self.open: set[httpx.AsyncClient] = set()
        self.made = 0
        self.slots = asyncio.Semaphore(MAX_CLIENTS)
        self.tls = ssl.create_default_context()
        """Made once: httpx builds a context per client by default, ~21 ms of the client's
        loop each (the CA bundle), which landed in the tail of the requests in flight."""

    @asynccontextmanager
    async def take(self) -> AsyncIterator[httpx.AsyncClient]:
        """The most recently used free client (a new one if none is fresh enough): a kept
        connection the server is about to close would fail the request for the client's
        sake, not the server's."""
        async with self.slots:
            client = None
            while self.free and client is None:
                used, candidate = self.free.pop()
                if time.monotonic() - used < STALE_S:
                    client = candidate
                else:
                    self.open.discard(candidate)
                    await candidate.aclose()
            client = client or self._make()
            try:
                yield client
            finally:
                self.free.append((time.monotonic(), client))

    def _make(self) -> httpx.AsyncClient:
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        client = httpx.AsyncClient(limits=one, timeout=self.timeout, verify=self.tls)
        self.open.add(client)
        self.made += 1
        return client

    async def close(self) -> None:
        for client in self.open:
            await client.aclose()


@dataclass
class Kind:
    """One kind of job in the mix (``4s-720p``, ``12s-1080p``)."""

    name: str
    weight: int
    create_url: str
    body: dict[str, Any]
    bytes: int


@dataclass
class Stats:
    """Everything measured; latencies in seconds, keyed by request kind."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)
    to_completed: list[float] = field(default_factory=list)
    download_mib_s: list[float] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)
    jobs: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    last_create_sent: float = 0.0
    last_completed: float = 0.0
    max_lag_s: float = 0.0
    slowest: dict[str, list[tuple[float, float, str, str]]] = field(default_factory=dict)
    stalls: list[tuple[float, float]] = field(default_factory=list)
    """(wall time at the stall's end, its length in seconds) of each client stall."""

    def took(
        self, kind: str, seconds: float, at: float = 0.0, request_id: str = "", overhead: str = ""
    ) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        kept = self.slowest.setdefault(kind, [])
        if len(kept) < SLOWEST:
            heapq.heappush(kept, (seconds, at, request_id, overhead))
        elif seconds > kept[0][0]:
            heapq.heapreplace(kept, (seconds, at, request_id, overhead))

    def error(self, kind: str, what: str, sample: str = "") -> None:
        key = f"{kind}: {what}"
        self.errors[key] = self.errors.get(key, 0) + 1
        if sample and key not in self.samples:
            self.samples[key] = sample[:300]

    def count(self, outcome: str) -> None:
        self.jobs[outcome] = self.jobs.get(outcome, 0) + 1


class Failed(Exception):
    """A request of a job failed (already counted); the job stops there."""


class Workload:
    """One run of the mixed workload against one target."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.mode = str(spec["mode"])
        self.rate = float(spec["rate"])
        self.seconds = min(float(spec["seconds"]), MAX_SECONDS)
        self.poll_s = float(spec["poll_ms"]) / 1000
        self.base = str(spec["base"]).rstrip("/")
        self.headers = dict(spec.get("headers") or {})
        self.idempotency = bool(spec.get("idempotency", False))
        self.job_timeout_s = float(spec.get("job_timeout_s", 120.0))
        self.kinds = [Kind(**kind) for kind in spec["kinds"]]
        self.clients = Clients(float(spec.get("timeout_s", 60.0)))
        self.stats = Stats()
        self.started = 0
        self.finished = 0

    def pattern(self) -> list[Kind]:
        """Kinds in a smooth repeating order by weight (9:1 -> one 12 s job in every 10)."""
        total = sum(kind.weight for kind in self.kinds)
        counts = {kind.name: 0 for kind in self.kinds}
        order = []
        for _ in range(total):
            kind = min(self.kinds, key=lambda k: (counts[k.name] + 1) / k.weight)
            counts[kind.name] += 1
            order.append(kind)
        return order

    async def request(
        self, label: str, method: str, url: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        headers = self.headers
        if body is not None and self.idempotency:
            headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        at, began = time.time(), time.perf_counter()
        try:
            async with self.clients.take() as client:
                response = await client.request(method, url, headers=headers, json=body)
        except httpx.HTTPError as exc:
            self.stats.error(label, type(exc).__name__, repr(exc))
            raise Failed from exc
        elapsed, got = time.perf_counter() - began, response.headers
        overhead = got.get("x-vidgate-overhead-ms", "")  # vidgate's own time in the request
        self.stats.took(label, elapsed, at, got.get("x-request-id", ""), overhead)
        if response.status_code >= 300:
            self.stats.error(label, f"HTTP {response.status_code}", response.text)
            raise Failed
        return response

    async def download(self, label: str, video_id: str, expected: int) -> None:
        url = f"{self.base}/v1/videos/{video_id}/content"
        began = time.perf_counter()
        received = 0
        try:
            async with (
                self.clients.take() as client,
                client.stream("GET", url, headers=self.headers) as response,
            ):
                async for chunk in response.aiter_raw():
                    received += len(chunk)
                status = response.status_code
        except httpx.HTTPError as exc:
            self.stats.error(label, type(exc).__name__, repr(exc))
            raise Failed from exc
        elapsed = time.perf_counter() - began
        self.stats.took(label, elapsed)
        if status >= 300:
            self.stats.error(label, f"HTTP {status}")
            raise Failed
        self.stats.bytes += received
        if received != expected:
            self.stats.error(label, "size mismatch", f"got {received} bytes, expected {expected}")
            raise Failed
        self.stats.download_mib_s.append(received / (1 << 20) / max(elapsed, 1e-9))

    async def follow(self, kind: Kind) -> None:
        """Create, poll until terminal, download: the life of one job (busy mode)."""
        created = time.perf_counter()
        try:
            reply = await self.request("create", "POST", kind.create_url, kind.body)
            video = reply.json()
            video_id, status = str(video["id"]), str(video.get("status"))
            polls = 0
            url = f"{self.base}/v1/videos/{video_id}"
            while status not in ("completed", "failed"):
                if time.perf_counter() - created > self.job_timeout_s:
                    self.stats.count("timed out")
                    return
                await asyncio.sleep(self.poll_s)
                status = str((await self.request("retrieve", "GET", url)).json().get("status"))
                polls += 1
            done = time.perf_counter()
            self.stats.to_completed.append(done - created)
            self.stats.polls.append(polls)
            self.stats.last_completed = max(self.stats.last_completed, done)
            if status == "failed":
                self.stats.count("failed")
                return
            await self.download(f"download {kind.name}", video_id, kind.bytes)
            self.stats.count("completed")
        except Failed:
            self.stats.count("errored")
        except (ValueError, KeyError) as exc:
            self.stats.error("create", "bad body", repr(exc))
            self.stats.count("errored")

    async def follow_idle(self, kind: Kind, job: dict[str, Any], polls: int) -> None:
        """The same requests with no background work: a create that never completes, then
        ``polls`` retrieves and one download of a job completed before the phase."""
        try:
            await self.request("create", "POST", kind.create_url, kind.body)
            url = f"{self.base}/v1/videos/{job['id']}"
            for _ in range(polls):
                await asyncio.sleep(self.poll_s)
                await self.request("retrieve", "GET", url)
            await self.download(f"download {job['kind']}", str(job["id"]), int(job["bytes"]))
            self.stats.count("completed")
        except Failed:
            self.stats.count("errored")

    def job_for(self, index: int, order: list[Kind]) -> asyncio.Task[None]:
        kind = order[index % len(order)]
        if self.mode == "busy":
            return asyncio.ensure_future(self.follow(kind))
        idle = self.spec["idle"]
        jobs = idle["jobs"]
        pool = [j for j in jobs if j["kind"] == kind.name] or jobs
        job = pool[index % len(pool)]
        create = Kind(**{**kind.__dict__, **idle["create"]})
        return asyncio.ensure_future(self.follow_idle(create, job, int(idle["polls"])))

    async def run(self) -> dict[str, Any]:
        order = self.pattern()
        total = max(1, round(self.rate * self.seconds))
        tasks: list[asyncio.Task[None]] = []
        began = time.perf_counter()
        reporter = asyncio.ensure_future(self.progress(began, total))
        watcher = asyncio.ensure_future(self.watch_stalls())
        for index in range(total):
            due = began + index / self.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.stats.max_lag_s = max(self.stats.max_lag_s, time.perf_counter() - due)
            task = self.job_for(index, order)
            task.add_done_callback(self._finished)
            tasks.append(task)
            self.started += 1
        self.stats.last_create_sent = time.perf_counter()
        await asyncio.gather(*tasks)
        ended = time.perf_counter()
        reporter.cancel()
        watcher.cancel()
        return self.result(began, ended, total)

    async def warm_up(self) -> None:
        """One request before the clock starts: the client's first request runs code (and
        imports) that would otherwise stall the phase's first requests by ~50 ms."""
        async with self.clients.take() as client:
            with contextlib.suppress(httpx.HTTPError):
                await client.get(f"{self.base}/", headers=self.headers)

    async def watch_stalls(self) -> None:
        """Record each time this process's loop ran ``STALL_S`` or more late."""
        while True:
            due = time.perf_counter() + STALL_TICK_S
            await asyncio.sleep(STALL_TICK_S)
            late = time.perf_counter() - due
            if late >= STALL_S:
                self.stats.stalls.append((time.time(), late))

    def _finished(self, _task: asyncio.Task[None]) -> None:
        self.finished += 1

    async def progress(self, began: float, total: int) -> None:
        for tick in itertools.count(1):
            await asyncio.sleep(PROGRESS_S)
            print(
                f"    [{self.mode} {tick * PROGRESS_S:.0f} s] jobs started {self.started}/{total}"
                f", finished {self.finished}, errors {sum(self.stats.errors.values())}",
                file=sys.stderr,
                flush=True,
            )

    def result(self, began: float, ended: float, total: int) -> dict[str, Any]:
        stats = self.stats
        drain = 0.0
        if stats.last_completed:
            drain = max(0.0, stats.last_completed - stats.last_create_sent)
        return {
            "mode": self.mode,
            "rate": self.rate,
            "planned_jobs": total,
            "wall_s": ended - began,
            "creates_s": stats.last_create_sent - began,
            "drain_s": drain,
            "max_schedule_lag_ms": stats.max_lag_s * 1000,
            "jobs": stats.jobs,
            "errors": stats.errors,
            "error_samples": stats.samples,
            "latency_ms": {label: summary(v) for label, v in stats.latencies.items()},
            "to_completed_s": summary(stats.to_completed, 1.0),
            "polls_per_job": (sum(stats.polls) / len(stats.polls)) if stats.polls else 0.0,
            "download_mib_s": summary(stats.download_mib_s, 1.0),
            "bytes": stats.bytes,
            "clients_made": self.clients.made,
            "client_stalls": {
                "count": len(stats.stalls),
                "total_ms": round(sum(late for _, late in stats.stalls) * 1000, 1),
                "max_ms": round(max((late for _, late in stats.stalls), default=0.0) * 1000, 1),
            },
            "slowest": {
                label: [
                    {
                        "ms": round(t * 1000, 3),
                        "at": at,
                        "request_id": rid,
                        "overhead_ms": overhead,
                        "stalled": any(
                            at <= end and end - late <= at + t for end, late in stats.stalls
                        ),
                    }
                    for t, at, rid, overhead in sorted(kept, reverse=True)
                ]
                for label, kept in stats.slowest.items()
            },
        }


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    workload = Workload(spec)
    await workload.warm_up()
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":
        raise SystemExit(f"expected 'go' on stdin, got {line!r}")
    # The client's clock must not stop for its own garbage collector: a full collection
    # of this process takes tens of ms, and every request in flight would carry it.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)
    try:
        result = await workload.run()
    finally:
        await workload.clients.close()
    print("done", flush=True)
    return result


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(main(spec))
    return uvloop.run(main(spec))


if __name__ == "__main__":
    spec = json.loads(sys.stdin.readline())
    print(json.dumps(_run(spec)), flush=True)
