"""Upstream content that expired before the gateway archived it: the job says so, uncharged.

Two real simulators whose results expire the way their providers' do: Azure's v1 content
route answers 404 once ``expires_after_s`` has passed, and DashScope's signed result URL
answers OSS's 403 ``AccessDenied`` once its ``Expires`` is past. Both jobs complete upstream
(the polls say so), so the failure is the download's, and it must read as such.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import Gateway, running_gateway, serve, wait_for
from vidgate.providers.azure import simulator as azure_sim
from vidgate.providers.wan import simulator as wan_sim

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AZURE_KEY = "azure-upstream-key-0123456789"
WAN_KEY = "sk-" + "7e" * 16


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    azure = azure_sim.create_app(
        azure_sim.SimulatorConfig(
            api_key=AZURE_KEY, job_seconds=0.2, queued_seconds=0.05, expires_after_s=0.0
        )
    )
    wan = wan_sim.create_app(
        wan_sim.SimulatorConfig(api_key=WAN_KEY, job_seconds=0.2, queued_seconds=0.05, url_ttl_s=-1)
    )
    with serve(azure) as azure_url, serve(wan) as wan_url:
        common = {"poll_interval_s": 0.1}
        config = {
            "model_list": [
                {
                    **common,
                    "model_name": "azure-sora",
                    "provider": "azure",
                    "model": "sora-2",
                    "api_base": azure_url,
                    "api_key": AZURE_KEY,
                    "options": {"api": "v1"},
                },
                {
                    **common,
                    "model_name": "wan",
                    "provider": "wan",
                    "model": "wan2.5-t2v-preview",
                    "api_base": f"{wan_url}/api/v1",
                    "api_key": WAN_KEY,
                },
            ]
        }
        with running_gateway(tmp_path_factory.mktemp("gw-expiry"), config) as gateway:
            yield gateway


def money(gw: Gateway, key: str) -> tuple[float, float]:
    with gw.http(key) as http:
        info = http.get("/key/info").json()["info"]
    return round(info["spend"], 6), round(info["reserved"], 6)


@pytest.mark.parametrize(
    ("model", "body", "upstream_status"),
    [
        ("azure-sora", {"size": "1280x720", "seconds": "4"}, 404),
        ("wan", {"size": "1280x720", "seconds": "5"}, 403),
    ],
)
def test_expired_content_fails_as_content_expired_and_is_not_charged(
    gw: Gateway, model: str, body: dict[str, Any], upstream_status: int
) -> None:
    key = gw.new_key(max_budget=100.0)
    with gw.http(key) as http:
        created = http.post("/v1/videos", json={"model": model, "prompt": "gone", **body})
        assert created.status_code == 200, created.text
        video_id = created.json()["id"]
        assert money(gw, key)[1] > 0  # the estimate was held

        def ended() -> dict[str, Any] | None:
            video: dict[str, Any] = http.get(f"/v1/videos/{video_id}").json()
            return video if video["status"] in ("completed", "failed") else None

        video = wait_for(ended, timeout=60)
    assert video["status"] == "failed", video
    assert video["error"]["code"] == "content_expired", video["error"]
    message = video["error"]["message"]
    assert "expired" in message and "before the gateway could archive it" in message, message
    assert f"HTTP {upstream_status}" in message, message
    assert "failed polls" not in message
    assert money(gw, key) == (0.0, 0.0)
    with gw.http() as admin:
        record = admin.get(f"/jobs/{video_id}").json()
        assert not record["cost_usd"] and record["reserved_usd"] == 0.0
        spend = admin.get("/spend/logs", params={"key": record["owner_key_id"]}).json()
    assert [(r["status"], r["cost_usd"]) for r in spend["data"]] in ([], [("failed", 0.0)])
