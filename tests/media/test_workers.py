"""Worker processes end with the gateway: nothing of a stopped (or killed) gateway survives.

Each gateway here runs in its own process group, does media work (a render, its probe and
previews) and is stopped while a second render is running — from inside (the app's
lifespan ends, as in the tests), by SIGTERM (``vidgate serve`` under systemd or Docker) and
by SIGKILL. Afterwards no process of its group may be alive (workers, forkserver, resource
tracker), the render stopped with it (it starts over from its task file with the next
start), and a graceful stop reports no leaked semaphore.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import LOCAL_FAST
from tests.scaleout.services import free_port
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-workers-test-master"
SMALL = {"prompt": "a probe and previews", "seconds": "1", "size": "320x180"}
LONG = {"prompt": "still rendering", "seconds": "12", "size": "1280x720"}

IN_PROCESS = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from tests.conftest import LOCAL_FAST
    from tests.support import running_gateway, wait_for

    with running_gateway(Path(sys.argv[1]), LOCAL_FAST) as gw, gw.http() as http:
        def status(video_id):
            return http.get(f"/v1/videos/{video_id}").json()["status"]

        first = http.post("/v1/videos", json=%(small)r).json()["id"]
        wait_for(lambda: status(first) == "completed", timeout=240)
        second = http.post("/v1/videos", json=%(long)r).json()["id"]
        wait_for(lambda: status(second) == "in_progress", timeout=240)
    print("stopped mid-render", flush=True)
    """
) % {"small": SMALL, "long": LONG}


def group_alive(pgid: int) -> list[str]:
    """The processes of group ``pgid`` still alive (zombies are dead: init reaps them)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(f"{entry.name} {cmdline[:100].decode(errors='replace')}")
    return alive


def all_gone(pgid: int) -> None:
    """Wait (a deadline scaled to a busy machine) until nothing of the group is alive."""
    deadline = time.monotonic() + 60
    while alive := group_alive(pgid):
        assert time.monotonic() < deadline, f"left behind: {alive}"
        time.sleep(0.2)


def unfinished_render_completed(data_dir: Path) -> bool:
    """Whether the render running at the stop went on to finish (archived renders are
    removed; the unfinished one keeps its task file, to start over with the next start)."""
    tasks = list((data_dir / "local").glob("*/task.json"))
    assert len(tasks) == 1, tasks
    return (tasks[0].parent / "out.mp4").exists()


def start(command: list[str], err: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """``command`` in a new session (its own process group), stderr into ``err``."""
    with err.open("wb") as handle:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=handle,
            start_new_session=True,
            **kwargs,
        )


def test_a_gateway_stopped_mid_render_leaves_nothing(tmp_path: Path) -> None:
    err = tmp_path / "stderr"
    process = start([sys.executable, "-c", IN_PROCESS, str(tmp_path / "gw")], err)
    assert process.wait(timeout=600) == 0, err.read_text()
    all_gone(process.pid)
    assert not unfinished_render_completed(tmp_path / "gw")
    stderr = err.read_text()
    assert "leaked semaphore" not in stderr and "Traceback" not in stderr, stderr


def serve(tmp_path: Path, err: Path) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    config = tmp_path / "vidgate.yaml"
    config.write_text(yaml.safe_dump(LOCAL_FAST))
    port = free_port()
    command = [sys.executable, "-m", "vidgate", "serve", "--data-dir", str(tmp_path / "gw")]
    command += ["--config", str(config), "--port", str(port)]
    process = start(command, err, env={**os.environ, "VIDGATE_MASTER_KEY": KEY})
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY}"}
    )

    def healthy() -> bool:
        assert process.poll() is None, err.read_text()
        try:
            return http.get("/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=120)
    return process, http


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_vidgate_serve_stopped_mid_render_leaves_nothing(
    tmp_path: Path, stop: signal.Signals
) -> None:
    err = tmp_path / "stderr"
    process, http = serve(tmp_path, err)

    def status(video_id: str) -> str:
        return str(http.get(f"/v1/videos/{video_id}", timeout=30).json()["status"])

    try:
        first = http.post("/v1/videos", json=SMALL, timeout=30).json()["id"]
        wait_for(lambda: status(first) == "completed", timeout=240)
        second = http.post("/v1/videos", json=LONG, timeout=30).json()["id"]
        wait_for(lambda: status(second) == "in_progress", timeout=240)
        process.send_signal(stop)
        process.wait(timeout=120)
    finally:
        http.close()
        if process.poll() is None:
            process.kill()
    all_gone(process.pid)
    assert not unfinished_render_completed(tmp_path / "gw")
    if stop == signal.SIGTERM:  # a graceful stop unregisters what it made
        assert "leaked semaphore" not in err.read_text(), err.read_text()
