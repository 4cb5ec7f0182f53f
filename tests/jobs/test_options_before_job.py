"""Provider options are checked while the request is resolved, before a job row or a hold.

A value the first group's model does not allow (Kling's ``cfg_scale`` is a number in
[0, 1]) costs nothing: no job, no budget held, no upstream call, a 400 naming the field.
And a fallback group whose model can serve the request is still tried — the refusal is the
candidate's, not the request's. Real simulators, real HTTP on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import Gateway, running_gateway, serve, wait_for
from vidgate.providers.kling import simulator as kling_sim
from vidgate.providers.openai import simulator as openai_sim

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AK, SK = "ak-options-test", "sk-options-test"


def _log(url: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{url}/__sim__/log").json())


def _posts(url: str) -> list[dict[str, Any]]:
    return [entry for entry in _log(url) if entry["method"] == "POST"]


@pytest.fixture(scope="module")
def kling() -> Iterator[str]:
    app = kling_sim.create_app(kling_sim.SimulatorConfig(api_key=f"{AK}:{SK}", job_seconds=0.2))
    with serve(app) as url:
        yield url


class Recording:
    """An ASGI app in front of a simulator that keeps the JSON body of every create."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        chunks: list[bytes] = []

        async def recorded() -> Any:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                self.bodies.append(json.loads(b"".join(chunks) or b"null"))
            return message

        await self.app(scope, recorded, send)


@pytest.fixture(scope="module")
def compat_app() -> Recording:
    return Recording(openai_sim.create_app(openai_sim.SimulatorConfig(job_seconds=0.2)))


@pytest.fixture(scope="module")
def compat(compat_app: Recording) -> Iterator[str]:
    with serve(compat_app) as url:
        yield url


@pytest.fixture(scope="module")
def gw(kling: str, compat: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    on_kling = {
        "provider": "kling",
        "model": "kling-v1-6",
        "api_base": kling,
        "api_key": AK,
        "options": {"secret_key": SK},
        "poll_interval_s": 0.1,
    }
    config = {
        "model_list": [
            {**on_kling, "model_name": "kling-16"},
            {**on_kling, "model_name": "kling-alone", "id": "kling-alone"},
            {
                "model_name": "compat",
                "provider": "openai",
                "model": "house-video-model",
                "api_base": f"{compat}/v1",
                "api_key": "sk-sim",
                "poll_interval_s": 0.1,
            },
        ],
        "router": {"fallbacks": [{"kling-16": ["compat"]}]},
        "default_model": "kling-16",
    }
    with running_gateway(tmp_path_factory.mktemp("options-first"), config) as gateway:
        yield gateway


def test_a_fallback_that_can_serve_the_option_is_tried(
    gw: Gateway, kling: str, compat_app: Recording
) -> None:
    kling_before, compat_before = len(_posts(kling)), len(compat_app.bodies)
    with gw.http() as http:
        response = http.post(
            "/v1/videos",
            json={
                "model": "kling-16",
                "prompt": "a kite, strongly guided",
                "metadata": {"cfg_scale": 2},
            },
        )
        assert response.status_code == 200, response.text
        video = response.json()
        job = http.get(f"/jobs/{video['id']}").json()
        assert job["provider"] == "openai", job
        wait_for(lambda: http.get(f"/v1/videos/{video['id']}").json()["status"] == "completed")
    assert len(_posts(kling)) == kling_before  # Kling was never asked
    (sent,) = compat_app.bodies[compat_before:]
    assert sent["cfg_scale"] == 2 and sent["model"] == "house-video-model"


def _jobs_ended(gw: Gateway) -> float:
    with gw.http() as http:
        text = http.get("/metrics").text
    lines = [line for line in text.splitlines() if line.startswith("vidgate_jobs_ended_total{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def test_a_value_no_candidate_allows_costs_nothing(gw: Gateway, kling: str) -> None:
    key = gw.new_key(max_budget=5)
    before, ended = len(_posts(kling)), _jobs_ended(gw)
    with gw.http(key) as http:
        response = http.post(
            "/v1/videos",
            json={"model": "kling-alone", "prompt": "too strong", "metadata": {"cfg_scale": 1.5}},
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == "metadata.cfg_scale" and error["code"] == "invalid_value"
        assert "from 0 to 1" in error["message"]
        assert http.get("/v1/videos").json()["data"] == []  # no job row
        info = http.get("/key/info").json()["info"]
        assert info["spend"] == 0 and info["reserved"] == 0  # nothing held, nothing charged
    assert len(_posts(kling)) == before
    assert _jobs_ended(gw) == ended  # no job ever existed (not one made and failed)


def test_the_error_names_the_field_as_the_client_sent_it(gw: Gateway) -> None:
    with gw.http() as http:
        response = http.post(
            "/v1/videos",
            json={"model": "kling-alone", "prompt": "p", "parameters": {"cfg_scale": "high"}},
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "parameters.cfg_scale"


def test_models_list_each_models_option_table(gw: Gateway) -> None:
    with gw.http() as http:
        models = {m["id"]: m["capabilities"] for m in http.get("/v1/models").json()["data"]}
    kling = models["kling-16"]
    assert kling["options"]["cfg_scale"] == "a number from 0 to 1"
    assert kling["options"]["mode"] == "one of: std, pro"
    assert kling["any_options"] is False
    assert models["compat"]["any_options"] is True
