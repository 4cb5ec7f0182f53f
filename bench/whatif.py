"""What-if experiments: the gateway with monkeypatches that model a proposed fix.

Not part of ``make bench``. Each patch stands in for a change to ``src/`` so its effect can
be measured before anyone writes it; the patches reach into internals and may need
updating when those change.

    .venv/bin/python bench/whatif.py create   "baseline;writelock;writelock+nowake" [1,8,32]
    .venv/bin/python bench/whatif.py retrieve "baseline;terminalcache" [1,8,32]
    .venv/bin/python bench/whatif.py download "baseline;chunk256k;chunk64k;arena2"

Patches (join with ``+``):

- ``writelock``: one process-wide ``asyncio.Lock`` around every ``JobStore`` write, so
  SQLite writers queue in the event loop instead of in SQLite's busy handler (which sleeps
  up to 100 ms between retries).
- ``nowake``: ``Poller.due_at`` does nothing, i.e. a new job never wakes the poller early.
- ``terminalcache``: ``JobService.get`` remembers completed/failed jobs in a dict (the
  ceiling of a cache of terminal jobs; no invalidation, experiment only).
- ``chunk256k`` / ``chunk64k``: the content response's chunk size (default 1 MiB).
- ``arena2``: ``MALLOC_ARENA_MAX=2`` in the gateway's environment.
- ``mmap``: ``MALLOC_MMAP_THRESHOLD_=131072`` (a fixed threshold, so glibc returns freed
  large buffers to the system instead of raising the threshold and keeping them).
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from servers import PYTHON, RssSampler, Server, free_port, proc_status_kib, spawn, start_simulator

MASTER = "sk-vg-whatif-master"
bench: Any = None  # the run module, imported by main() (not by the gateway process)


def apply(patches: set[str]) -> None:
    """Monkeypatch the gateway in this process (called before ``create_app``)."""
    if "chunk256k" in patches or "chunk64k" in patches:
        import vidgate.api.content as content

        size = 256 * 1024 if "chunk256k" in patches else 64 * 1024
        content._BigChunkFileResponse.chunk_size = size  # type: ignore[attr-defined]
    if "writelock" in patches:
        from vidgate.jobs.store import JobStore

        lock = asyncio.Lock()

        def locked(fn: Any) -> Any:
            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                async with lock:
                    return await fn(*args, **kwargs)

            return wrapper

        for name in ("insert", "update", "claim_due", "claim_one"):
            setattr(JobStore, name, locked(getattr(JobStore, name)))
    if "nowake" in patches:
        from vidgate.jobs.poller import Poller

        Poller.due_at = lambda self, when: None  # type: ignore[method-assign]
    if "terminalcache" in patches:
        from vidgate.jobs.service import JobService

        original = JobService.get
        cache: dict[tuple[str, str], Any] = {}

        async def get(self: Any, principal: Any, job_id: str) -> Any:
            hit = cache.get((principal.key_id, job_id))
            if hit is not None:
                return hit
            job = await original(self, principal, job_id)
            if job.terminal:
                cache[(principal.key_id, job_id)] = job
            return job

        JobService.get = get  # type: ignore[method-assign]


def serve(port: int, data_dir: Path, config: Path) -> None:
    """``vidgate serve`` as the CLI runs it, after applying ``$PATCH``."""
    from vidgate.app import create_app
    from vidgate.server import run_server, server_config
    from vidgate.settings import build_settings

    apply(set(filter(None, os.environ.get("PATCH", "").split("+"))))
    settings = build_settings(port=port, data_dir=data_dir, config_path=config)
    app = create_app(settings)
    run_server(server_config(app, host="127.0.0.1", port=port, settings=settings.config.settings))


class Experiment:
    """Servers for one experiment; the gateway runs this file's ``serve``."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="vidgate-whatif-"))
        self.logs = self.tmp / "logs"
        self.started: list[Server] = []

    def keep(self, server: Server) -> Server:
        self.started.append(server)
        return server

    def gateway(self, variant: str, config: Path) -> Server:
        port = free_port()
        patch = "" if variant == "baseline" else variant
        env = {"VIDGATE_MASTER_KEY": MASTER, "PATCH": patch}
        if "arena2" in patch:
            env["MALLOC_ARENA_MAX"] = "2"
        if "mmap" in patch:  # fixed threshold: big buffers are mmapped and returned on free
            env["MALLOC_MMAP_THRESHOLD_"] = str(128 * 1024)
        argv = [PYTHON, __file__, "serve", str(port), str(self.tmp / f"gw-{port}"), str(config)]
        return self.keep(spawn(f"gateway-{port}", argv, port, self.logs, env=env))

    def requests(self, kind: str, variants: list[str], levels: tuple[int, ...]) -> None:
        sim_c = self.keep(
            start_simulator(
                self.logs, bench.SIM_KEY, job_seconds=3600.0, poll_after_ms=bench.NEVER_MS
            )
        )
        sim_r = self.keep(
            start_simulator(self.logs, bench.SIM_KEY, job_seconds=0.3, poll_after_ms=100)
        )
        config = bench.write_gateway_config(
            self.tmp / "gateway.yaml",
            [bench._openai("sora-2", sim_c), bench._openai("sora-2-fast", sim_r)],
        )
        for variant in variants:
            gw = self.gateway(variant, config)
            key = bench._virtual_key(gw.url, MASTER)
            if kind == "create":
                spec = {"method": "POST", "urls": [f"{gw.url}/v1/videos"], "json": bench.SORA_BODY}
            else:
                body = {**bench.SORA_BODY, "model": "sora-2-fast"}
                ids = bench.create_sequential(gw.url, key, body, 16)
                bench.wait_terminal(gw.url, key, ids, 60)
                spec = {"method": "GET", "urls": [f"{gw.url}/v1/videos/{i}" for i in ids]}
            for level in levels:
                result = bench.run_load(
                    {
                        **spec,
                        "headers": bench.auth(key),
                        "concurrency": level,
                        "requests": 100_000,
                        "seconds": 4,
                        "warmup": level * 2,
                    },
                    {"gateway": gw},
                )
                cpu = result["cpu_ms_per_req"]["gateway"]
                label = f"{kind} [{variant}] c={level}"
                print(f"{label}: {bench.brief(result)}, gateway {cpu:.2f} ms CPU/req")
            gw.stop()

    def download(self, variants: list[str]) -> None:
        path = bench.media.noise_mp4(bench.CACHE / "noise-200MiB.mp4", 200 << 20)
        sim = self.keep(
            start_simulator(
                self.logs, bench.SIM_KEY, content_path=str(path), job_seconds=0.3, poll_after_ms=100
            )
        )
        config = bench.write_gateway_config(
            self.tmp / "gateway.yaml", [bench._openai("sora-2-big", sim)]
        )
        for variant in variants:
            gw = self.gateway(variant, config)
            idle = proc_status_kib(gw.pid, "VmRSS") / 1024
            body = {**bench.SORA_BODY, "model": "sora-2-big"}
            (video_id,) = bench.create_sequential(gw.url, MASTER, body, 1)
            bench.wait_terminal(gw.url, MASTER, [video_id], 120)
            archived = proc_status_kib(gw.pid, "VmRSS") / 1024
            spec = {
                "method": "GET",
                "urls": [f"{gw.url}/v1/videos/{video_id}/content"],
                "headers": bench.auth(MASTER),
                "stream": True,
                "seconds": 120,
                "warmup": 0,
            }
            with RssSampler(gw.pid) as sampler:
                seq = bench.run_load({**spec, "concurrency": 1, "requests": 5})
                conc = bench.run_load({**spec, "concurrency": 4, "requests": 8})
            after = proc_status_kib(gw.pid, "VmRSS") / 1024
            print(
                f"download [{variant}] RSS idle {idle:.0f}, archived {archived:.0f}, peak "
                f"{sampler.peak_mib:.0f}, after {after:.0f} MiB; sequential "
                f"{seq['mib_s']:.0f} MiB/s, 4 concurrent {conc['mib_s']:.0f} MiB/s"
            )
            gw.stop()

    def close(self) -> None:
        for server in self.started:
            server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> None:
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    global bench
    import run as bench  # only here: it loads PyAV (media.py), which would skew the RSS

    kind, variants = sys.argv[1], sys.argv[2].split(";")
    levels = tuple(int(c) for c in (sys.argv[3] if len(sys.argv) > 3 else "1,8,32").split(","))
    experiment = Experiment()
    try:
        if kind == "download":
            experiment.download(variants)
        else:
            experiment.requests(kind, variants, levels)
    finally:
        experiment.close()


if __name__ == "__main__":
    main()
