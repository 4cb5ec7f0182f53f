"""``POST /v1/videos/estimate``: a create's dry run through real HTTP — its price, whether the
key would be admitted, the same 400s as a create, and no job, hold or upstream call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import Gateway, Sim, quick, running_gateway, serve_sim, wait_for
from vidgate.providers.openai import simulator as openai_sim

BODY = {"model": "sora", "prompt": "a kite", "size": "1280x720", "seconds": "4"}
PRICE_4S = 0.40  # sora-2, 4 s at 720p, $0.10/s


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    config = quick(openai_sim.SimulatorConfig(api_key="sk-a"))
    with serve_sim(openai_sim.create_app(config)) as served:
        yield served


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    sora = {
        "model_name": "sora",
        "provider": "openai",
        "model": "sora-2",
        "api_base": f"{sim.url}/v1",
        "api_key": "sk-a",
        "poll_interval_s": 0.1,
    }
    local = {"model_name": "local/preview", "provider": "local", "model": "preview"}
    config = {"model_list": [sora, local], "settings": {"local_workers": 1}}
    with running_gateway(tmp_path_factory.mktemp("gw"), config) as gateway:
        yield gateway


def estimate(gw: Gateway, key: str, **body: Any) -> dict[str, Any]:
    with gw.http(key) as http:
        response = http.post("/v1/videos/estimate", json={**BODY, **body})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def info(gw: Gateway, key: str) -> dict[str, Any]:
    with gw.http(key) as http:
        return http.get("/key/info").json()["info"]  # type: ignore[no-any-return]


def videos(gw: Gateway, key: str) -> list[Any]:
    with gw.http(key) as http:
        return http.get("/v1/videos").json()["data"]  # type: ignore[no-any-return]


def test_local_renderer_is_free_and_admitted(gw: Gateway) -> None:
    key = gw.new_key()
    body = {"model": "local/preview", "size": "320x180", "seconds": "2"}
    result = estimate(gw, key, **body)
    assert result["object"] == "video.estimate"
    assert (result["model"], result["candidates"]) == ("local/preview", ["local/preview"])
    assert (result["seconds"], result["size"]) == ("2", "320x180")
    assert (result["estimated_cost_usd"], result["admitted"], result["reasons"]) == (0.0, True, [])
    assert videos(gw, key) == []


def test_priced_estimate_is_what_a_create_holds_and_charges(gw: Gateway, sim: Sim) -> None:
    key = gw.new_key(max_budget=5.0)
    mark = sim.mark()
    result = estimate(gw, key)
    assert sim.since(mark) == []  # no upstream call
    assert (result["estimated_cost_usd"], result["priced"], result["admitted"]) == (
        PRICE_4S,
        True,
        True,
    )
    assert result["candidates"] == ["sora"] and "sk-a" not in str(result)
    assert sim.url.split("//")[1] not in str(result)
    assert result["budgets"] == [
        {"budget": "key", "max_budget": 5.0, "spend": 0.0, "reserved": 0.0, "left": 5.0}
    ]
    assert (info(gw, key)["reserved"], videos(gw, key)) == (0.0, [])
    with gw.http(key) as http:
        created = http.post("/v1/videos", json=BODY)
    assert created.status_code == 200, created.text
    assert info(gw, key)["reserved"] == PRICE_4S  # held: exactly the estimate
    video_id = created.json()["id"]

    def charged() -> Any:
        with gw.http(key) as http:
            video = http.get(f"/v1/videos/{video_id}").json()
        return video if video["status"] == "completed" and info(gw, key)["spend"] else None

    assert wait_for(charged)["usage"]["cost_usd"] == PRICE_4S
    assert (info(gw, key)["spend"], info(gw, key)["reserved"]) == (PRICE_4S, 0.0)


def test_budget_below_the_estimate_is_not_admitted(gw: Gateway, sim: Sim) -> None:
    key = gw.new_key(max_budget=0.25)
    mark = sim.mark()
    result = estimate(gw, key)
    assert result["admitted"] is False
    [reason] = result["reasons"]
    assert (reason["code"], reason["budget"]) == ("insufficient_quota", "key")
    assert "$0.4000" in reason["message"] and "$0.2500 left" in reason["message"]
    assert result["budgets"][0]["left"] == 0.25
    assert sim.since(mark) == []
    assert (info(gw, key)["reserved"], videos(gw, key)) == (0.0, [])
    with gw.http(key) as http:  # and a create is indeed refused
        assert http.post("/v1/videos", json=BODY).status_code == 429


def test_model_not_allowed_and_rate_limit_are_reasons(gw: Gateway) -> None:
    key = gw.new_key(models=["local/preview"])
    result = estimate(gw, key)
    assert result["admitted"] is False
    assert [r["code"] for r in result["reasons"]] == ["model_not_allowed"]
    assert result["candidates"] == []
    busy = gw.new_key(rpm_limit=1)
    body = {"model": "local/preview", "size": "320x180", "seconds": "2"}
    with gw.http(busy) as http:
        assert http.post("/v1/videos", json={**BODY, **body}).status_code == 200
    result = estimate(gw, busy, **body)
    assert [r["code"] for r in result["reasons"]] == ["rate_limit_exceeded"]
    assert result["limits"]["rpm_used"] == 1 and result["admitted"] is False
    message = result["reasons"][0]["message"]  # only the limit the key has is named
    assert "1 of 1 creates in the last minute" in message and "None" not in message


@pytest.mark.parametrize(
    "body",
    [
        {"seconds": "7"},
        {"size": "12x12"},
        {"prompt": ""},
        {"model": "nope"},
        {"seconds": "four"},
    ],
)
def test_a_bad_field_is_the_same_error_as_a_create(gw: Gateway, body: dict[str, Any]) -> None:
    key = gw.new_key()
    with gw.http(key) as http:
        dry = http.post("/v1/videos/estimate", json={**BODY, **body})
        real = http.post("/v1/videos", json={**BODY, **body})
    assert dry.status_code == real.status_code and dry.status_code in (400, 404)
    assert dry.json() == real.json()
    assert videos(gw, key) == []


def test_estimate_is_in_openapi(gw: Gateway) -> None:
    with gw.http() as http:
        doc = http.get("/openapi.json").json()
    operation = doc["paths"]["/v1/videos/estimate"]["post"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/VideoEstimate"}
    assert "multipart/form-data" in operation["requestBody"]["content"]
