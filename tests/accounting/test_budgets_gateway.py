"""The money path through real HTTP: reserve at submit, settle on completion, release on
every other end, budgets that hold under concurrency, periods, teams and key rate limits."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.routing.faults import Faults, openai_error
from tests.support import Gateway, running_gateway, serve, wait_for
from vidgate.providers.openai import simulator as openai_sim

PRICE_4S = 0.40  # sora-2, 4 s at 720p, $0.10/s


@dataclass
class Upstream:
    faults: Faults
    url: str


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[Upstream, Upstream]]:
    def sim(key: str) -> Faults:
        config = openai_sim.SimulatorConfig(
            api_key=key, job_seconds=0.3, queued_seconds=0.05, poll_after_ms=50
        )
        return Faults(openai_sim.create_app(config), r"/v1/videos(/[^/]+/remix)?")

    a, b = sim("sk-a"), sim("sk-b")
    with serve(a) as url_a, serve(b) as url_b:
        yield Upstream(a, url_a), Upstream(b, url_b)


@pytest.fixture(autouse=True)
def clean(upstreams: tuple[Upstream, Upstream]) -> None:
    for upstream in upstreams:
        upstream.faults.reset()


def config(a: Upstream, b: Upstream | None = None, **settings: Any) -> dict[str, Any]:
    entry = {"model_name": "sora", "provider": "openai", "poll_interval_s": 0.1}
    models = [{**entry, "id": "a", "model": "sora-2", "api_base": f"{a.url}/v1", "api_key": "sk-a"}]
    if b is not None:
        models[0]["model"] = "sora-2-pro"  # A is dearer: $0.30/s
        models.append(
            {
                **entry,
                "id": "b",
                "model": "sora-2",
                "api_base": f"{b.url}/v1",
                "api_key": "sk-b",
                "weight": 0,
            }
        )
    return {
        "model_list": models,
        "router": {"retry_backoff_s": 0},
        "settings": {"stale_after_s": 1.0, **settings},
    }


@pytest.fixture
def gw(upstreams: tuple[Upstream, Upstream], tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path / "gw", config(upstreams[0])) as gateway:
        yield gateway


def create(gw: Gateway, key: str, **body: Any) -> httpx.Response:
    payload = {"model": "sora", "prompt": "a kite", "size": "1280x720", "seconds": "4", **body}
    with gw.http(key) as http:
        return http.post("/v1/videos", json=payload)


def info(gw: Gateway, key: str) -> dict[str, Any]:
    with gw.http(key) as http:
        response = http.get("/key/info")
        assert response.status_code == 200, response.text
        return response.json()["info"]  # type: ignore[no-any-return]


def ended(gw: Gateway, key: str, video_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        with gw.http(key) as http:
            video = http.get(f"/v1/videos/{video_id}").json()
        return video if video["status"] in ("completed", "failed") else None

    video: dict[str, Any] = wait_for(done)
    return video


def money(gw: Gateway, key: str) -> tuple[float, float]:
    data = info(gw, key)
    return round(data["spend"], 6), round(data["reserved"], 6)


def test_reserve_then_settle_on_completion(gw: Gateway) -> None:
    key = gw.new_key(max_budget=1.0)
    response = create(gw, key)
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["cost_usd"] is None  # not settled yet
    assert money(gw, key) == (0.0, PRICE_4S)
    video = ended(gw, key, response.json()["id"])
    assert video["status"] == "completed"
    assert video["usage"]["cost_usd"] == PRICE_4S  # from the probed 4 s video
    assert wait_for(lambda: money(gw, key) == (PRICE_4S, 0.0))
    assert info(gw, key)["max_budget"] == 1.0


def test_failure_releases_and_charges_nothing(gw: Gateway) -> None:
    key = gw.new_key(max_budget=1.0)
    video = ended(gw, key, create(gw, key, prompt="[sim:fail] refused").json()["id"])
    assert video["status"] == "failed" and video["usage"]["cost_usd"] == 0.0
    assert money(gw, key) == (0.0, 0.0)


def test_refused_create_holds_nothing(gw: Gateway, upstreams: tuple[Upstream, Upstream]) -> None:
    key = gw.new_key(max_budget=1.0)
    assert create(gw, key, prompt="[sim:429] busy").status_code == 429
    assert money(gw, key) == (0.0, 0.0)


def test_deleting_a_running_job_releases(gw: Gateway) -> None:
    key = gw.new_key(max_budget=1.0)
    video_id = create(gw, key, prompt="[sim:slow] long").json()["id"]
    assert money(gw, key) == (0.0, PRICE_4S)
    with gw.http(key) as http:
        assert http.delete(f"/v1/videos/{video_id}").status_code == 200
    assert money(gw, key) == (0.0, 0.0)


def test_timeout_releases(upstreams: tuple[Upstream, Upstream], tmp_path: Path) -> None:
    cfg = config(upstreams[0], job_timeout_s=1.0)
    with running_gateway(tmp_path / "gw", cfg) as gw:
        key = gw.new_key(max_budget=1.0)
        video = ended(gw, key, create(gw, key, prompt="[sim:slow] too long").json()["id"])
        assert video["status"] == "failed" and video["error"]["code"] == "timeout"
        assert money(gw, key) == (0.0, 0.0)


def test_over_budget_is_429_insufficient_quota_without_upstream_call(
    gw: Gateway, upstreams: tuple[Upstream, Upstream]
) -> None:
    key = gw.new_key(max_budget=0.3)
    response = create(gw, key)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "insufficient_quota" and error["type"] == "insufficient_quota"
    assert upstreams[0].faults.creates == 0
    assert money(gw, key) == (0.0, 0.0)
    assert create(gw, key, seconds="4", size="720x1280").status_code == 429


def test_concurrent_creates_never_exceed_the_budget(
    upstreams: tuple[Upstream, Upstream], tmp_path: Path
) -> None:
    with running_gateway(tmp_path / "gw", config(upstreams[0]), run_poller=False) as gw:
        key = gw.new_key(max_budget=10 * PRICE_4S)

        def one(_: int) -> int:
            return create(gw, key).status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            codes = Counter(pool.map(one, range(50)))
        assert codes == {200: 10, 429: 40}
        spend, reserved = money(gw, key)
        assert spend + reserved <= 10 * PRICE_4S + 1e-9
        assert upstreams[0].faults.creates == 10


def test_fallback_is_charged_once_at_the_deployment_that_produced_it(
    upstreams: tuple[Upstream, Upstream], tmp_path: Path
) -> None:
    a, b = upstreams
    a.faults.set(openai_error(503, "down", "server_error"))
    with running_gateway(tmp_path / "gw", config(a, b)) as gw:
        key = gw.new_key(max_budget=2.0)
        response = create(gw, key)
        assert response.headers["x-vidgate-deployment"] == "b"
        assert money(gw, key) == (0.0, PRICE_4S)  # A's $1.20 hold was moved to B's price
        video = ended(gw, key, response.json()["id"])
        assert video["usage"]["cost_usd"] == PRICE_4S
        assert wait_for(lambda: money(gw, key) == (PRICE_4S, 0.0))


def test_budget_period_resets(gw: Gateway) -> None:
    key = gw.new_key(max_budget=PRICE_4S, budget_duration="1d")
    first = info(gw, key)
    assert first["budget_duration"] == "1d"
    assert first["budget_reset_at"] == pytest.approx(time.time() + 86400, abs=60)
    ended(gw, key, create(gw, key).json()["id"])
    wait_for(lambda: money(gw, key) == (PRICE_4S, 0.0))
    assert create(gw, key).status_code == 429  # spent for this period
    with sqlite3.connect(gw.data_dir / "vidgate.db") as db:  # the day passes
        db.execute(
            "UPDATE budgets SET budget_reset_at = ? WHERE id = ?",
            (time.time() - 5, f"key:{first['key_id']}"),
        )
    response = create(gw, key)
    assert response.status_code == 200, response.text
    after = info(gw, key)
    assert (after["spend"], after["reserved"]) == (0.0, PRICE_4S)
    assert after["budget_reset_at"] == pytest.approx(time.time() + 86400 - 5, abs=60)


def test_team_budget_spans_its_keys(gw: Gateway) -> None:
    with gw.http() as http:
        team = http.post("/team/new", json={"team_id": "studio", "max_budget": 2 * PRICE_4S})
        assert team.status_code == 200, team.text
    one, two = gw.new_key(team_id="studio"), gw.new_key(team_id="studio")
    assert create(gw, one).status_code == 200
    assert create(gw, two).status_code == 200
    third = create(gw, two)
    assert third.status_code == 429 and "team budget" in third.json()["error"]["message"]
    with gw.http() as http:
        team_info = http.get("/team/info", params={"team_id": "studio"}).json()
    assert team_info["reserved"] == pytest.approx(2 * PRICE_4S)


def test_key_rpm_limit(gw: Gateway) -> None:
    key = gw.new_key(rpm_limit=2)
    assert create(gw, key).status_code == 200
    assert create(gw, key).status_code == 200
    response = create(gw, key)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["x-ratelimit-limit-requests"] == "2"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert create(gw, gw.new_key(rpm_limit=2)).status_code == 200  # per key


def test_key_parallel_jobs_limit(gw: Gateway) -> None:
    key = gw.new_key(max_parallel_requests=1)
    first = create(gw, key).json()["id"]
    blocked = create(gw, key)
    assert blocked.status_code == 429 and "retry-after" in blocked.headers
    ended(gw, key, first)
    assert wait_for(lambda: create(gw, key).status_code == 200)


def test_key_info_and_update_budget_fields(gw: Gateway) -> None:
    key = gw.new_key()
    data = info(gw, key)
    assert (data["max_budget"], data["spend"], data["reserved"]) == (None, 0.0, 0.0)
    with gw.http() as http:
        bad = http.post("/key/update", json={"key": key, "max_budget": -1})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "max_budget"
        bad = http.post("/key/update", json={"key": key, "budget_duration": "weekly"})
        assert bad.status_code == 400 and "'1d'" in bad.json()["error"]["message"]
        ok = http.post("/key/update", json={"key": key, "max_budget": 5, "rpm_limit": 10})
        assert ok.status_code == 200, ok.text
    data = info(gw, key)
    assert data["max_budget"] == 5.0 and data["rpm_limit"] == 10
    assert key not in str(data)
