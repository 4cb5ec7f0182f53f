"""Poll load on PostgreSQL: what running jobs cost the database, per 1,000 of them.

    .venv/bin/python bench/pollload.py                          # 1 and 3 replicas, ~3 min
    .venv/bin/python bench/pollload.py --replicas 1 --jobs 300  # a smaller run

For each replica count: PostgreSQL and Redis on loopback (started as the scale-out tests
start them, plus ``pg_stat_statements``), the OpenAI Videos simulator as the upstream (jobs
that run for an hour, ``openai-poll-after-ms`` = the poll interval) and ``vidgate serve``
replicas sharing a master key, the database, Redis and a ``file://`` store. Then:

1. an idle window (no jobs): what the replicas cost with nothing to do;
2. ``--jobs`` creates spread over the replicas in turn, a settle time of a few intervals;
3. a measured window with every job running: ``pg_stat_database`` (commits, rollbacks,
   rows updated), ``pg_stat_statements`` (calls per statement, classified), the
   simulator's request log (upstream polls and the gap between two polls of one job), the
   CPU time of each process and Redis' command count.

Everything shares this machine's cores, so the CPU figures are what this box spends, and
the statement counts are the portable result. Raw numbers go to
``bench/results/pollload.json`` (``--name``; gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import redis
from run import RESULTS, SIM_KEY, auth, log
from servers import (
    BENCH,
    CLK_TCK,
    VIDGATE,
    Server,
    free_port,
    spawn,
    start_simulator,
    write_gateway_config,
)

sys.path.insert(0, str(BENCH.parent))
from tests.scaleout import services
from tests.scaleout.services import Postgres, redis_server

BODY = {"model": "sora-2", "prompt": "poll load", "size": "1280x720", "seconds": "4"}
KINDS = (
    ("claim", re.compile(r"^UPDATE jobs SET lease_owner.*next_poll_at <=", re.S)),
    ("confirm lease", re.compile(r"^UPDATE jobs SET lease_until=\S+ WHERE jobs\.id = ")),
    ("renew leases", re.compile(r"^UPDATE jobs SET lease_until=\S+ WHERE jobs\.id IN ")),
    ("poll result", re.compile(r"^UPDATE jobs SET status=")),
    ("next due", re.compile(r"^SELECT jobs\.next_poll_at ")),
    ("stalled submits", re.compile(r"^UPDATE jobs SET lease_owner.*phase = ", re.S)),
    ("webhook claim", re.compile(r"webhook_deliveries")),
    ("BEGIN", re.compile(r"^BEGIN", re.I)),
    ("COMMIT", re.compile(r"^COMMIT", re.I)),
    ("ROLLBACK", re.compile(r"^ROLLBACK", re.I)),
)


@contextlib.contextmanager
def postgres_with_statements() -> Iterator[tuple[Postgres, int]]:
    """``services.postgres_server()`` with ``pg_stat_statements`` loaded; (server, pid)."""
    with services.postgres_server("shared_preload_libraries=pg_stat_statements") as pg:
        pg.psql("postgres", "CREATE EXTENSION pg_stat_statements")
        yield pg, pg.pid


def tree_cpu_s(root_pid: int) -> float:
    """CPU seconds of a process tree: user + system time of every live process in it, plus
    the time of the children each has reaped (PostgreSQL backends that have exited)."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as handle:
                stats[int(entry)] = handle.read().rsplit(")", 1)[1].split()
    tree, grew = {root_pid}, True
    while grew:
        more = {pid for pid, fields in stats.items() if int(fields[1]) in tree} - tree
        tree |= more
        grew = bool(more)
    ticks = sum(int(v) for pid in tree if pid in stats for v in stats[pid][11:15])
    return ticks / CLK_TCK


class Probe:
    """Counters read at the start and end of a window."""

    def __init__(self, pg: Postgres, pg_pid: int, database: str, redis_url: str) -> None:
        self.pg = pg
        self.pg_pid = pg_pid
        self.database = database
        self.redis = redis.Redis.from_url(redis_url)

    def database_stats(self) -> dict[str, int]:
        row = self.pg.psql(
            "postgres",
            "SELECT xact_commit, xact_rollback, tup_updated, tup_inserted, tup_fetched "
            f"FROM pg_stat_database WHERE datname = '{self.database}'",
        )
        names = ("xact_commit", "xact_rollback", "tup_updated", "tup_inserted", "tup_fetched")
        return dict(zip(names, (int(v) for v in row.strip().split("|")), strict=True))

    def statements(self) -> dict[str, list[float]]:
        """``[calls, rows, milliseconds executing]`` per kind of statement."""
        rows = self.pg.psql(
            "postgres",
            "SELECT calls, rows, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') "
            "FROM pg_stat_statements "
            f"WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '{self.database}')",
        )
        counts: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        for line in rows.splitlines():
            calls, returned, ms, query = line.split("|", 3)
            kind = next((name for name, rx in KINDS if rx.search(query)), "other: " + query[:80])
            for index, value in enumerate((calls, returned, ms)):
                counts[kind][index] += float(value)
        return dict(counts)

    def wal_bytes(self) -> int:
        return int(self.pg.psql("postgres", "SELECT pg_current_wal_lsn() - '0/0'").strip())

    def connections(self) -> int:
        row = self.pg.psql(
            "postgres", f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{self.database}'"
        )
        return int(row.strip())

    def snapshot(self, replicas: list[Server], sim: Server) -> dict[str, Any]:
        time.sleep(1.2)  # backends publish their counters at most once a second
        info = self.redis.info()
        return {
            "t": time.time(),
            "db": self.database_stats(),
            "statements": self.statements(),
            "wal_bytes": self.wal_bytes(),
            "cpu": {
                "postgres": tree_cpu_s(self.pg_pid),
                "redis": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
                "simulator": sim.cpu_s(),
                **{f"replica{i}": r.cpu_s() for i, r in enumerate(replicas)},
            },
            "redis_commands": int(info["total_commands_processed"]),
            "redis_clients": int(info["connected_clients"]) - 1,  # not this probe
        }


def window(
    probe: Probe, replicas: list[Server], sim: Server, seconds: float, jobs: int
) -> dict[str, Any]:
    """Measure ``seconds`` of whatever runs now; rates per second."""
    start = probe.snapshot(replicas, sim)
    connections, redis_clients = [], []
    deadline = time.time() + seconds
    while time.time() < deadline:
        connections.append(probe.connections())
        redis_clients.append(int(probe.redis.info("clients")["connected_clients"]) - 1)
        time.sleep(min(2.0, max(0.0, deadline - time.time())))
    end = probe.snapshot(replicas, sim)
    span = end["t"] - start["t"]
    db = {k: (end["db"][k] - start["db"][k]) / span for k in start["db"]}
    statements = {}
    for kind, (calls, rows, ms) in end["statements"].items():
        calls0, rows0, ms0 = start["statements"].get(kind, (0.0, 0.0, 0.0))
        if calls > calls0:
            statements[kind] = {
                "per_s": round((calls - calls0) / span, 1),
                "rows_per_call": round((rows - rows0) / (calls - calls0), 2),
                "ms_per_call": round((ms - ms0) / (calls - calls0), 3),
            }
    cpu = {k: (end["cpu"][k] - start["cpu"][k]) / span for k in start["cpu"]}
    polls, upstream = upstream_polls(sim, start["t"], end["t"])
    return {
        "seconds": span,
        "running_jobs": jobs,
        "polls_per_s": polls / span,
        "upstream": upstream,
        "db_per_s": {k: round(v, 1) for k, v in db.items()},
        "statements": dict(sorted(statements.items())),
        "wal_bytes_per_s": round((end["wal_bytes"] - start["wal_bytes"]) / span),
        "cpu_cores": {k: round(v, 3) for k, v in cpu.items()},
        "redis_commands_per_s": (end["redis_commands"] - start["redis_commands"]) / span,
        "pg_connections_max": max(connections, default=0),
        "redis_clients_max": max(redis_clients, default=0),
    }


def upstream_polls(sim: Server, t0: float, t1: float) -> tuple[int, dict[str, float]]:
    """Polls the simulator saw in [t0, t1]; the jobs polled and the mean and p99 gap between
    two polls of one job (the poll interval, if the poller keeps up)."""
    entries = httpx.get(f"{sim.url}/__sim__/log", timeout=120).json()
    times: dict[str, list[float]] = defaultdict(list)
    for entry in entries:
        if entry["method"] == "GET" and entry.get("video_id") and t0 <= entry["t"] <= t1:
            times[entry["video_id"]].append(entry["t"])
    gaps = sorted(b - a for ts in times.values() for a, b in itertools.pairwise(ts))
    summary = {
        "jobs": len(times),
        "mean_gap_s": sum(gaps) / len(gaps) if gaps else 0.0,
        "p99_gap_s": gaps[int(len(gaps) * 0.99)] if gaps else 0.0,
    }
    return sum(len(ts) for ts in times.values()), {k: round(v, 3) for k, v in summary.items()}


async def create_jobs(urls: list[str], key: str, count: int, concurrency: int = 16) -> None:
    gate = asyncio.Semaphore(concurrency)
    failures: list[str] = []

    async def one(client: httpx.AsyncClient, index: int) -> None:
        async with gate:
            url = f"{urls[index % len(urls)]}/v1/videos"
            reply = await client.post(url, json=BODY, headers=auth(key))
            if reply.status_code != 200:
                failures.append(f"{reply.status_code} {reply.text[:200]}")

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client, i) for i in range(count)))
    if failures:
        raise RuntimeError(f"{len(failures)} creates failed, e.g. {failures[0]}")


def run(
    count: int,
    args: argparse.Namespace,
    tmp: Path,
    pg: Postgres,
    pg_pid: int,
    redis_url: str,
    sim: Server,
) -> dict[str, Any]:
    database = f"pollload{count}"
    env = {
        "VIDGATE_MASTER_KEY": "sk-vg-master-" + secrets.token_hex(12),
        "VIDGATE_DATABASE_URL": pg.create_database(database),
        "VIDGATE_REDIS_URL": redis_url,
        "VIDGATE_STORAGE_URL": f"file://{tmp / 'blobs'}",
    }
    deployment = {
        "model_name": "sora-2",
        "provider": "openai",
        "model": "sora-2",
        "api_base": f"{sim.url}/v1",
        "api_key": SIM_KEY,
        "poll_interval_s": args.interval,
        "max_concurrent_polls": args.max_concurrent_polls,
    }
    config = write_gateway_config(tmp / f"vidgate-{count}.yaml", [deployment])
    probe = Probe(pg, pg_pid, database, redis_url)
    with ExitStack() as stack:
        replicas = []
        for index in range(count):
            port = free_port()
            argv = [VIDGATE, "serve", "--port", str(port), "--config", str(config)]
            argv += ["--data-dir", str(tmp / f"r{count}-{index}"), "--app-log-level", "warning"]
            server = spawn(f"replica{count}-{index}", argv, port, tmp, env=env)
            stack.callback(server.stop)
            replicas.append(server)
        urls = [r.url for r in replicas]
        with httpx.Client(base_url=urls[0], headers=auth(env["VIDGATE_MASTER_KEY"])) as admin:
            key = admin.post("/key/generate", json={"key_alias": "pollload"}).json()["key"]
        log(f"{count} replica(s): idle window {args.idle:g} s")
        idle = window(probe, replicas, sim, args.idle, 0)
        log(f"  creating {args.jobs} jobs")
        began = time.time()
        asyncio.run(create_jobs(urls, key, args.jobs))
        log(f"  created in {time.time() - began:.1f} s; settling {args.settle:g} s")
        time.sleep(args.settle)
        log(f"  measuring {args.window:g} s")
        busy = window(probe, replicas, sim, args.window, args.jobs)
    probe.redis.close()
    return {"replicas": count, "idle": idle, "running": busy}


def per_thousand(result: dict[str, Any], interval: float) -> dict[str, Any]:
    """The measured window scaled to 1,000 running jobs (everything but the idle share
    grows with the number of jobs), and per upstream poll."""
    idle, busy = result["idle"], result["running"]
    scale = 1000 / busy["running_jobs"]
    polls = busy["polls_per_s"]
    db = {k: (busy["db_per_s"][k] - idle["db_per_s"][k]) for k in busy["db_per_s"]}
    statements = {
        k: v["per_s"] - idle["statements"].get(k, {"per_s": 0.0})["per_s"]
        for k, v in busy["statements"].items()
    }
    return {
        "expected_polls_per_s": round(1000 / interval, 1),
        "polls_per_s": round(polls * scale, 1),
        "transactions_per_s": round((db["xact_commit"] + db["xact_rollback"]) * scale, 1),
        "commits_per_s": round(db["xact_commit"] * scale, 1),
        "rows_updated_per_s": round(db["tup_updated"] * scale, 1),
        "wal_kib_per_s": round(busy["wal_bytes_per_s"] * scale / 1024),
        "per_poll": {
            "commits": round(db["xact_commit"] / polls, 2),
            "rollbacks": round(db["xact_rollback"] / polls, 2),
            "rows_updated": round(db["tup_updated"] / polls, 2),
            "wal_bytes": round(busy["wal_bytes_per_s"] / polls),
            "postgres_cpu_ms": round(busy["cpu_cores"]["postgres"] * 1000 / polls, 3),
            "gateway_cpu_ms": round(
                sum(v for k, v in busy["cpu_cores"].items() if k.startswith("replica"))
                * 1000
                / polls,
                3,
            ),
            **{k: round(v / polls, 3) for k, v in sorted(statements.items()) if v > 0},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval, s")
    parser.add_argument("--max-concurrent-polls", type=int, default=16)
    parser.add_argument("--idle", type=float, default=15.0, help="idle window, s")
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--name", default="pollload", help="results/<name>.json")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "args": vars(args),
        "load_average_before": os.getloadavg(),
        "runs": [],
    }
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vidgate-poll-")))
        pg, pg_pid = stack.enter_context(postgres_with_statements())
        redis_url = stack.enter_context(redis_server()).url
        sim = start_simulator(
            tmp,
            SIM_KEY,
            job_seconds=3600.0,
            queued_seconds=0.0,
            poll_after_ms=int(args.interval * 1000),
        )
        stack.callback(sim.stop)
        for count in args.replicas:
            result = run(count, args, tmp, pg, pg_pid, redis_url, sim)
            result["per_1000_running_jobs"] = per_thousand(result, args.interval)
            results["runs"].append(result)
            print(json.dumps(result, indent=1), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
