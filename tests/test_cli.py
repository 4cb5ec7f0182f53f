"""The ``vidgate`` command, run as a real subprocess against real servers on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
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

        wait_for(up)
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
        wait_for(lambda: _health(port))
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


def test_config_check_reports_every_error_with_its_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "model_list:\n"
        "  - {model_name: a, provider: nope, model: m}\n"
        "  - {model_name: b, provider: local, model: no-such-model}\n"
        "  - {model_name: c, provider: local, model: preview}\n"
        "router:\n"
        "  fallbacks: [{c: [zzz, c]}]\n"
    )
    result = vidgate("config", "check", str(config))
    assert result.returncode == 1
    for path in (
        "model_list[0].provider: unknown provider 'nope'",
        "model_list[1].model: provider 'local' has no model 'no-such-model'",
        "router.fallbacks[0].c[0]: 'zzz' is not a model_name",
        "router.fallbacks[0].c[1]: a group cannot fall back to itself",
    ):
        assert path in result.stderr
    assert "4 error(s)" in result.stderr
    config.write_text(
        "model_list:\n  - {model_name: c, provider: local, model: preview, rpm: 0}\n"
        "  - {model_name: d, provider: local, model: preview, api_key: os.environ/VG_UNSET_X}\n"
        "router: {strategy: fastest, cooldown: {min_requests: 0}}\n"
    )
    assert "VG_UNSET_X" not in os.environ
    result = vidgate("config", "check", str(config))
    assert result.returncode == 1
    for path in (
        "model_list[1].api_key: environment variable VG_UNSET_X is not set",
        "model_list[0].rpm",
        "router.strategy",
        "router.cooldown.min_requests",
    ):
        assert path in result.stderr


def test_config_check_summarises_a_good_config(tmp_path: Path) -> None:
    config = tmp_path / "good.yaml"
    config.write_text(
        "model_list:\n"
        "  - {model_name: fast, provider: local, model: preview, weight: 3, rpm: 60}\n"
        "  - {model_name: fast, provider: local, model: preview, id: spare, weight: 0}\n"
        "  - {model_name: slow, provider: local, model: preview, id: slow-1}\n"
        "router: {strategy: least-busy, fallbacks: [{fast: [slow]}]}\n"
    )
    result = vidgate("config", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert "OK: 3 deployment(s) in 2 model group(s)" in result.stdout
    assert "strategy least-busy" in result.stdout and "fast -> slow" in result.stdout


def test_sighup_reloads_the_config(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "vidgate.yaml"
    config.write_text("model_list:\n  - {model_name: one, provider: local, model: preview}\n")
    env = {**os.environ, "VIDGATE_MASTER_KEY": "sk-vg-master-sighup-test"}
    args = ["serve", "--data-dir", str(tmp_path), "--port", str(port), "--config", str(config)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidgate", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    logged: list[str] = []
    reader = threading.Thread(target=lambda: logged.extend(iter(proc.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()
    headers = {"Authorization": "Bearer sk-vg-master-sighup-test"}

    def models() -> set[str]:
        response = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers=headers, timeout=2)
        return {m["id"] for m in response.json()["data"] if m["alias_for"] is None}

    try:
        wait_for(lambda: _health(port))
        assert models() == {"one"}
        config.write_text(
            "model_list:\n"
            "  - {model_name: one, provider: local, model: preview}\n"
            "  - {model_name: two, provider: local, model: preview}\n"
        )
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: models() == {"one", "two"})
        config.write_text("model_list: [{model_name: broken}]\n")  # a bad file changes nothing
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any("config reload failed" in line for line in logged))
        assert any("model_list[0].provider" in line for line in logged)
        assert models() == {"one", "two"} and proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        reader.join(timeout=5)


def test_spend_report_logs_and_csv(fresh_gateway: Gateway, tmp_path: Path) -> None:
    import csv
    import time

    from tests.accounting.test_spend_gateway import insert_spend

    gw, now = fresh_gateway, time.time()
    base = {"provider": "openai", "key_id": "key_a"}
    insert_spend(
        gw.data_dir / "vidgate.db",
        [
            {**base, "model": "sora", "cost_usd": 0.4, "settled_at": now - 30},
            {**base, "model": "sora-pro", "cost_usd": 1.2, "settled_at": now - 20},
            {**base, "model": "sora", "key_id": "key_b", "cost_usd": 0.4, "settled_at": now - 10},
            {
                **base,
                "model": "sora",
                "status": "failed",
                "seconds": None,
                "cost_usd": 0.0,
                "settled_at": now - 5,
            },
        ],
    )
    env = {"VIDGATE_BASE_URL": gw.url, "VIDGATE_API_KEY": gw.master_key, "COLUMNS": "200"}
    result = vidgate("spend", env=env)  # --group-by model; base URL and key from the env
    assert result.returncode == 0, result.stderr
    cells = [line.replace("\u2502", " ").split() for line in result.stdout.splitlines()]
    rows = [row for row in cells if row and row[0] in ("sora", "sora-pro", "total")]
    assert rows == [
        ["sora-pro", "1", "1", "0", "4", "$1.2000"],
        ["sora", "3", "2", "1", "8", "$0.8000"],
        ["total", "4", "3", "1", "12", "$2.0000"],
    ]

    result = vidgate("spend", "--logs", "--key", "key_b", env=env)
    assert result.returncode == 0, result.stderr
    assert "video_synthetic_2" in result.stdout and "video_synthetic_0" not in result.stdout
    assert "total over the range: $0.4000" in result.stdout

    out = tmp_path / "by-key.csv"
    common = ["--base-url", gw.url, "--api-key", gw.master_key]
    result = vidgate(
        "spend", "--group-by", "key", "--start", "2020-01-01", "--csv", str(out), *common
    )
    assert result.returncode == 0, result.stderr
    with out.open(newline="") as handle:
        exported = list(csv.reader(handle))
    assert exported == [
        ["group", "jobs", "completed", "failed", "seconds", "cost_usd"],
        ["key_a", "3", "2", "1", "8.0", "1.6"],
        ["key_b", "1", "1", "0", "4.0", "0.4"],
    ]

    result = vidgate("spend", "--group-by", "week", *common)
    assert result.returncode == 1 and "error 400" in result.stderr and "group_by" in result.stderr
