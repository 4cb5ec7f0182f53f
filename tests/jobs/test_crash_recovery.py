"""SIGKILL the gateway with jobs in flight, restart it: every job ends with its content,
and no job reaches its upstream twice."""

from __future__ import annotations

import contextlib
import io
import signal
import sqlite3
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.support import free_port, serve, start_vidgate, wait_for, write_config
from vidgate.providers.openai.simulator import SimulatorConfig, create_app

pytestmark = pytest.mark.slow
MASTER = "sk-vg-test-master"


def start_gateway(data_dir: Path, config: Path, port: int) -> subprocess.Popen[bytes]:
    return start_vidgate(data_dir, config, MASTER, port=port)[0]


def test_sigkill_and_restart(tmp_path: Path) -> None:
    sim_app = create_app(
        SimulatorConfig(
            api_key="sk-up",
            job_seconds=1.5,
            queued_seconds=0.1,
            poll_after_ms=100,
            submit_latency_ms=600,
        )
    )
    with serve(sim_app) as sim_url:
        config = write_config(
            tmp_path,
            {
                "model_list": [
                    {"model_name": "local/preview", "provider": "local", "model": "preview"},
                    {
                        "model_name": "sora-2",
                        "provider": "openai",
                        "model": "sora-2",
                        "api_base": f"{sim_url}/v1",
                        "api_key": "sk-up",
                        "idempotent_submit": True,
                    },
                ],
            },
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_gateway(tmp_path / "data", config, port)
        headers = {"Authorization": f"Bearer {MASTER}"}
        created: list[str] = []
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            for i in range(4):
                body = {"prompt": f"local {i}", "seconds": 3, "size": "1280x720"}
                created.append(http.post("/v1/videos", json=body).json()["id"])
            for i in range(3):
                body = {
                    "prompt": f"upstream {i}",
                    "seconds": "4",
                    "size": "1280x720",
                    "model": "sora-2",
                }
                created.append(http.post("/v1/videos", json=body).json()["id"])
        in_flight = _post_in_background(
            url, headers, {"prompt": "mid-submit", "model": "sora-2", "size": "1280x720"}
        )
        # the row exists before the upstream call, which takes 600 ms: kill inside that window
        wait_for(lambda: _phase(tmp_path / "data", "mid-submit") == "submitting")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        in_flight.join(timeout=10)
        proc = start_gateway(tmp_path / "data", config, port)
        try:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
                jobs = _all_jobs(http)
                assert set(created) <= set(jobs), "a job acknowledged before the crash is lost"
                assert len(jobs) == len(created) + 1  # the one killed mid-submit is kept
                for job_id in jobs:
                    done = wait_for(lambda j=job_id: _terminal(http, j), timeout=60)
                    assert done["status"] == "completed", done
                    content = http.get(f"/v1/videos/{job_id}/content").content
                    with av.open(io.BytesIO(content)) as container:
                        assert container.streams.video[0].codec_context.width == 1280
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        creates = _sim_creates(sim_url)
        assert all(count == 1 for count in creates.values()), creates
        assert len(creates) == 4


def _post_in_background(
    url: str, headers: dict[str, str], body: dict[str, Any]
) -> threading.Thread:
    def post() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the gateway is killed under this request
            httpx.post(f"{url}/v1/videos", json=body, headers=headers, timeout=10)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def _sim_creates(sim_url: str) -> Counter[str]:
    """Distinct upstream videos created, keyed by prompt: each must be created once."""
    log = httpx.get(f"{sim_url}/__sim__/log").json()
    ids = {
        e["video_id"]
        for e in log
        if e["method"] == "POST" and e["path"] == "/v1/videos" and e["status_code"] == 200
    }
    prompts: Counter[str] = Counter()
    for video_id in ids:
        prompts[_sim_prompt(sim_url, video_id)] += 1
    return prompts


def _sim_prompt(sim_url: str, video_id: str) -> str:
    response = httpx.get(
        f"{sim_url}/v1/videos/{video_id}", headers={"Authorization": "Bearer sk-up"}
    )
    return str(response.json()["prompt"])


def _phase(data_dir: Path, prompt: str) -> str | None:
    with sqlite3.connect(data_dir / "vidgate.db") as db:
        row = db.execute("SELECT phase FROM jobs WHERE prompt = ?", (prompt,)).fetchone()
    return None if row is None else str(row[0])


def _all_jobs(http: httpx.Client) -> list[str]:
    return [v["id"] for v in http.get("/v1/videos", params={"limit": 100}).json()["data"]]


def _terminal(http: httpx.Client, job_id: str) -> dict[str, Any] | None:
    video = http.get(f"/v1/videos/{job_id}").json()
    return video if video["status"] in ("completed", "failed") else None
