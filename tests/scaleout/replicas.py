"""Gateway replicas as separate ``vidgate serve`` processes, for the scale-out tests."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.scaleout.services import free_port
from tests.support import wait_for

REQUEST_TIMEOUT_S = 120.0
"""One request's own deadline: a create on a replica of an overloaded two-core machine
waits for CPU behind hundreds of polls, so only a hung request should reach this."""
START_TIMEOUT_S = 120.0
"""Starting the interpreter, importing the gateway and migrating, beside other replicas."""


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    master_key: str

    def http(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.master_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=REQUEST_TIMEOUT_S)


def start_replica(index: int, root: Path, config: Path, env: dict[str, str]) -> Replica:
    """``vidgate serve`` on a free loopback port (``env`` carries ``VIDGATE_MASTER_KEY``),
    logging to ``root/replica-<index>.log``; returns once it answers ``/health``."""
    port = free_port()
    log = root / f"replica-{index}.log"
    command = [sys.executable, "-m", "vidgate", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--data-dir", str(root / f"replica-{index}")]
    command += ["--config", str(config), "--app-log-level", "warning"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    replica = Replica(f"http://127.0.0.1:{port}", process, log, env["VIDGATE_MASTER_KEY"])

    def up() -> bool:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            return httpx.get(f"{replica.url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=START_TIMEOUT_S, interval=0.1)
    return replica
