"""vidgate benchmarks: start-up, create, retrieve and content download, gateway vs baselines.

    .venv/bin/python bench/run.py            # full run (~2.5 min), rewrites bench/README.md
    .venv/bin/python bench/run.py --quick    # smoke run (~40 s), prints the tables only

Gateway, simulators, static-file servers and the load generator (bench/load.py) are each
their own process on 127.0.0.1; they all share the machine's cores. Raw results go to
bench/results/<full|quick>.json, server logs to a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import report
from servers import (
    BENCH,
    PYTHON,
    RssSampler,
    Server,
    proc_status_kib,
    start_gateway,
    start_http_server,
    start_simulator,
    start_starlette_static,
    write_gateway_config,
)

import media

CACHE = BENCH / ".cache"
RESULTS = BENCH / "results"
SIM_KEY = "sk-sim-bench"
NEVER_MS = 3_600_000  # upstream poll hint for jobs that must not be polled during the run
LEVELS = (1, 8, 32, 64)
SORA_BODY = {"model": "sora-2", "prompt": "bench: a red fox", "size": "1280x720", "seconds": "4"}
LOCAL_BODY = {"model": "local/preview", "prompt": "bench", "size": "320x180", "seconds": "1"}


@dataclass(frozen=True)
class Plan:
    """How much of everything to do; ``--quick`` shrinks it."""

    name: str
    levels: tuple[int, ...] = LEVELS
    startup_runs: int = 3
    create_s: float = 3.0
    retrieve_s: float = 4.0
    local_burst: dict[int, int] = field(default_factory=lambda: {1: 24, 8: 48, 32: 64, 64: 128})
    retrieve_jobs: int = 16
    sizes_mib: tuple[int, ...] = (50, 200)
    sequential_downloads: int = 20
    concurrent_downloads: int = 12
    download_concurrency: int = 4


FULL = Plan("full")
QUICK = Plan(
    "quick",
    levels=(1, 8, 64),
    startup_runs=1,
    create_s=0.75,
    retrieve_s=0.75,
    local_burst={1: 4, 8: 16, 64: 48},
    retrieve_jobs=4,
    sizes_mib=(50,),
    sequential_downloads=3,
    concurrent_downloads=4,
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_load(spec: dict[str, Any], servers: dict[str, Server] | None = None) -> dict[str, Any]:
    """One measurement in a fresh load-generator process; adds server CPU per request."""
    servers = servers or {}
    before = {name: s.cpu_s() for name, s in servers.items()}
    bound = float(spec.get("seconds", 10)) + 120
    done = subprocess.run(
        [PYTHON, str(BENCH / "load.py")],
        input=json.dumps(spec).encode(),
        capture_output=True,
        timeout=bound,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    n = max(result["requests"], 1)
    result["cpu_ms_per_req"] = {
        name: (s.cpu_s() - before[name]) * 1000 / n for name, s in servers.items()
    }
    bad = result["requests"] - result["ok"]
    if bad or result["errors"]:
        log(f"  ! {bad} non-2xx {result['statuses']} errors {result['errors']}")
    return result


def brief(result: dict[str, Any]) -> str:
    return (
        f"n={result['requests']} {result['rps']:.0f} req/s p50={result['p50_ms']:.2f} ms "
        f"p99={result['p99_ms']:.2f} ms"
    )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_terminal(base: str, key: str, ids: list[str], timeout_s: float) -> dict[str, Any]:
    """Poll until every id is completed or failed (bounded); counts and elapsed seconds."""
    began = time.perf_counter()
    pending, completed, failed = list(ids), 0, 0
    with httpx.Client(base_url=base, headers=auth(key), timeout=30) as client:
        while pending and time.perf_counter() - began < timeout_s:
            still = []
            for video_id in pending:
                status = client.get(f"/v1/videos/{video_id}").json().get("status")
                if status == "completed":
                    completed += 1
                elif status == "failed":
                    failed += 1
                else:
                    still.append(video_id)
            pending = still
            if pending:
                time.sleep(0.1)
    return {
        "completed": completed,
        "failed": failed,
        "pending": len(pending),
        "elapsed_s": time.perf_counter() - began,
    }


def create_sequential(base: str, key: str, body: dict[str, Any], count: int) -> list[str]:
    with httpx.Client(base_url=base, headers=auth(key), timeout=60) as client:
        replies = [client.post("/v1/videos", json=body) for _ in range(count)]
    for reply in replies:
        reply.raise_for_status()
    return [str(reply.json()["id"]) for reply in replies]


@dataclass
class Bench:
    """One benchmark run: its plan, scratch space, servers and results."""

    plan: Plan
    tmp: Path
    master_key: str = field(default_factory=lambda: "sk-vg-bench-" + secrets.token_hex(16))
    results: dict[str, Any] = field(default_factory=dict)
    started: list[Server] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.tmp / "logs"

    @contextmanager
    def server(self, start: Callable[..., Server], *args: Any, **kwargs: Any) -> Iterator[Server]:
        server = start(*args, **kwargs)
        self.started.append(server)
        try:
            yield server
        finally:
            server.stop()

    def gateway_config(self, name: str, model_list: list[dict[str, Any]]) -> Path:
        return write_gateway_config(self.tmp / f"{name}.yaml", model_list)

    # --- 4. start-up --------------------------------------------------------------------

    def startup(self, config: Path) -> None:
        log("start-up: spawn -> first 200 from GET /health")
        cold, warm = [], []
        for run in range(self.plan.startup_runs):
            data = self.tmp / f"startup-{run}"
            for bucket in (cold, warm):  # fresh data dir (migrations), then the same dir again
                gateway = start_gateway(data, config, self.master_key, self.logs)
                bucket.append(gateway.startup_s)
                rss = proc_status_kib(gateway.pid, "VmRSS") / 1024
                gateway.stop()
        self.results["startup"] = {"cold_s": cold, "warm_s": warm, "idle_rss_mib": rss}
        log(f"  cold {_fmt_list(cold)} s, warm {_fmt_list(warm)} s, idle RSS {rss:.0f} MiB")

    # --- 1. create ----------------------------------------------------------------------

    def create_upstream(self, gateway: Server, sim: Server, key: str) -> None:
        log("create: gateway -> openai simulator vs directly on the simulator")
        rows: dict[str, list[dict[str, Any]]] = {"direct": [], "gateway": []}
        for level in self.plan.levels:
            common = {
                "method": "POST",
                "json": SORA_BODY,
                "concurrency": level,
                "requests": 20_000,
                "seconds": self.plan.create_s,
                "warmup": level,
            }
            direct = run_load(
                {
                    **common,
                    "urls": [f"{sim.url}/v1/videos"],
                    "headers": auth(SIM_KEY),
                    "idempotency": True,  # the gateway sends one upstream, so match it
                },
                {"simulator": sim},
            )
            via = run_load(
                {**common, "urls": [f"{gateway.url}/v1/videos"], "headers": auth(key)},
                {"gateway": gateway, "simulator": sim},
            )
            rows["direct"].append(direct)
            rows["gateway"].append(via)
            log(f"  c={level:<3} direct {brief(direct)} | gateway {brief(via)}")
        self.results["create_upstream"] = rows

    def create_local(self, gateway: Server, key: str) -> None:
        log("create: gateway local renderer (bursts, then wait for the renders to drain)")
        rows = []
        for level in self.plan.levels:
            burst = self.plan.local_burst.get(level, level * 2)
            result = run_load(
                {
                    "method": "POST",
                    "urls": [f"{gateway.url}/v1/videos"],
                    "headers": auth(key),
                    "json": LOCAL_BODY,
                    "concurrency": level,
                    "requests": burst,
                    "seconds": 60,
                    "warmup": 1,
                    "collect_ids": True,
                },
                {"gateway": gateway},
            )
            drain = wait_terminal(gateway.url, key, result.pop("ids"), 240)
            result["drain"] = drain
            rows.append(result)
            log(
                f"  c={level:<3} burst {brief(result)} | all {drain['completed']} completed "
                f"after {drain['elapsed_s']:.1f} s more ({drain['failed']} failed, "
                f"{drain['pending']} pending)"
            )
        self.results["create_local"] = rows

    # --- 2. retrieve --------------------------------------------------------------------

    def retrieve(self, gateway: Server, sim: Server, key: str) -> None:
        count = self.plan.retrieve_jobs
        log(f"retrieve: {count} completed jobs, gateway vs simulator")
        body = {**SORA_BODY, "model": "sora-2-fast"}
        gateway_ids = create_sequential(gateway.url, key, body, count)
        waited = wait_terminal(gateway.url, key, gateway_ids, 60)
        if waited["completed"] != count:
            raise RuntimeError(f"gateway jobs did not complete: {waited}")
        sim_ids = create_sequential(sim.url, SIM_KEY, SORA_BODY, count)
        time.sleep(0.5)
        waited = wait_terminal(sim.url, SIM_KEY, sim_ids, 30)
        if waited["completed"] != count:
            raise RuntimeError(f"simulator jobs did not complete: {waited}")
        rows: dict[str, list[dict[str, Any]]] = {"direct": [], "gateway": []}
        for level in self.plan.levels:
            common = {
                "method": "GET",
                "concurrency": level,
                "requests": 200_000,
                "seconds": self.plan.retrieve_s,
                "warmup": level * 4,
            }
            direct = run_load(
                {
                    **common,
                    "urls": [f"{sim.url}/v1/videos/{i}" for i in sim_ids],
                    "headers": auth(SIM_KEY),
                },
                {"simulator": sim},
            )
            via = run_load(
                {
                    **common,
                    "urls": [f"{gateway.url}/v1/videos/{i}" for i in gateway_ids],
                    "headers": auth(key),
                },
                {"gateway": gateway},
            )
            rows["direct"].append(direct)
            rows["gateway"].append(via)
            log(f"  c={level:<3} direct {brief(direct)} | gateway {brief(via)}")
        self.results["retrieve"] = rows

    # --- 3. content download ------------------------------------------------------------

    def downloads(self) -> None:
        (CACHE / "ping.txt").parent.mkdir(parents=True, exist_ok=True)
        (CACHE / "ping.txt").write_text("ok\n")
        rows = []
        for size in self.plan.sizes_mib:
            log(f"content: {size} MiB video")
            path = media.noise_mp4(CACHE / f"noise-{size}MiB.mp4", size << 20)
            rows.append(self._download_size(path, size))
        self.results["downloads"] = rows

    def _download_size(self, path: Path, size: int) -> dict[str, Any]:
        out: dict[str, Any] = {"size_mib": size, "file_bytes": path.stat().st_size}
        sim_config = {"content_path": str(path), "job_seconds": 0.3, "poll_after_ms": 100}
        with self.server(start_simulator, self.logs, SIM_KEY, **sim_config) as sim:
            deployment = {
                "model_name": "sora-2-big",
                "provider": "openai",
                "model": "sora-2",
                "api_base": f"{sim.url}/v1",
                "api_key": SIM_KEY,
            }
            config = self.gateway_config(f"download-{size}", [deployment])
            data = self.tmp / f"gateway-download-{size}"
            with self.server(start_gateway, data, config, self.master_key, self.logs) as gw:
                out["gateway"] = self._gateway_downloads(gw, path)
        with self.server(start_http_server, CACHE, self.logs, "/ping.txt") as plain:
            out["http.server"] = self._plain_downloads(plain, path)
        with self.server(start_starlette_static, CACHE, self.logs, "/ping.txt") as static:
            out["starlette"] = self._plain_downloads(static, path)
        return out

    def _gateway_downloads(self, gw: Server, path: Path) -> dict[str, Any]:
        rss_idle = proc_status_kib(gw.pid, "VmRSS") / 1024
        began = time.perf_counter()
        (video_id,) = create_sequential(
            gw.url, self.master_key, {**SORA_BODY, "model": "sora-2-big"}, 1
        )
        waited = wait_terminal(gw.url, self.master_key, [video_id], 180)
        if waited["completed"] != 1:
            raise RuntimeError(f"the big job did not complete: {waited}")
        archive_s = time.perf_counter() - began
        url = f"{gw.url}/v1/videos/{video_id}/content"
        out = self._download_runs(gw, url, path, auth(self.master_key))
        out |= {"archive_s": archive_s, "rss_idle_mib": rss_idle}
        return out

    def _plain_downloads(self, server: Server, path: Path) -> dict[str, Any]:
        return self._download_runs(server, f"{server.url}/{path.name}", path, {})

    def _download_runs(
        self, server: Server, url: str, path: Path, headers: dict[str, str]
    ) -> dict[str, Any]:
        plan = self.plan
        common = {"method": "GET", "urls": [url], "headers": headers, "stream": True}
        common |= {"seconds": 120, "warmup": 0, "timeout": 120}
        rss_before = proc_status_kib(server.pid, "VmRSS") / 1024
        hwm_before = proc_status_kib(server.pid, "VmHWM") / 1024
        with RssSampler(server.pid) as sampler:
            sequential = run_load(
                {**common, "concurrency": 1, "requests": plan.sequential_downloads},
                {server.name: server},
            )
            concurrent = run_load(
                {
                    **common,
                    "concurrency": plan.download_concurrency,
                    "requests": plan.concurrent_downloads,
                },
                {server.name: server},
            )
        expected = path.stat().st_size
        for run, count in (
            (sequential, plan.sequential_downloads),
            (concurrent, plan.concurrent_downloads),
        ):
            if run["bytes"] != expected * count:
                raise RuntimeError(f"{url}: got {run['bytes']} bytes, expected {expected * count}")
        out = {
            "sequential": sequential,
            "concurrent": concurrent,
            "rss_before_mib": rss_before,
            "rss_peak_mib": sampler.peak_mib,
            "rss_after_mib": proc_status_kib(server.pid, "VmRSS") / 1024,
            "hwm_before_mib": hwm_before,
            "hwm_after_mib": proc_status_kib(server.pid, "VmHWM") / 1024,
            "rss_samples": len(sampler.samples),
        }
        log(
            f"  {server.name}: sequential {sequential['mib_s']:.0f} MiB/s, "
            f"{plan.download_concurrency} concurrent {concurrent['mib_s']:.0f} MiB/s, RSS "
            f"{rss_before:.0f} -> peak {sampler.peak_mib:.0f} -> {out['rss_after_mib']:.0f} MiB"
        )
        return out

    # --- the whole run ------------------------------------------------------------------

    def run(self) -> None:
        sims = {
            "create": {"job_seconds": 3600.0, "poll_after_ms": NEVER_MS},
            "retrieve": {"job_seconds": 0.3, "poll_after_ms": 100},
        }
        with (
            self.server(start_simulator, self.logs, SIM_KEY, **sims["create"]) as sim_c,
            self.server(start_simulator, self.logs, SIM_KEY, **sims["retrieve"]) as sim_r,
        ):
            config = self.gateway_config(
                "main",
                [
                    {"model_name": "local/preview", "provider": "local", "model": "preview"},
                    _openai("sora-2", sim_c),
                    _openai("sora-2-fast", sim_r),
                ],
            )
            self.startup(config)
            data = self.tmp / "gateway-main"
            with self.server(start_gateway, data, config, self.master_key, self.logs) as gw:
                key = _virtual_key(gw.url, self.master_key)
                self.create_upstream(gw, sim_c, key)
                self.retrieve(gw, sim_r, key)
                self.create_local(gw, key)
                self.results["main_gateway_rss_mib"] = proc_status_kib(gw.pid, "VmRSS") / 1024
        self.downloads()


def _openai(name: str, sim: Server) -> dict[str, Any]:
    return {
        "model_name": name,
        "provider": "openai",
        "model": "sora-2",
        "api_base": f"{sim.url}/v1",
        "api_key": SIM_KEY,
    }


def _virtual_key(base: str, master_key: str) -> str:
    with httpx.Client(base_url=base, headers=auth(master_key), timeout=30) as client:
        reply = client.post("/key/generate", json={"key_alias": "bench"})
        reply.raise_for_status()
        return str(reply.json()["key"])


def _fmt_list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run (< 1 min)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite README.md")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    tmp = Path(tempfile.mkdtemp(prefix="vidgate-bench-"))
    bench = Bench(plan, tmp)
    began = time.perf_counter()
    log(f"vidgate bench ({plan.name}); scratch {tmp}")
    try:
        bench.run()
    finally:
        for server in bench.started:
            server.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    results = {
        "plan": plan.name,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "duration_s": time.perf_counter() - began,
        **bench.results,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{plan.name}.json").write_text(json.dumps(results, indent=1))
    tables = report.render(results)
    print("\n" + tables)
    if not args.quick and not args.no_readme:
        report.write_readme(BENCH / "README.md", tables)
        log("wrote bench/README.md")
    log(f"done in {results['duration_s']:.0f} s")


if __name__ == "__main__":
    main()
