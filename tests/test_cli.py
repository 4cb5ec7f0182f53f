"""The ``vidgate`` command, run as a real subprocess against real servers on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image

from tests.jobs.test_crash_recovery import free_port
from tests.support import Gateway, wait_for


def vidgate(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidgate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_generate_writes_the_video(gateway: Gateway, tmp_path: Path) -> None:
    out = tmp_path / "fox.mp4"
    image = tmp_path / "first.png"
    Image.new("RGB", (640, 360), (0, 160, 0)).save(image)
    result = vidgate(
        "generate",
        "a fox",
        "--seconds",
        "2",
        "--size",
        "640x360",
        "--image",
        str(image),
        "-o",
        str(out),
        "--base-url",
        gateway.url,
        "--api-key",
        gateway.master_key,
    )
    assert result.returncode == 0, result.stderr
    assert "video_" in result.stdout and "duration=2.0s" in result.stdout
    assert "completed" in result.stdout and "100%" in result.stdout
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
        first = next(container.decode(stream)).to_image().resize((1, 1)).getpixel((0, 0))
    assert first[1] > 100 and first[0] < 80


def test_generate_reports_errors(gateway: Gateway, tmp_path: Path) -> None:
    result = vidgate(
        "generate",
        "x",
        "--size",
        "7x7",
        "-o",
        str(tmp_path / "x.mp4"),
        "--base-url",
        gateway.url,
        "--api-key",
        gateway.master_key,
    )
    assert result.returncode == 1 and "error 400" in result.stderr and "size" in result.stderr
    result = vidgate("generate", "x", "--base-url", gateway.url, "--api-key", "sk-wrong")
    assert result.returncode == 1 and "error 401" in result.stderr


def test_keys_create_list_revoke(gateway: Gateway) -> None:
    common = ["--base-url", gateway.url, "--master-key", gateway.master_key]
    created = vidgate("keys", "create", "--alias", "cli-key", "--duration", "1d", *common)
    assert created.returncode == 0, created.stderr
    record = json.loads(created.stdout)
    key = record["key"]
    assert (
        httpx.get(
            f"{gateway.url}/v1/videos", headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 200
    )
    listed = vidgate("keys", "list", *common)
    assert "cli-key" in listed.stdout and key not in listed.stdout
    revoked = vidgate("keys", "revoke", "cli-key", *common)
    assert revoked.returncode == 0 and record["key_id"] in revoked.stdout
    assert (
        httpx.get(
            f"{gateway.url}/v1/videos", headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 401
    )


def test_simulate_serves_with_its_key_only() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vidgate",
            "simulate",
            "openai",
            "--port",
            str(port),
            "--api-key",
            "sk-dev",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1/videos"
    try:

        def up() -> bool:
            try:
                httpx.get(url, timeout=1)
                return True
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=20)
        assert httpx.get(url, headers={"Authorization": "Bearer sk-other"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer sk-dev"}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_simulate_unknown_provider() -> None:
    result = vidgate("simulate", "nope")
    assert result.returncode == 2 and "No simulator" in result.stderr


def test_serve_reports_config_errors_with_the_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("model_list:\n  - model_name: a\n    provider: nope\n    model: m\n")
    result = vidgate("serve", "--data-dir", str(tmp_path), "--config", str(config))
    assert result.returncode == 2
    assert "model_list[0].provider" in result.stderr


def test_serve_prints_url_key_and_example(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ}
    env.pop("VIDGATE_MASTER_KEY", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vidgate",
            "serve",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for(lambda: _health(port), timeout=30)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    key = (tmp_path / "master_key").read_text().strip()
    assert f"http://127.0.0.1:{port}" in out and key in out and "curl" in out


def _health(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(autouse=True)
def _no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VIDGATE_API_KEY", "VIDGATE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
