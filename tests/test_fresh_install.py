"""A plain ``pip install`` of vidgate (no extras) into a fresh venv serves and renders.

The checkout is built into a wheel, installed with its dependencies from the package index
into a new venv, and that venv's ``vidgate serve`` creates a video on the local renderer over
HTTP; the MP4 it serves has the requested size and length. None of the scale-out packages
(Redis, asyncpg, aiobotocore) is installed, so any import of them at start would fail here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, video_shape, wait_for

ROOT = Path(__file__).resolve().parent.parent
INSTALL_S = 900.0
"""Building and installing with every dependency, on a busy two-core machine."""
MASTER_KEY = "sk-fresh-install-test"

pytestmark = pytest.mark.slow


def run(command: list[str], *, timeout: float, cwd: Path | None = None) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=plain_env()
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def plain_env(**extra: str) -> dict[str, str]:
    """The environment without this test venv's traces (PYTHONPATH, VIRTUAL_ENV) nor
    vidgate's variables."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("VIDGATE_")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def build_wheel(tmp_path: Path) -> Path:
    """A wheel of the checkout, built from a copy (the build writes nothing into the tree)."""
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps"]
    run([*pip, "-w", str(wheels), str(source)], timeout=INSTALL_S)
    (wheel,) = wheels.glob("vidgate-*.whl")
    return wheel


def test_a_plain_install_serves_and_renders(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], timeout=INSTALL_S)
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", str(wheel)], timeout=INSTALL_S)
    probe = "import importlib.util as u; print([m for m in {} if u.find_spec(m)])"
    extras = ("redis", "asyncpg", "aiobotocore", "botocore")
    assert run([str(python), "-c", probe.format(extras)], timeout=120).strip() == "[]"

    port = free_port()
    data = tmp_path / "data"
    log = tmp_path / "serve.log"
    command = [str(venv / "bin" / "vidgate"), "serve", "--port", str(port)]
    command += ["--data-dir", str(data), "--log-file", str(log)]
    env = plain_env(VIDGATE_MASTER_KEY=MASTER_KEY)
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp_path
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                logged = log.read_text()[-3000:] if log.exists() else ""
                raise AssertionError(f"vidgate serve exited\n{stderr}\n{logged}")
            try:
                return httpx.get(f"{url}/health", timeout=10).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=300)  # the first start compiles the fresh venv's modules
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            body = {"prompt": "a red fox in the snow", "seconds": "2", "size": "640x360"}
            created = http.post("/v1/videos", json=body)
            assert created.status_code == 200, created.text
            video_id = created.json()["id"]

            def ended() -> dict[str, object] | None:
                video: dict[str, object] = http.get(f"/v1/videos/{video_id}").json()
                return video if video["status"] in ("completed", "failed") else None

            video = wait_for(ended, timeout=600, interval=0.2)
            assert video["status"] == "completed", video
            content = http.get(f"/v1/videos/{video_id}/content")
            assert content.status_code == 200
            assert content.headers["content-type"] == "video/mp4"
        width, height, duration = video_shape(content.content)
        assert (width, height) == (640, 360) and abs(duration - 2) <= 0.2, duration
    finally:
        process.terminate()
        process.wait(timeout=120)
