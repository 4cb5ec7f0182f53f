"""Start and stop the processes a benchmark talks to, and watch their CPU and memory.

Every server is a separate process bound to 127.0.0.1 on a free port; start-up time is
measured from spawn to the first ``200`` on its health path. ``stop`` ends only the
process it started (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
VIDGATE = str(Path(sys.executable).parent / "vidgate")
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server process."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    startup_s: float
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, grace_s: float = 10.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def cpu_s(self) -> float:
        """User + system CPU seconds of the process (children not included)."""
        return proc_cpu_s(self.pid)


def spawn(
    name: str,
    argv: list[str],
    port: int,
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    health: str = "/health",
    timeout_s: float = 30.0,
) -> Server:
    """Start ``argv`` and wait (bounded) until ``GET health`` answers 200."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    url = f"http://{HOST}:{port}"
    with log_path.open("wb") as log:
        began = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=BENCH.parent,
        )
    server = Server(name, proc, url, 0.0, log_path)
    deadline = began + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{_tail(log_path)}")
            try:
                if client.get(url + health).status_code == 200:
                    server.startup_s = time.perf_counter() - began
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.005)
    server.stop()
    raise RuntimeError(f"{name} did not answer {health} within {timeout_s} s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def write_gateway_config(path: Path, model_list: list[dict[str, Any]], **extra: Any) -> Path:
    config = {"model_list": model_list, **extra}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def start_gateway(data_dir: Path, config: Path, master_key: str, log_dir: Path) -> Server:
    """``vidgate serve`` exactly as a user runs it."""
    port = free_port()
    argv = [VIDGATE, "serve", "--data-dir", str(data_dir), "--port", str(port)]
    argv += ["--config", str(config)]
    env = {"VIDGATE_MASTER_KEY": master_key}
    return spawn(f"gateway-{port}", argv, port, log_dir, env=env)


def start_simulator(log_dir: Path, api_key: str, **config: Any) -> Server:
    """The OpenAI Videos simulator with any ``SimulatorConfig`` field (see sim_server.py)."""
    port = free_port()
    argv = [PYTHON, str(BENCH / "sim_server.py"), "--port", str(port), "--api-key", api_key]
    argv += ["--config", json.dumps(config)]
    return spawn(f"simulator-{port}", argv, port, log_dir, health="/__sim__/log")


def start_http_server(directory: Path, log_dir: Path, health: str) -> Server:
    """``python -m http.server`` (threading, stdlib) serving ``directory``."""
    port = free_port()
    argv = [PYTHON, "-m", "http.server", str(port), "--bind", HOST, "--directory", str(directory)]
    return spawn(f"http-server-{port}", argv, port, log_dir, health=health)


def start_starlette_static(directory: Path, log_dir: Path, health: str) -> Server:
    """Starlette ``StaticFiles`` under uvicorn (uvloop + httptools)."""
    port = free_port()
    argv = [PYTHON, str(BENCH / "static_server.py"), "--port", str(port), str(directory)]
    return spawn(f"starlette-static-{port}", argv, port, log_dir, health=health)


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` field in KiB (``VmRSS``, ``VmHWM``)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


@dataclass
class RssSampler:
    """Samples ``VmRSS`` of one process every ``interval_s`` in a thread (bounded in time)."""

    pid: int
    interval_s: float = 0.05
    max_s: float = 600.0
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        began = time.perf_counter()
        while not self._stop.is_set() and time.perf_counter() - began < self.max_s:
            try:
                rss = proc_status_kib(self.pid, "VmRSS")
            except (OSError, KeyError):
                return
            self.samples.append((time.perf_counter() - began, rss))
            self._stop.wait(self.interval_s)

    @property
    def peak_mib(self) -> float:
        return max((kib for _, kib in self.samples), default=0) / 1024

    @property
    def min_mib(self) -> float:
        return min((kib for _, kib in self.samples), default=0) / 1024
