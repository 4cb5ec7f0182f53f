"""The sustained mixed workload: the benchmark that counts (issue 18, item 1).

    .venv/bin/python bench/mixed.py                 # full: 60 s of load per target, pinned
                                                    # and unpinned (~25 min with LiteLLM)
    .venv/bin/python bench/mixed.py --quick         # 20 s of load per target
    .venv/bin/python bench/mixed.py --gateway-src /tmp/base/src --readme

Measured as users run a video gateway: an OpenAI Videos upstream (the simulator, its own
process) whose jobs complete within seconds and serve real MP4s (``bench/media.py``: a 4 s
720x1280 clip of ~1.8 MB and a 12 s 1920x1080 one of ~12 MB), and clients that create at a
fixed rate (open loop), poll every ``--poll-ms`` until ``completed`` and download the video
once (``bench/mixed_load.py``). The gateway's poller and archiver work throughout.

The same workload runs against each target: the simulator alone (the floor), LiteLLM's
proxy (its own venv, ``bench/peers.py``), vidgate from another checkout (``--gateway-src``,
"before") and vidgate from this one. Each target runs with its server pinned to core 1
(``taskset -c 1``; simulators and load generator on core 0) and unpinned. Where the
simulators serve a gateway they run ``nice -n 10``: on core 0 they share the CPU with the
load generator, and a 12 MB download served to the archiver must not delay the client's
own clock (the load generator also reports its loop's stalls, ``client_stalls``, and its
slowest requests with their ``x-request-id``, to match with the server's access log).

Per target, in order (servers fresh for each target):

1. *setup*: a few jobs of each kind are created and followed to ``completed``;
2. *quiet*: the server's CPU rate with no requests (its timers);
3. *single-path*: creates (to a model whose jobs never complete), retrieves of completed
   jobs and downloads of each kind, each a closed loop at concurrency 1 (``bench/load.py``):
   CPU per request of each path, to split the per-job CPU;
4. *idle*: the workload's request mix at the same rates with no background work (creates
   that never complete, polls and downloads of completed jobs): p50/p99 "idle";
5. *busy*: the workload itself; CPU of the server **and its children** (the gateway's
   media workers archive) from the first create until the last job is downloaded, divided
   by the jobs completed, and p50/p99 "busy".

CPU is user + system time from ``/proc`` of the server's whole process tree (live
processes' own and reaped children's time). Peak RSS: the server's ``VmHWM``, the largest
child ``VmHWM`` and the tree's largest summed ``VmRSS`` (sampled every 0.25 s).

Raw results: ``bench/results/mixed-<name>.json``; the tables are printed and, with
``--readme``, written between ``<!-- mixed:begin -->`` and ``<!-- mixed:end -->`` in
``bench/README.md``. Everything runs on 127.0.0.1 with free ports and a scratch directory
in /tmp; every process started is stopped at the end, on errors and on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import mixed_report
import peers
from servers import BENCH, PYTHON, VIDGATE, Server, free_port, spawn, write_gateway_config

import media

CACHE = BENCH / ".cache"
RESULTS = BENCH / "results"
README = BENCH / "README.md"
SIM_KEY = "sk-sim-bench"
NEVER_S = 7 * 24 * 3600.0
NEVER_MS = 3_600_000
PROMPT = "bench: a red fox running through fresh snow at dawn"
START_TIMEOUT_S = 60.0
SIM_NICE = 10
"""The simulators' nice value when they stand upstream of a gateway (see the docstring)."""
LITELLM_START_TIMEOUT_S = 240.0
SETUP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Clip:
    """One kind of job in the mix and the file the simulator serves for it."""

    name: str
    model: str
    size: str
    seconds: int
    bit_rate: int

    @property
    def path(self) -> Path:
        return CACHE / f"clip-{self.size}-{self.seconds}s.mp4"

    def make(self) -> Path:
        width, height = (int(n) for n in self.size.split("x"))
        return media.clip_mp4(self.path, width, height, self.seconds, self.bit_rate)

    def body(self, model: str | None = None) -> dict[str, Any]:
        return {
            "model": model or self.model,
            "prompt": PROMPT,
            "size": self.size,
            "seconds": str(self.seconds),
        }


CLIPS = {
    "4s-720p": Clip("4s-720p", "sora-2", "720x1280", 4, 3_600_000),
    "12s-1080p": Clip("12s-1080p", "sora-2-pro", "1920x1080", 12, 8_000_000),
}
IDLE_MODEL = "sora-2-idle"


@dataclass(frozen=True)
class Plan:
    """How long and how hard; ``--quick`` shortens the phases."""

    name: str
    busy_s: float
    idle_s: float
    single_s: float
    rate: float
    poll_ms: int
    job_seconds: float
    mix: dict[str, int]
    pool_per_kind: int = 3
    job_timeout_s: float = 120.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- /proc: CPU and memory of a process tree --------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry))[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def tree_pids(root: int) -> list[int]:
    """``root`` and its live descendants."""
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_cpu_s(root: int) -> float:
    """User + system CPU of ``root``'s tree: each live process's own time plus the time of
    its children already reaped (``cutime``/``cstime``), so no exited worker is lost."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in tree_pids(root):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total / tick


def status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class TreeWatch:
    """Samples a server's process tree every ``interval_s`` in a thread: the tree's summed
    RSS, each child's peak (``VmHWM``), and every process seen, by pid and start time (to
    stop leftovers, never a reused pid)."""

    root: int
    interval_s: float = 0.25
    peak_tree_kib: int = 0
    child_hwm_kib: dict[int, int] = field(default_factory=dict)
    seen: dict[int, str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeWatch:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def sample(self) -> None:
        pids = tree_pids(self.root)
        for pid in pids:
            self.seen.setdefault(pid, start_time(pid))
        total = 0
        for pid in pids:
            total += status_kib(pid, "VmRSS")
            if pid != self.root:
                hwm = status_kib(pid, "VmHWM")
                self.child_hwm_kib[pid] = max(self.child_hwm_kib.get(pid, 0), hwm)
        self.peak_tree_kib = max(self.peak_tree_kib, total)

    def memory(self) -> dict[str, float]:
        self.sample()
        return {
            "server_hwm_mib": status_kib(self.root, "VmHWM") / 1024,
            "server_rss_mib": status_kib(self.root, "VmRSS") / 1024,
            "children_max_hwm_mib": max(self.child_hwm_kib.values(), default=0) / 1024,
            "children": len(self.child_hwm_kib),
            "tree_peak_rss_mib": self.peak_tree_kib / 1024,
        }


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' once it is gone)."""
    try:
        return _stat_fields(pid)[19]
    except (OSError, IndexError):
        return ""


def stop_tree(server: Server, seen: dict[int, str]) -> None:
    """Stop ``server``, then any process of its tree that outlived it (the same process:
    pid and start time both match)."""
    server.stop()
    for pid, started in seen.items():
        if pid != server.pid and started and start_time(pid) == started:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


# --- load generators -------------------------------------------------------------------


def _taskset(core: int | None) -> list[str]:
    return ["taskset", "-c", str(core)] if core is not None else []


def run_single(spec: dict[str, Any], root: int, core: int | None) -> dict[str, Any]:
    """One closed-loop measurement with ``bench/load.py``; adds tree CPU ms per request."""
    before = tree_cpu_s(root)
    bound = float(spec.get("seconds", 10)) + 120
    done = subprocess.run(
        [*_taskset(core), PYTHON, str(BENCH / "load.py")],
        input=json.dumps(spec).encode(),
        capture_output=True,
        timeout=bound,
        check=False,
    )
    cpu = tree_cpu_s(root) - before
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    result.pop("ids", None)
    served = result["requests"] + int(spec.get("warmup", 0))  # warm-up requests cost too
    result["cpu_ms_per_req"] = cpu * 1000 / max(served, 1)
    return result


class LoadProcess:
    """``bench/mixed_load.py`` in its own process, driven by its line protocol."""

    def __init__(self, spec: dict[str, Any], core: int | None) -> None:
        self.proc = subprocess.Popen(
            [*_taskset(core), PYTHON, str(BENCH / "mixed_load.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def expect(self, word: str, timeout_s: float) -> str:
        try:
            line = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise RuntimeError(f"load generator: no '{word}' within {timeout_s:.0f} s") from None
        if line is None:
            raise RuntimeError(f"load generator exited ({self.proc.wait(5)}) before '{word}'")
        if word != "json" and line != word:
            raise RuntimeError(f"load generator said {line[:200]!r}, expected {word!r}")
        return line

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def run_mixed(spec: dict[str, Any], root: int, core: int | None, bound_s: float) -> dict[str, Any]:
    """One mixed phase; adds the tree's CPU from the first create to the last job."""
    load = LoadProcess(spec, core)
    try:
        load.expect("ready", 60)
        before = tree_cpu_s(root)
        load.go()
        load.expect("done", bound_s)
        cpu = tree_cpu_s(root) - before
        result: dict[str, Any] = json.loads(load.expect("json", 60))
        load.proc.wait(30)
    finally:
        load.close()
    result["cpu_s"] = cpu
    return result


# --- targets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One column: what serves the API."""

    key: str
    kind: str  # "simulator" | "litellm" | "vidgate"
    label: str
    src: Path | None = None


def git_label(repo: Path) -> str:
    """Short commit of ``repo``, ``+dirty`` when its ``src`` has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--", "src") else "")


def vidgate_module_path(src: Path | None) -> str:
    env = {**os.environ, **({"PYTHONPATH": str(src)} if src else {})}
    code = "import vidgate; print(vidgate.__file__)"
    done = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True)
    return done.stdout.strip()


@dataclass
class Env:
    """The servers of one (target, pinning) run."""

    tmp: Path
    core_server: int | None
    core_rest: int | None
    stack: ExitStack
    master_key: str = field(default_factory=lambda: "sk-vg-bench-" + secrets.token_hex(16))
    watches: dict[int, TreeWatch] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], *, core: int | None, **kw: Any) -> Server:
        port = free_port()
        argv = [*_taskset(core), *[a.replace("{port}", str(port)) for a in argv]]
        server = spawn(f"{name}-{port}", argv, port, self.tmp / "logs", **kw)
        watch = TreeWatch(server.pid).start()
        self.stack.callback(stop_tree, server, watch.seen)
        self.stack.callback(watch.stop)
        self.watches[server.pid] = watch
        return server

    def simulator(self, name: str, core: int | None, nice: int, **config: Any) -> Server:
        argv = ["nice", "-n", str(nice)] if nice else []
        argv += [PYTHON, str(BENCH / "sim_server.py"), "--port", "{port}", "--api-key", SIM_KEY]
        argv += ["--config", json.dumps(config)]
        return self.start(name, argv, core=core, health="/__sim__/log")


def gateway_config(path: Path, busy: Server, idle: Server) -> Path:
    def deployment(name: str, model: str, sim: Server) -> dict[str, Any]:
        return {
            "model_name": name,
            "provider": "openai",
            "model": model,
            "api_base": f"{sim.url}/v1",
            "api_key": SIM_KEY,
        }

    models = [deployment(c.model, c.model, busy) for c in CLIPS.values()]
    models.append(deployment(IDLE_MODEL, "sora-2", idle))
    return write_gateway_config(path, models)


def litellm_config(path: Path, busy: Server, idle: Server) -> Path:
    def deployment(name: str, model: str, sim: Server) -> dict[str, Any]:
        params = {"model": f"openai/{model}", "api_base": f"{sim.url}/v1", "api_key": SIM_KEY}
        return {"model_name": name, "litellm_params": params}

    models = [deployment(c.model, c.model, busy) for c in CLIPS.values()]
    models.append(deployment(IDLE_MODEL, "sora-2", idle))
    config = {
        "model_list": models,
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }
    return write_gateway_config(path, **config)


@dataclass
class Front:
    """How the clients reach one target: base URL, credential, model names."""

    server: Server
    base: str
    key: str
    idle_model: str | None  # None: creates of the idle phase go to the busy models
    idempotency: bool = False

    def create_url(self) -> str:
        return f"{self.base}/v1/videos"


def start_target(target: Target, env: Env, busy: Server, idle: Server) -> Front:
    if target.kind == "simulator":
        return Front(busy, busy.url, SIM_KEY, None, idempotency=True)
    if target.kind == "litellm":
        config = litellm_config(env.tmp / "litellm.yaml", busy, idle)
        argv = [str(peers.litellm_bin()), "--config", str(config), "--host", "127.0.0.1"]
        argv += ["--port", "{port}"]
        key = "sk-litellm-bench-" + secrets.token_hex(16)
        server = env.start(
            "litellm",
            argv,
            core=env.core_server,
            env={"LITELLM_MASTER_KEY": key, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
            health="/health/liveliness",
            timeout_s=LITELLM_START_TIMEOUT_S,
        )
        return Front(server, server.url, key, IDLE_MODEL)
    config = gateway_config(env.tmp / f"{target.key}.yaml", busy, idle)
    data = env.tmp / f"data-{target.key}"
    argv = [VIDGATE, "serve", "--data-dir", str(data), "--port", "{port}", "--config", str(config)]
    extra = {"VIDGATE_MASTER_KEY": env.master_key}
    if target.src is not None:
        extra["PYTHONPATH"] = str(target.src)
    server = env.start(
        f"vidgate-{target.key}", argv, core=env.core_server, env=extra, timeout_s=START_TIMEOUT_S
    )
    return Front(server, server.url, virtual_key(server.url, env.master_key), IDLE_MODEL)


def virtual_key(base: str, master_key: str) -> str:
    with httpx.Client(base_url=base, headers=auth(master_key), timeout=30) as client:
        reply = client.post("/key/generate", json={"key_alias": "bench-mixed"})
        reply.raise_for_status()
        return str(reply.json()["key"])


# --- one (target, pinning) run ---------------------------------------------------------


@dataclass
class Run:
    plan: Plan
    target: Target
    front: Front
    core_load: int | None
    sizes: dict[str, int]

    @property
    def root(self) -> int:
        return self.front.server.pid

    def kinds(self, idle: bool = False) -> list[dict[str, Any]]:
        out = []
        for name, weight in self.plan.mix.items():
            clip = CLIPS[name]
            model = self.front.idle_model if idle and self.front.idle_model else clip.model
            body = clip.body(model)
            kind = {"name": name, "weight": weight, "create_url": self.front.create_url()}
            out.append(kind | {"body": body, "bytes": self.sizes[name]})
        return out

    def setup(self) -> list[dict[str, Any]]:
        """Jobs of each kind, followed to ``completed``: for retrieves and downloads."""
        jobs = []
        with httpx.Client(headers=auth(self.front.key), timeout=60) as client:
            for name in self.plan.mix:
                for _ in range(self.plan.pool_per_kind):
                    reply = client.post(self.front.create_url(), json=CLIPS[name].body())
                    if reply.status_code >= 300:
                        raise RuntimeError(f"setup create failed: {reply.status_code} {reply.text}")
                    jobs.append({"id": reply.json()["id"], "kind": name, "bytes": self.sizes[name]})
            deadline = time.monotonic() + SETUP_TIMEOUT_S
            for job in jobs:
                url = f"{self.front.base}/v1/videos/{job['id']}"
                while True:
                    status = client.get(url).json().get("status")
                    if status == "completed":
                        break
                    if status == "failed" or time.monotonic() > deadline:
                        raise RuntimeError(f"setup job {job['id']} ended {status!r}")
                    time.sleep(0.2)
            self.warm_up(client, jobs)
        return jobs

    def warm_up(self, client: httpx.Client, jobs: list[dict[str, Any]]) -> None:
        """One request of every path the measurements use, so one-time work (lazy imports,
        an upstream client per deployment) is not counted as the cost of a request."""
        idle_kind = self.kinds(idle=True)[0]
        reply = client.post(idle_kind["create_url"], json=idle_kind["body"])
        if reply.status_code >= 300:
            raise RuntimeError(f"create on the idle model failed: {reply.status_code} {reply.text}")
        for name in self.plan.mix:
            job = next(j for j in jobs if j["kind"] == name)
            body = client.get(f"{self.front.base}/v1/videos/{job['id']}/content")
            if len(body.content) != self.sizes[name]:
                raise RuntimeError(
                    f"{name}: downloaded {len(body.content)} bytes, the file has {self.sizes[name]}"
                )

    def quiet(self, seconds: float = 2.0) -> float:
        """CPU ms per second of the server's tree with no requests."""
        before = tree_cpu_s(self.root)
        time.sleep(seconds)
        return (tree_cpu_s(self.root) - before) * 1000 / seconds

    def single(self, jobs: list[dict[str, Any]]) -> dict[str, Any]:
        base = {"headers": auth(self.front.key), "concurrency": 1, "requests": 100_000}
        base |= {"seconds": self.plan.single_s, "warmup": 3, "timeout": 60}
        out: dict[str, Any] = {}
        idle_kind = self.kinds(idle=True)[0]
        out["create"] = run_single(
            base
            | {
                "method": "POST",
                "urls": [idle_kind["create_url"]],
                "json": idle_kind["body"],
                "idempotency": self.front.idempotency,
            },
            self.root,
            self.core_load,
        )
        urls = [f"{self.front.base}/v1/videos/{j['id']}" for j in jobs]
        out["retrieve"] = run_single(
            base | {"method": "GET", "urls": urls}, self.root, self.core_load
        )
        for name in self.plan.mix:
            ids = [j["id"] for j in jobs if j["kind"] == name]
            spec = base | {"method": "GET", "stream": True, "warmup": 1}
            spec["urls"] = [f"{self.front.base}/v1/videos/{i}/content" for i in ids]
            result = run_single(spec, self.root, self.core_load)
            if result["bytes"] != self.sizes[name] * result["requests"]:
                result["size_mismatch"] = True
            out[f"download {name}"] = result
        return out

    def mixed(self, mode: str, jobs: list[dict[str, Any]]) -> dict[str, Any]:
        plan = self.plan
        seconds = plan.busy_s if mode == "busy" else plan.idle_s
        spec: dict[str, Any] = {
            "mode": mode,
            "rate": plan.rate,
            "seconds": seconds,
            "poll_ms": plan.poll_ms,
            "base": self.front.base,
            "headers": auth(self.front.key),
            "idempotency": self.front.idempotency,
            "job_timeout_s": plan.job_timeout_s,
            "kinds": self.kinds(),
        }
        if mode == "idle":
            idle = self.kinds(idle=True)[0]
            polls = max(1, round(plan.job_seconds * 1000 / plan.poll_ms))
            create = {"create_url": idle["create_url"], "body": idle["body"]}
            spec["idle"] = {"jobs": jobs, "polls": polls, "create": create}
        bound = seconds + plan.job_timeout_s + 120
        return run_mixed(spec, self.root, self.core_load, bound)


def run_target(plan: Plan, target: Target, pinned: bool, tmp: Path) -> dict[str, Any]:
    """Fresh simulators and server for one column; every process stopped on the way out."""
    core_server, core_rest = (1, 0) if pinned else (None, None)
    sizes = {name: CLIPS[name].path.stat().st_size for name in plan.mix}
    sim_config = {
        "job_seconds": plan.job_seconds,
        "queued_seconds": min(0.2, plan.job_seconds / 4),
        "poll_after_ms": plan.poll_ms,
        "content_paths": {f"{c.size}/{c.seconds}": str(c.path) for c in CLIPS.values()},
    }
    idle_config = {"job_seconds": NEVER_S, "poll_after_ms": NEVER_MS}
    out: dict[str, Any] = {"target": target.key, "label": target.label, "pinned": pinned}
    with ExitStack() as stack:
        env = Env(
            tmp / f"{target.key}-{'pinned' if pinned else 'unpinned'}",
            core_server,
            core_rest,
            stack,
        )
        alone = target.kind == "simulator"
        sim_core, sim_nice = (core_server, 0) if alone else (core_rest, SIM_NICE)
        busy = env.simulator("sim-busy", sim_core, sim_nice, **sim_config)
        idle = env.simulator("sim-idle", core_rest, sim_nice, **idle_config)
        front = start_target(target, env, busy, idle)
        out["startup_s"] = front.server.startup_s
        watch = env.watches[front.server.pid]
        run = Run(plan, target, front, core_rest, sizes)
        log(f"  {target.label}: up in {out['startup_s']:.1f} s; setup jobs")
        jobs = run.setup()
        out["quiet_cpu_ms_per_s"] = run.quiet()
        log("  single-path phases (closed loop, c=1)")
        out["single"] = run.single(jobs)
        log(f"  idle phase ({plan.idle_s:.0f} s at {plan.rate}/s)")
        out["idle"] = run.mixed("idle", jobs)
        log(f"  busy phase ({plan.busy_s:.0f} s at {plan.rate}/s, then the backlog)")
        out["busy"] = run.mixed("busy", jobs)
        out["memory"] = watch.memory()
    out["derived"] = mixed_report.derive(out, plan.mix)
    log("  " + mixed_report.brief(out))
    return out


# --- the whole run ---------------------------------------------------------------------


def make_targets(args: argparse.Namespace) -> list[Target]:
    wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.gateway_src and "before" not in wanted:
        wanted.insert(wanted.index("vidgate") if "vidgate" in wanted else len(wanted), "before")
    out = []
    for key in wanted:
        if key == "simulator":
            out.append(Target("simulator", "simulator", "simulator alone"))
        elif key == "litellm":
            out.append(Target("litellm", "litellm", "LiteLLM"))
        elif key == "before":
            if not args.gateway_src:
                raise SystemExit("target 'before' needs --gateway-src DIR")
            src = Path(args.gateway_src).resolve()
            if not (src / "vidgate").is_dir():
                raise SystemExit(f"--gateway-src {src}: no vidgate package there")
            label = f"vidgate {git_label(src.parent)} (before)"
            out.append(Target("before", "vidgate", label, src))
        elif key == "vidgate":
            out.append(Target("vidgate", "vidgate", f"vidgate {git_label(BENCH.parent)}"))
        else:
            raise SystemExit(f"unknown target {key!r}")
    return out


def parse_mix(text: str) -> dict[str, int]:
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition(":")
        if name.strip() not in CLIPS:
            raise SystemExit(f"--mix: unknown kind {name!r} (known: {', '.join(CLIPS)})")
        mix[name.strip()] = int(weight or 1)
    return mix


def make_plan(args: argparse.Namespace) -> Plan:
    quick = args.quick
    busy = args.seconds or (20.0 if quick else 60.0)
    return Plan(
        name=args.name or ("quick" if quick else "full"),
        busy_s=busy,
        idle_s=max(8.0, busy / 2),
        single_s=3.0 if quick else 5.0,
        rate=args.rate,
        poll_ms=args.poll_ms,
        job_seconds=args.job_seconds,
        mix=parse_mix(args.mix),
    )


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = Path("/proc/loadavg").read_text().split()[:3]
    return {"cores": os.cpu_count(), "cpu": cpu, "python": sys.version.split()[0], "load": load}


def _interrupted(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so every server started is stopped on the way out."""
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20 s of load per target")
    parser.add_argument("--seconds", type=float, help="busy phase length (default 60, quick 20)")
    parser.add_argument("--rate", type=float, default=3.0, help="creates per second")
    parser.add_argument("--poll-ms", type=int, default=500, help="client poll interval")
    parser.add_argument("--job-seconds", type=float, default=2.0, help="upstream job time")
    parser.add_argument("--mix", default="4s-720p:9,12s-1080p:1", help="kind:weight,...")
    parser.add_argument("--pin", choices=("both", "pinned", "unpinned"), default="both")
    parser.add_argument(
        "--targets", default="simulator,litellm,vidgate", help="of simulator,litellm,vidgate"
    )
    parser.add_argument("--gateway-src", help="a checkout's src/ to run as 'vidgate (before)'")
    parser.add_argument("--litellm-version", default=peers.LITELLM_VERSION)
    parser.add_argument("--name", help="results/mixed-<name>.json (default quick|full)")
    parser.add_argument("--readme", action="store_true", help="write the README section")
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir (logs)")
    parser.add_argument(
        "--render",
        metavar="JSON",
        help="only print (--readme: write) the tables of an earlier run's results file",
    )
    args = parser.parse_args()
    if args.render:
        tables = mixed_report.render(json.loads(Path(args.render).read_text()))
        print(tables)
        if args.readme:
            mixed_report.write_readme(README, tables)
        return
    plan = make_plan(args)
    targets = make_targets(args)
    pins = {"both": (True, False), "pinned": (True,), "unpinned": (False,)}[args.pin]
    signal.signal(signal.SIGTERM, _interrupted)
    log(f"mixed workload ({plan.name}): {plan}")
    for name in plan.mix:
        CLIPS[name].make()
    results: dict[str, Any] = {
        "plan": plan.__dict__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "files": {n: CLIPS[n].path.stat().st_size for n in plan.mix},
        "runs": [],
    }
    if any(t.kind == "litellm" for t in targets):
        results["litellm"] = peers.ensure_litellm(args.litellm_version)
    results["vidgate_modules"] = {
        t.key: vidgate_module_path(t.src) for t in targets if t.kind == "vidgate"
    }
    tmp = Path(tempfile.mkdtemp(prefix="vidgate-mixed-"))
    log(f"scratch {tmp}; vidgate modules {results['vidgate_modules']}")
    began = time.perf_counter()
    try:
        for pinned in pins:
            for target in targets:
                log(f"{target.label}, {'pinned to core 1' if pinned else 'unpinned'}")
                try:
                    results["runs"].append(run_target(plan, target, pinned, tmp))
                except (RuntimeError, subprocess.TimeoutExpired, httpx.HTTPError) as exc:
                    log(f"  ! {target.label} failed: {exc}")
                    results["runs"].append(
                        {
                            "target": target.key,
                            "label": target.label,
                            "pinned": pinned,
                            "failed": str(exc)[:2000],
                        }
                    )
    finally:
        results["duration_s"] = time.perf_counter() - began
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"mixed-{plan.name}.json"
        out.write_text(json.dumps(results, indent=1))
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        log(f"raw results in {out}")
    tables = mixed_report.render(results)
    print("\n" + tables)
    if args.readme:
        mixed_report.write_readme(README, tables)
        log("wrote the mixed section of bench/README.md")


if __name__ == "__main__":
    main()
