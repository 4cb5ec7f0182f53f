"""Scale-out benchmark: retrieve and create throughput of one and three replicas on
PostgreSQL + Redis, next to the SQLite single process, against the same upstream simulators.

    .venv/bin/python bench/scaleout.py            # ~2 min, rewrites the README's section
    .venv/bin/python bench/scaleout.py --quick    # ~1 min, prints the table only

PostgreSQL and Redis are started on loopback from a temporary directory (installed with
apt-get when missing, as the tests do). Every server and the load generator is its own
process; they all share this machine's cores, so three replicas here measure what running
several costs, not what several machines would gain. The load generator sends each request
to the next replica in turn. Results go to bench/results/scaleout-<full|quick>.json.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from run import NEVER_MS, RESULTS, SIM_KEY, SORA_BODY, auth, log, run_load, wait_terminal
from servers import BENCH, VIDGATE, Server, free_port, spawn, start_simulator, write_gateway_config

sys.path.insert(0, str(BENCH.parent))
from tests.scaleout.services import postgres_server, redis_server

README = BENCH / "README.md"
BEGIN, END = "<!-- scaleout:begin -->", "<!-- scaleout:end -->"


def start_replica(
    data_dir: Path, config: Path, master_key: str, log_dir: Path, env: dict[str, str]
) -> Server:
    port = free_port()
    argv = [VIDGATE, "serve", "--data-dir", str(data_dir), "--port", str(port)]
    argv += ["--config", str(config)]
    return spawn(
        f"gateway-{port}", argv, port, log_dir, env={"VIDGATE_MASTER_KEY": master_key, **env}
    )


@contextmanager
def cluster(
    tmp: Path, name: str, count: int, config: Path, master_key: str, env: dict[str, str]
) -> Iterator[list[Server]]:
    with ExitStack() as stack:
        replicas = []
        for index in range(count):
            server = start_replica(tmp / f"{name}-{index}", config, master_key, tmp, env)
            stack.callback(server.stop)
            replicas.append(server)
        yield replicas


def measure(replicas: list[Server], master_key: str, quick: bool) -> dict[str, Any]:
    """Create throughput (c=8, 32) and retrieve throughput (c=1, 8, 64) through ``replicas``."""
    urls = [r.url for r in replicas]
    servers = {f"replica{i}": r for i, r in enumerate(replicas)}
    with httpx.Client(base_url=urls[0], headers=auth(master_key), timeout=30) as admin:
        key = admin.post("/key/generate", json={"key_alias": "bench"}).json()["key"]
    seconds = 1.0 if quick else 3.0
    out: dict[str, Any] = {"create": [], "retrieve": []}
    for level in (8, 32):
        result = run_load(
            {
                "method": "POST",
                "urls": [f"{u}/v1/videos" for u in urls],
                "headers": auth(key),
                "json": SORA_BODY,
                "concurrency": level,
                "requests": 50_000,
                "seconds": seconds,
                "warmup": level,
            },
            servers,
        )
        out["create"].append(result)
        log(f"  create  c={level:<3} {result['rps']:.0f} req/s p50 {result['p50_ms']:.2f} ms")
    ids = _completed_jobs(urls[0], key, 8)
    for level in (1, 8, 64):
        result = run_load(
            {
                "method": "GET",
                "urls": [f"{u}/v1/videos/{i}" for i in ids for u in urls],
                "headers": auth(key),
                "concurrency": level,
                "requests": 200_000,
                "seconds": seconds,
                "warmup": level * 4,
            },
            servers,
        )
        out["retrieve"].append(result)
        log(f"  retrieve c={level:<3} {result['rps']:.0f} req/s p50 {result['p50_ms']:.2f} ms")
    return out


def _completed_jobs(base: str, key: str, count: int) -> list[str]:
    body = {**SORA_BODY, "model": "sora-2-fast"}
    with httpx.Client(base_url=base, headers=auth(key), timeout=30) as client:
        ids = [client.post("/v1/videos", json=body).json()["id"] for _ in range(count)]
    waited = wait_terminal(base, key, ids, 60)
    if waited["completed"] != count:
        raise RuntimeError(f"retrieve jobs did not complete: {waited}")
    return ids


def _deployment(name: str, sim: Server) -> dict[str, Any]:
    url = f"{sim.url}/v1"
    return {"model_name": name, "provider": "openai", "model": "sora-2", "api_base": url,
            "api_key": SIM_KEY}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    master_key = "sk-vg-bench-" + secrets.token_hex(16)
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vidgate-bench-")))
        sim_c = start_simulator(tmp, SIM_KEY, job_seconds=3600.0, poll_after_ms=NEVER_MS)
        stack.callback(sim_c.stop)
        sim_r = start_simulator(tmp, SIM_KEY, job_seconds=0.3, poll_after_ms=100)
        stack.callback(sim_r.stop)
        config = write_gateway_config(
            tmp / "vidgate.yaml",
            [_deployment("sora-2", sim_c), _deployment("sora-2-fast", sim_r)],
        )
        log("SQLite, one process")
        with cluster(tmp, "sqlite", 1, config, master_key, {}) as replicas:
            results["sqlite-1"] = measure(replicas, master_key, args.quick)
        pg = stack.enter_context(postgres_server())
        redis = stack.enter_context(redis_server())
        for count in (1, 3):
            log(f"PostgreSQL + Redis, {count} replica(s)")
            env = {
                "VIDGATE_DATABASE_URL": pg.create_database(f"bench{count}"),
                "VIDGATE_REDIS_URL": redis.url,
                "VIDGATE_STORAGE_URL": f"file://{tmp / 'blobs'}",
            }
            with cluster(tmp, f"pg{count}", count, config, master_key, env) as replicas:
                results[f"postgres-{count}"] = measure(replicas, master_key, args.quick)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "quick" if args.quick else "full"
    (RESULTS / f"scaleout-{name}.json").write_text(json.dumps(results, indent=1))
    table = render(results)
    print(table)
    if not args.quick:
        _write_readme(table)


def render(results: dict[str, Any]) -> str:
    rows = [
        "| setup | create c=8 req/s (p50 ms) | create c=32 req/s | retrieve c=1 req/s "
        "(p50 ms) | retrieve c=8 req/s | retrieve c=64 req/s |",
        "|---|---|---|---|---|---|",
    ]
    names = {
        "sqlite-1": "SQLite, 1 process",
        "postgres-1": "PostgreSQL + Redis, 1 replica",
        "postgres-3": "PostgreSQL + Redis, 3 replicas",
    }
    for key, label in names.items():
        create, retrieve = results[key]["create"], results[key]["retrieve"]
        rows.append(
            f"| {label} | {create[0]['rps']:.0f} ({create[0]['p50_ms']:.2f}) | "
            f"{create[1]['rps']:.0f} | {retrieve[0]['rps']:.0f} ({retrieve[0]['p50_ms']:.2f}) | "
            f"{retrieve[1]['rps']:.0f} | {retrieve[2]['rps']:.0f} |"
        )
    return "\n".join(rows)


def _write_readme(table: str) -> None:
    text = README.read_text()
    section = (
        f"{BEGIN}\n## Scale-out: PostgreSQL + Redis replicas\n\n"
        "`bench/scaleout.py`: the same create and retrieve loads through one SQLite process, "
        "one replica on PostgreSQL + Redis and three replicas (requests spread over them in "
        "turn), all on this 2-core machine with PostgreSQL, Redis, the simulators and the "
        "load generator. Three replicas share the same two cores, so this shows the cost of "
        "the shared database and counters, not the gain of more machines.\n\n"
        f"{table}\n{END}"
    )
    if BEGIN in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        text = text[:start] + section + text[end:]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    README.write_text(text)


if __name__ == "__main__":
    main()
