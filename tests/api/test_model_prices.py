"""``GET /v1/models`` shows each model's list price beside what it takes: USD per second by
resolution tier, and the config's own price where a deployment sets one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import Gateway, running_gateway

SIM = "http://127.0.0.1:9/v1"  # never called: listing models makes no upstream call


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    sora = {"model_name": "sora", "provider": "openai", "model": "sora-2", "api_base": SIM}
    own = {
        "model_name": "house",
        "provider": "openai",
        "model": "sora-2",
        "api_base": SIM,
        "pricing": {"per_second": {"720p": 0.07, "1080p": 0.2}},
    }
    kling = {
        "model_name": "kling",
        "provider": "kling",
        "model": "kling-v2-1",
        "api_base": SIM,
        "api_key": "ak",
        "options": {"secret_key": "sk"},
    }
    local = {"model_name": "local/preview", "provider": "local", "model": "preview"}
    config = {"model_list": [sora, own, kling, local]}
    with running_gateway(tmp_path_factory.mktemp("gw"), config) as gateway:
        yield gateway


def models(gw: Gateway) -> dict[str, Any]:
    with gw.http() as http:
        listed = http.get("/v1/models")
    assert listed.status_code == 200, listed.text
    return {model["id"]: model for model in listed.json()["data"]}


def test_list_prices_per_second_by_tier(gw: Gateway) -> None:
    found = models(gw)
    sora = found["sora"]["pricing"]
    assert sora["usd_per_second"] == {"720p": 0.1} and sora["billed_in"] == "usd"
    assert sora["source"]  # where the price comes from
    assert found["house"]["pricing"] == {
        "usd_per_second": {"720p": 0.07, "1080p": 0.2},
        "usd_per_second_with_audio": None,
        "billed_in": "usd",
        "source": "config",
    }
    assert found["local/preview"]["pricing"]["usd_per_second"] == {"*": 0.0}  # free


def test_a_price_billed_in_units_is_shown_in_usd(gw: Gateway) -> None:
    kling = models(gw)["kling"]["pricing"]
    assert kling["billed_in"] != "usd"  # Kling bills in its own units
    assert all(0 < rate < 5 for rate in kling["usd_per_second"].values())  # converted to USD
