"""An upstream slower than the deployment's timeout is a 504, and leaves no visible job."""

from __future__ import annotations

from pathlib import Path

from tests.support import running_gateway, serve
from vidgate.providers.openai.simulator import SimulatorConfig, create_app


def test_slow_upstream_create_is_504(tmp_path: Path) -> None:
    slow = create_app(SimulatorConfig(api_key="sk-up", submit_latency_ms=1500))
    with serve(slow) as sim_url:
        config = {
            "model_list": [
                {
                    "model_name": "sora-2",
                    "provider": "openai",
                    "model": "sora-2",
                    "api_base": f"{sim_url}/v1",
                    "api_key": "sk-up",
                    "timeout_s": 0.3,
                }
            ]
        }
        with running_gateway(tmp_path / "gw", config) as gw, gw.http() as http:
            response = http.post("/v1/videos", json={"prompt": "too slow"})
            assert response.status_code == 504
            assert response.json()["error"]["code"] == "upstream_timeout"
            assert http.get("/v1/videos").json()["data"] == []
