"""Poll load of one gateway process with thousands of running jobs (issue 18, item 6).

    .venv/bin/python bench/poll10k.py --jobs 1000 10000 --interval 10
    .venv/bin/python bench/poll10k.py --jobs 1000 --interval 2 --postgres

One ``vidgate serve`` process (the embedded SQLite default, or ``--postgres``: a fresh
PostgreSQL cluster on loopback) in front of the OpenAI Videos simulator, whose jobs never
finish and whose ``openai-poll-after-ms`` hint is the poll interval. For each job count:
the jobs are created through the gateway (concurrent creates), the poller settles for a
few intervals, then a window is measured:

- upstream polls/s against the expected ``jobs / interval``;
- the gap between two polls of one job (p50/p99/max, from the simulator's request log);
- gateway CPU per poll (the whole process: event loop and SQLite threads; also net of
  what the same process spent idle before the jobs were created, since the fixed cost of
  its background loops is a large share at 100 polls/s), the simulator's CPU (it shares
  the cores), the gateway's RSS (now and peak);
- event-loop lag: the latency of ``GET /health`` sampled every 100 ms (a starved loop
  answers late).

Everything shares this machine's cores with whatever else runs: repeat and report ranges.
Raw numbers go to ``bench/results/<name>.json`` (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from run import RESULTS, SIM_KEY, auth, log
from servers import (
    BENCH,
    VIDGATE,
    Server,
    free_port,
    proc_status_kib,
    spawn,
    start_simulator,
    write_gateway_config,
)

BODY = {"model": "sora-2", "prompt": "poll load", "size": "1280x720", "seconds": "4"}


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] if values else 0.0


def gaps(sim: Server, t0: float, t1: float) -> tuple[int, int, list[float]]:
    """Polls in [t0, t1], the jobs polled, and the sorted gaps between two polls of one job."""
    entries = httpx.get(f"{sim.url}/__sim__/log", timeout=300).json()
    times: dict[str, list[float]] = defaultdict(list)
    for entry in entries:
        if entry["method"] == "GET" and entry.get("video_id") and t0 <= entry["t"] <= t1:
            times[entry["video_id"]].append(entry["t"])
    found = sorted(b - a for ts in times.values() for a, b in itertools.pairwise(sorted(ts)))
    return sum(len(ts) for ts in times.values()), len(times), found


async def create_jobs(url: str, key: str, count: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    failures: list[str] = []
    limits = httpx.Limits(max_connections=concurrency)

    async def one(client: httpx.AsyncClient) -> None:
        # a retry after a dropped keep-alive connection is safe: the key makes it a replay
        headers = {**auth(key), "Idempotency-Key": secrets.token_hex(8)}
        async with gate:
            for attempt in range(5):
                try:
                    reply = await client.post(f"{url}/v1/videos", json=BODY, headers=headers)
                    break
                except httpx.TransportError:
                    if attempt == 4:
                        raise
            if reply.status_code != 200:
                failures.append(f"{reply.status_code} {reply.text[:200]}")

    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await asyncio.gather(*(one(client) for _ in range(count)))
    if failures:
        raise RuntimeError(f"{len(failures)} creates failed, e.g. {failures[0]}")


def loop_lag(url: str, seconds: float) -> list[float]:
    """``GET /health`` latencies (ms), one every 100 ms for ``seconds``."""
    samples: list[float] = []
    deadline = time.time() + seconds
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.time() < deadline:
            began = time.perf_counter()
            client.get("/health")
            samples.append((time.perf_counter() - began) * 1000)
            time.sleep(0.1)
    return sorted(samples)


def measure(count: int, args: argparse.Namespace, tmp: Path, database_url: str | None) -> dict:
    sim = start_simulator(
        tmp,
        SIM_KEY,
        job_seconds=365 * 86400.0,
        queued_seconds=0.0,
        poll_after_ms=int(args.interval * 1000),
    )
    master = "sk-vg-master-" + secrets.token_hex(12)
    env = {"VIDGATE_MASTER_KEY": master}
    if database_url:
        env["VIDGATE_DATABASE_URL"] = database_url
    deployment = {
        "model_name": "sora-2",
        "provider": "openai",
        "model": "sora-2",
        "api_base": f"{sim.url}/v1",
        "api_key": SIM_KEY,
        "poll_interval_s": args.interval,
        "max_concurrent_polls": args.max_concurrent_polls,
    }
    extra = {"settings": json.loads(args.settings)} if args.settings else {}
    config = write_gateway_config(tmp / f"vidgate-{count}.yaml", [deployment], **extra)
    port = free_port()
    argv = [VIDGATE, "serve", "--port", str(port), "--config", str(config)]
    argv += ["--data-dir", str(tmp / f"data-{count}"), "--app-log-level", "warning"]
    if args.taskset:
        argv = ["taskset", "-c", args.taskset, *argv]
    with ExitStack() as stack:
        stack.callback(sim.stop)
        gateway = spawn(f"gateway-{count}", argv, port, tmp, env=env)
        stack.callback(gateway.stop)
        with httpx.Client(base_url=gateway.url, headers=auth(master)) as admin:
            key = admin.post("/key/generate", json={"key_alias": "poll10k"}).json()["key"]
        i0, c0 = time.time(), gateway.cpu_s()
        time.sleep(args.idle)  # what the process costs with nothing to poll
        idle_cores = (gateway.cpu_s() - c0) / (time.time() - i0)
        log(f"{count} jobs, interval {args.interval:g} s: creating")
        began = time.time()
        cpu0 = gateway.cpu_s()
        asyncio.run(create_jobs(gateway.url, key, count, args.concurrency))
        created_s = time.time() - began
        create_cpu = gateway.cpu_s() - cpu0
        settle = args.settle_intervals * args.interval
        log(f"  created in {created_s:.1f} s; settling {settle:g} s")
        time.sleep(settle)
        log(f"  measuring {args.window:g} s")
        t0, g0, s0 = time.time(), gateway.cpu_s(), sim.cpu_s()
        lag = loop_lag(gateway.url, args.window)
        t1, g1, s1 = time.time(), gateway.cpu_s(), sim.cpu_s()
        polls, polled, found = gaps(sim, t0, t1)
        rss = proc_status_kib(gateway.pid, "VmRSS") / 1024
        peak = proc_status_kib(gateway.pid, "VmHWM") / 1024
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(gateway.log_path, RESULTS / f"{args.name}-gateway-{count}.log")
    span = t1 - t0
    expected = count / args.interval
    return {
        "jobs": count,
        "interval_s": args.interval,
        "database": "postgresql" if database_url else "sqlite",
        "create": {
            "seconds": round(created_s, 1),
            "gateway_cpu_ms_per_job": round(create_cpu * 1000 / count, 2),
        },
        "window_s": round(span, 1),
        "polls_per_s": round(polls / span, 1),
        "expected_polls_per_s": round(expected, 1),
        "jobs_polled": polled,
        "gap_s": {
            "p50": round(quantile(found, 0.5), 3),
            "p99": round(quantile(found, 0.99), 3),
            "max": round(found[-1] if found else 0.0, 3),
            "p99_over_interval": round(quantile(found, 0.99) / args.interval, 2),
            "min": round(found[0] if found else 0.0, 3),
        },
        "gateway_cpu_ms_per_poll": round((g1 - g0) * 1000 / max(polls, 1), 3),
        "gateway_idle_cores": round(idle_cores, 3),
        "gateway_cpu_ms_per_poll_over_idle": round(
            ((g1 - g0) - idle_cores * span) * 1000 / max(polls, 1), 3
        ),
        "gateway_cpu_cores": round((g1 - g0) / span, 3),
        "simulator_cpu_cores": round((s1 - s0) / span, 3),
        "health_ms": {
            "p50": round(quantile(lag, 0.5), 2),
            "p99": round(quantile(lag, 0.99), 2),
            "max": round(lag[-1] if lag else 0.0, 2),
            "mean": round(statistics.fmean(lag), 2) if lag else 0.0,
        },
        "rss_mib": round(rss, 1),
        "peak_rss_mib": round(peak, 1),
    }


@contextlib.contextmanager
def postgres() -> Iterator[Any]:
    sys.path.insert(0, str(BENCH.parent))
    from tests.scaleout import services

    with services.postgres_server() as pg:
        yield pg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval, s")
    parser.add_argument("--max-concurrent-polls", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent creates")
    parser.add_argument("--settle-intervals", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--idle", type=float, default=10.0, help="idle window first, s")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--taskset", default="", help="pin the gateway (taskset -c LIST)")
    parser.add_argument("--settings", default="", help="gateway settings as JSON")
    parser.add_argument("--name", default="poll10k", help="results/<name>.json")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "args": vars(args),
        "load_average_before": os.getloadavg(),
        "runs": [],
    }
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vidgate-poll10k-")))
        pg = stack.enter_context(postgres()) if args.postgres else None
        for count in args.jobs:
            url = pg.create_database(f"poll{count}") if pg is not None else None
            result = measure(count, args, tmp, url)
            results["runs"].append(result)
            print(json.dumps(result), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
