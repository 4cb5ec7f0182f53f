"""Retrieve and download, pinned: the server under test on one core, the load on the other.

    .venv/bin/python bench/serve_paths.py                 # simulator alone vs the gateway
    .venv/bin/python bench/serve_paths.py --seconds 3 --repeat 2 --levels 1 32
    .venv/bin/python bench/serve_paths.py --server granian  # the gateway under granian

Issue 18 item 5 measures the gateway as users run it on a small box: the server under test
pinned to core 1 (``taskset -c 1``), the load generator (``bench/rawload.py``, or
``bench/load.py`` with ``--client httpx``) pinned to core 0,
and the OpenAI simulator alone, pinned the same way, as the reference. The video is a real
one — a ~1.8 MB, 4 s, 720x1280 H.264 MP4 made once with PyAV (a moving test pattern,
``bench/.cache/pattern-720x1280-4s.mp4``) and served by the simulator as its content; the
gateway serves its own archived copy. For each path (retrieve of completed jobs, download
of the whole video) and concurrency it reports requests/s, MiB/s, the server's CPU per
request (``/proc``) and its peak RSS, and the gateway/simulator ratios. Raw results go to
``bench/results/serve_paths.json``.

``--server granian`` runs the gateway's ASGI app under granian instead of ``vidgate serve``
(uvicorn), for the server comparison in docs/design.md; granian must be installed in the
venv (it is not a dependency).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from servers import (
    BENCH,
    PYTHON,
    VIDGATE,
    RssSampler,
    Server,
    free_port,
    proc_cpu_s,
    proc_status_kib,
    spawn,
    write_gateway_config,
)

CACHE = BENCH / ".cache"
RESULTS = BENCH / "results"
SIM_KEY = "sk-sim-serve"
SERVER_CORE, LOAD_CORE = "1", "0"
BODY = {"model": "sora-2", "prompt": "bench: serve paths", "size": "720x1280", "seconds": "4"}
JOBS = 16


def pattern_mp4(path: Path) -> Path:
    """A 4 s 720x1280 H.264 MP4 of a moving pattern, ~1.8 MB (made once, cached).

    Each plane is a window sliding over a fixed strip of gradient plus grain (no numpy:
    byte slices), so every frame moves and the encoder spends its bit rate."""
    if path.exists():
        return path
    import random

    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    width, height, fps = 720, 1280, 24
    rng = random.Random(18)
    strips = []
    for plane in av.VideoFrame(width, height, "yuv420p").planes:
        size = plane.buffer_size
        row = plane.line_size
        strip = bytes((i % row * 3 + i // row + rng.randrange(40)) % 256 for i in range(2 * size))
        strips.append((size, strip))
    with av.open(str(partial), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 1_900_000
        stream.options = {"preset": "veryfast"}
        for index in range(4 * fps):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane, (size, strip) in zip(frame.planes, strips, strict=True):
                offset = index * 7 * 731 % size
                plane.update(strip[offset : offset + size])
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(partial, path)
    return path


def pinned(core: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", core, *argv]


def start_simulator(logs: Path, video: Path) -> Server:
    port = free_port()
    config = {"content_path": str(video), "job_seconds": 0.2, "poll_after_ms": 100}
    argv = [PYTHON, str(BENCH / "sim_server.py"), "--port", str(port), "--api-key", SIM_KEY]
    argv += ["--config", json.dumps(config)]
    return spawn(f"simulator-{port}", pinned(SERVER_CORE, argv), port, logs, health="/__sim__/log")


def start_gateway(
    tmp: Path,
    sim: Server,
    master_key: str,
    server: str,
    src: Path | None = None,
    app_log_level: str = "info",
) -> Server:
    deployment = {
        "model_name": "sora-2",
        "provider": "openai",
        "model": "sora-2",
        "api_base": f"{sim.url}/v1",
        "api_key": SIM_KEY,
    }
    config = write_gateway_config(tmp / "gateway.yaml", [deployment])
    port = free_port()
    data = tmp / "data"
    env = {"VIDGATE_MASTER_KEY": master_key}
    if src is not None:  # another checkout's vidgate (e.g. before a change), same venv
        env["PYTHONPATH"] = str(src)
    if server == "uvicorn":
        argv = [VIDGATE, "serve", "--data-dir", str(data), "--port", str(port)]
        argv += ["--config", str(config), "--app-log-level", app_log_level]
    else:
        argv = [PYTHON, str(BENCH / "granian_gateway.py"), "--port", str(port)]
        argv += ["--data-dir", str(data), "--config", str(config)]
    name = f"{'gateway' if server == 'uvicorn' else 'granian'}-{port}"
    return spawn(name, pinned(SERVER_CORE, argv), port, tmp / "logs", env=env)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and every process below it (granian's worker is a child)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += proc_cpu_s(current)
        except OSError:
            continue
        todo += children.get(current, [])
    return total


def serving_pid(server: Server) -> int:
    """The process that serves: granian's worker (its one child), else the server itself."""
    kids = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return int(kids[0]) if server.name.startswith("granian") and kids else server.pid


def run_load(
    spec: dict[str, Any], server: Server, client: str, profile: Path | None = None
) -> dict[str, Any]:
    """One measurement by a fresh load generator pinned to the other core (``client``:
    ``raw``, ``bench/rawload.py``, or ``httpx``, ``bench/load.py``); with ``profile``,
    py-spy samples the server meanwhile (collapsed stacks to that file)."""
    spy = None
    if profile is not None:
        argv = [str(Path(PYTHON).parent / "py-spy"), "record", "-p", str(serving_pid(server))]
        argv += ["-f", "raw", "-o", str(profile), "-r", "500", "--nonblocking"]
        spy = subprocess.Popen(pinned(LOAD_CORE, argv), stdout=subprocess.DEVNULL)
    before = tree_cpu_s(server.pid)
    done = subprocess.run(
        pinned(LOAD_CORE, [PYTHON, str(BENCH / ("rawload.py" if client == "raw" else "load.py"))]),
        input=json.dumps(spec).encode(),
        capture_output=True,
        timeout=float(spec["seconds"]) + 120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr.decode()[-3000:]}")
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    result: dict[str, Any] = json.loads(done.stdout)
    result.pop("ids", None)
    spent = tree_cpu_s(server.pid) - before
    result["cpu_ms_per_req"] = spent * 1000 / max(result["requests"], 1)
    if result["requests"] != result["ok"] or result["errors"]:
        raise RuntimeError(f"failed requests: {result['statuses']} {result['errors']}")
    return result


def completed_jobs(base: str, key: str, count: int) -> list[str]:
    """``count`` jobs created and waited for until completed (bounded)."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        ids = []
        for _ in range(count):
            reply = client.post("/v1/videos", json=BODY)
            reply.raise_for_status()
            ids.append(str(reply.json()["id"]))
        deadline = time.monotonic() + 120
        pending = set(ids)
        while pending and time.monotonic() < deadline:
            for video_id in list(pending):
                status = client.get(f"/v1/videos/{video_id}").json()["status"]
                if status == "completed":
                    pending.discard(video_id)
                elif status == "failed":
                    raise RuntimeError(f"{video_id} failed")
            time.sleep(0.1)
        if pending:
            raise RuntimeError(f"{len(pending)} jobs did not complete")
    return ids


def measure(server: Server, key: str, ids: list[str], args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    out: dict[str, Any] = {}
    with RssSampler(serving_pid(server)) as sampler:
        for path in ("retrieve", "download"):
            suffix = "" if path == "retrieve" else "/content"
            urls = [f"{server.url}/v1/videos/{i}{suffix}" for i in ids]
            for level in args.levels:
                runs = []
                for _ in range(args.repeat):
                    spec = {
                        "method": "GET",
                        "urls": urls,
                        "headers": headers,
                        "concurrency": level,
                        "requests": 1_000_000,
                        "seconds": args.seconds,
                        "warmup": level * 4,
                        "stream": path == "download",
                    }
                    profile = None
                    if args.profile and not server.name.startswith("simulator"):
                        profile = args.profile / f"{path}-c{level}.txt"
                    runs.append(run_load(spec, server, args.client, profile))
                out[f"{path}-c{level}"] = runs
                print(f"  {server.name} {path} c={level}: {_brief(runs)}", flush=True)
    out["rss_peak_mib"] = sampler.peak_mib
    out["hwm_mib"] = proc_status_kib(serving_pid(server), "VmHWM") / 1024
    return out


def _brief(runs: list[dict[str, Any]]) -> str:
    rps = ", ".join(f"{r['rps']:.0f}" for r in runs)
    mib = ", ".join(f"{r['mib_s']:.0f}" for r in runs)
    cpu = ", ".join(f"{r['cpu_ms_per_req']:.3f}" for r in runs)
    return f"req/s {rps} | MiB/s {mib} | CPU ms/req {cpu}"


def virtual_key(base: str, master_key: str) -> str:
    headers = {"Authorization": f"Bearer {master_key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        reply = client.post("/key/generate", json={"key_alias": "serve-paths"})
        reply.raise_for_status()
        return str(reply.json()["key"])


def table(results: dict[str, Any], levels: list[int]) -> str:
    lines = [
        "| path | conc. | simulator | gateway | ratio | CPU ms/req sim / gateway |",
        "|---|---|---|---|---|---|",
    ]
    for path, unit, field in (("retrieve", "req/s", "rps"), ("download", "MiB/s", "mib_s")):
        for level in levels:
            name = f"{path}-c{level}"
            sim = [r[field] for r in results["simulator"][name]]
            gw = [r[field] for r in results["gateway"][name]]
            cpu_s = [r["cpu_ms_per_req"] for r in results["simulator"][name]]
            cpu_g = [r["cpu_ms_per_req"] for r in results["gateway"][name]]
            ratio = (sum(gw) / len(gw)) / max(sum(sim) / len(sim), 1e-9)
            lines.append(
                f"| {path} | {level} | {_range(sim)} {unit} | {_range(gw)} {unit} | "
                f"{ratio:.2f}x | {_range(cpu_s, 3)} / {_range(cpu_g, 3)} |"
            )
    lines.append(
        f"\nPeak RSS: simulator {results['simulator']['rss_peak_mib']:.0f} MiB, gateway "
        f"{results['gateway']['rss_peak_mib']:.0f} MiB (VmHWM {results['gateway']['hwm_mib']:.0f})"
    )
    return "\n".join(lines)


def _range(values: list[float], digits: int = 0) -> str:
    low, high = min(values), max(values)
    if f"{low:.{digits}f}" == f"{high:.{digits}f}":
        return f"{low:,.{digits}f}"
    return f"{low:,.{digits}f}-{high:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    parser.add_argument("--repeat", type=int, default=2, help="measurements per cell")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: bench/rawload.py (~25 us a request) or bench/load.py (httpx)",
    )
    parser.add_argument("--profile", type=Path, help="py-spy the gateway: stacks to this dir")
    parser.add_argument(
        "--gateway-src", type=Path, help="run the gateway from this src/ (a git worktree)"
    )
    parser.add_argument(
        "--app-log-level", default="info", help="vidgate serve's (info logs every request)"
    )
    parser.add_argument("--only", choices=("simulator", "gateway"), default=None)
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    video = pattern_mp4(CACHE / "pattern-720x1280-4s.mp4")
    print(f"video {video.name}: {video.stat().st_size / 1e6:.2f} MB", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="vidgate-serve-"))
    master_key = "sk-vg-bench-" + secrets.token_hex(16)
    results: dict[str, Any] = {"server": args.server, "video_bytes": video.stat().st_size}
    started: list[Server] = []
    try:
        sim = start_simulator(tmp / "logs", video)
        started.append(sim)
        if args.only != "gateway":
            sim_ids = completed_jobs(sim.url, SIM_KEY, JOBS)
            results["simulator"] = measure(sim, SIM_KEY, sim_ids, args)
        if args.only != "simulator":
            gateway = start_gateway(
                tmp, sim, master_key, args.server, args.gateway_src, args.app_log_level
            )
            started.append(gateway)
            key = virtual_key(gateway.url, master_key)
            ids = completed_jobs(gateway.url, key, JOBS)
            results["gateway"] = measure(gateway, key, ids, args)
    finally:
        for server in started:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_paths.json").write_text(json.dumps(results, indent=1))
    if "simulator" in results and "gateway" in results:
        print("\n" + table(results, args.levels))


if __name__ == "__main__":
    main()
