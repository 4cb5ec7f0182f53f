"""The gateway's own share of a request's time: ``x-vidgate-overhead-ms`` and its histogram.

The simulator waits a known time before answering a create, so the create's overhead must
leave that wait out: it is at most what the client measured less the upstream's delay.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Gateway, running_gateway, serve
from vidgate.providers.openai import simulator as openai_sim

UPSTREAM_KEY = "sk-upstream-overhead-0123456789"
DELAY_MS = 400.0


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = openai_sim.SimulatorConfig(
        api_key=UPSTREAM_KEY, job_seconds=3600, submit_latency_ms=DELAY_MS
    )
    with serve(openai_sim.create_app(config)) as upstream:
        model = {
            "model_name": "sora",
            "provider": "openai",
            "model": "sora-2",
            "api_base": f"{upstream}/v1",
            "api_key": UPSTREAM_KEY,
        }
        data = Path(tmp_path_factory.mktemp("overhead"))
        with running_gateway(data, {"model_list": [model]}) as gateway:
            yield gateway


def overhead_ms(headers: object) -> float:
    value = headers["x-vidgate-overhead-ms"]  # type: ignore[index]
    number = float(value)
    assert number >= 0.0
    return number


def test_a_create_reports_its_overhead_without_the_upstream_wait(gw: Gateway) -> None:
    body = {"model": "sora", "prompt": "a kite", "size": "1280x720", "seconds": "4"}
    with gw.http(gw.new_key()) as http:
        began = time.perf_counter()
        created = http.post("/v1/videos", json=body)
        elapsed_ms = (time.perf_counter() - began) * 1000
        assert created.status_code == 200, created.text
        assert elapsed_ms >= DELAY_MS  # the upstream's wait is in what the client saw ...
        assert overhead_ms(created.headers) <= elapsed_ms - DELAY_MS  # ... not in the overhead

        retrieved = http.get(f"/v1/videos/{created.json()['id']}")  # the fast path
        assert retrieved.status_code == 200
        overhead_ms(retrieved.headers)
        missing = http.get("/v1/videos/video_nope")
        assert missing.status_code == 404
        overhead_ms(missing.headers)


def test_an_error_before_any_route_still_reports_it(gw: Gateway) -> None:
    with gw.http("sk-not-a-key") as http:
        refused = http.get("/v1/videos")
    assert refused.status_code == 401
    overhead_ms(refused.headers)


def test_the_histogram_counts_each_route(gw: Gateway) -> None:
    body = {"model": "sora", "prompt": "a boat", "size": "1280x720", "seconds": "4"}
    with gw.http(gw.new_key()) as http:
        before = creates_observed(gw)
        assert http.post("/v1/videos", json=body).status_code == 200
        assert http.post("/v1/videos", json=body).status_code == 200
    count, total = creates_observed(gw)
    assert count == before[0] + 2
    assert total > before[1]  # the gateway's own time is never nothing


def creates_observed(gw: Gateway) -> tuple[float, float]:
    """(count, sum) of the overhead histogram for ``POST /v1/videos``."""
    with gw.http(gw.master_key) as http:
        text = http.get("/metrics").text
    count = total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != "vidgate_gateway_overhead_seconds":
            continue
        for sample in family.samples:
            if sample.labels.get("route") != "/v1/videos" or sample.labels["method"] != "POST":
                continue
            if sample.name.endswith("_count"):
                count = sample.value
            elif sample.name.endswith("_sum"):
                total = sample.value
    return count, total
