"""``kill -HUP`` makes a running ``vidgate serve`` re-read its config file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.support import free_port, wait_for


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
        response = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers=headers, timeout=120)
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
        proc.wait(timeout=120)
        reader.join(timeout=120)


def _health(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
