"""The poller against the openai simulator: timeouts, read-through refresh, lost deployments."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import running_gateway, serve, wait_for
from vidgate.providers.openai.simulator import SimulatorConfig, create_app


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    config = SimulatorConfig(
        api_key="sk-up", job_seconds=1.0, queued_seconds=0.05, poll_after_ms=100
    )
    with serve(create_app(config)) as url:
        yield url


def config(sim_url: str, **settings: Any) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": "sora-2",
                "provider": "openai",
                "model": "sora-2",
                "api_base": f"{sim_url}/v1",
                "api_key": "sk-up",
                "id": "sim-1",
            }
        ],
        "settings": settings,
    }


def upstream_gets(sim_url: str, upstream_id: str) -> int:
    log = httpx.get(f"{sim_url}/__sim__/log").json()
    return sum(1 for e in log if e["method"] == "GET" and e["path"] == f"/v1/videos/{upstream_id}")


def upstream_id_of(data_dir: Path, job_id: str) -> str:
    import sqlite3

    with sqlite3.connect(data_dir / "vidgate.db") as db:
        return str(db.execute("SELECT upstream_id FROM jobs WHERE id=?", (job_id,)).fetchone()[0])


def test_job_timeout_fails_with_code_timeout(sim_url: str, tmp_path: Path) -> None:
    with running_gateway(tmp_path / "gw", config(sim_url, job_timeout_s=0.5)) as gw:
        video = gw.sdk().videos.create(prompt="[sim:slow] never in time")
        done = gw.sdk().videos.poll(video.id, poll_interval_ms=50)
        assert done.status == "failed" and done.error and done.error.code == "timeout"


def test_read_through_refresh_is_single_flight(sim_url: str, tmp_path: Path) -> None:
    settings = {"stale_after_s": 0.05, "refresh_wait_s": 5}
    with running_gateway(tmp_path / "gw", config(sim_url, **settings), run_poller=False) as gw:
        video = gw.sdk().videos.create(prompt="refreshed by reads")
        upstream = upstream_id_of(gw.data_dir, video.id)
        before = upstream_gets(sim_url, upstream)

        def get(_: int) -> str:
            with gw.http() as http:
                return str(http.get(f"/v1/videos/{video.id}").json()["status"])

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(get, range(16)))
        burst = upstream_gets(sim_url, upstream) - before
        assert 1 <= burst <= 2, burst  # 16 concurrent stale reads, one upstream poll
        done = wait_for(lambda: get(0) == "completed")
        assert done


def test_removed_deployment_fails_clearly(sim_url: str, tmp_path: Path) -> None:
    data = tmp_path / "gw"
    with running_gateway(data, config(sim_url), run_poller=False) as gw:
        video = gw.sdk().videos.create(prompt="orphaned")
        key = gw.master_key
    moved = {
        "model_list": [{"model_name": "local/preview", "provider": "local", "model": "preview"}]
    }
    with running_gateway(data, moved) as gw:
        assert gw.master_key == key
        done = gw.sdk().videos.poll(video.id, poll_interval_ms=50)
        assert done.status == "failed" and done.error is not None
        assert done.error.code == "deployment_removed"
        with gw.http() as http:
            remix = http.post(f"/v1/videos/{video.id}/remix", json={"prompt": "x"})
            assert remix.status_code == 400
