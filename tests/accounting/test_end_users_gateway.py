"""End users through real HTTP and the official SDK: each ``user`` of a key has a budget held,
settled and released like the key's, rate and parallel limits, overrides over the key's
defaults, blocks, isolation between keys, spend reports by end user, and no race past its
budget."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.accounting.test_budgets_gateway import PRICE_4S, Upstream, config, ended
from tests.accounting.test_budgets_gateway import clean as clean
from tests.accounting.test_budgets_gateway import upstreams as upstreams
from tests.routing.faults import openai_error
from tests.support import Gateway, running_gateway, wait_for

BODY = {"model": "sora", "prompt": "a kite", "size": "1280x720", "seconds": "4"}


@pytest.fixture(scope="module")
def gw(
    upstreams: tuple[Upstream, Upstream], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gw"), config(upstreams[0])) as gateway:
        yield gateway


def create(gw: Gateway, key: str, user: str | None, **body: Any) -> httpx.Response:
    payload = {**BODY, **body, **({} if user is None else {"user": user})}
    with gw.http(key) as http:
        return http.post("/v1/videos", json=payload)


def end_user(gw: Gateway, key: str, name: str) -> dict[str, Any]:
    with gw.http(key) as http:
        response = http.get("/customer/info", params={"end_user_id": name})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def money(gw: Gateway, key: str, name: str | None = None) -> tuple[float, float]:
    """Spend and reserved of the key (``name`` None) or of one of its end users."""
    if name is not None:
        data = end_user(gw, key, name)
    else:
        with gw.http(key) as http:
            data = http.get("/key/info").json()["info"]
    return round(data["spend"], 6), round(data["reserved"], 6)


def change(gw: Gateway, key: str, **body: Any) -> dict[str, Any]:
    with gw.http(key) as http:
        response = http.post("/customer/update", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_end_user_budget_refuses_once_spent_and_others_are_served(
    gw: Gateway, upstreams: tuple[Upstream, Upstream]
) -> None:
    key = gw.new_key(max_budget=5.0, end_user_limits={"max_budget": PRICE_4S})
    client = gw.sdk(key)
    video = client.videos.create(
        model="sora", prompt="a kite", size="1280x720", seconds="4", extra_body={"user": "alice"}
    )
    assert client.videos.poll(video.id, poll_interval_ms=50).status == "completed"
    assert wait_for(lambda: money(gw, key, "alice") == (PRICE_4S, 0.0))
    before = upstreams[0].faults.creates
    with pytest.raises(openai.RateLimitError) as refused:
        client.videos.create(
            model="sora", prompt="again", size="1280x720", seconds="4", extra_body={"user": "alice"}
        )
    error = refused.value.body
    assert isinstance(error, dict) and error["code"] == "insufficient_quota"
    assert error["message"].startswith("End user 'alice' of this key has spent $0.40 of its $0.40")
    assert upstreams[0].faults.creates == before  # no upstream call
    assert money(gw, key) == (PRICE_4S, 0.0)  # the key's own budget: untouched by the refusal
    bob = client.videos.create(
        model="sora", prompt="a kite", size="1280x720", seconds="4", extra_body={"user": "bob"}
    )
    assert bob.status in ("queued", "in_progress")
    assert create(gw, key, None).status_code == 200  # no user: not an end user's request


def test_settle_and_release_move_the_end_user_budget_as_the_key_budget(gw: Gateway) -> None:
    key = gw.new_key(max_budget=5.0, end_user_limits={"max_budget": 2.0, "budget_duration": "30d"})
    made = create(gw, key, "carol")
    assert made.status_code == 200, made.text
    assert money(gw, key, "carol") == (0.0, PRICE_4S) == money(gw, key)
    ended(gw, key, made.json()["id"])
    assert wait_for(lambda: money(gw, key, "carol") == (PRICE_4S, 0.0))
    assert money(gw, key) == (PRICE_4S, 0.0)
    failed = ended(gw, key, create(gw, key, "carol", prompt="[sim:fail] no").json()["id"])
    assert failed["status"] == "failed"
    assert wait_for(lambda: money(gw, key, "carol") == (PRICE_4S, 0.0))  # released, not charged
    slow = create(gw, key, "carol", prompt="[sim:slow] long").json()["id"]
    assert money(gw, key, "carol") == (PRICE_4S, PRICE_4S)
    with gw.http(key) as http:
        assert http.delete(f"/v1/videos/{slow}").status_code == 200
    assert money(gw, key, "carol") == (PRICE_4S, 0.0) == money(gw, key)
    shown = end_user(gw, key, "carol")
    assert shown["limits"]["max_budget"] == 2.0 and shown["limits"]["budget_duration"] == "30d"
    assert shown["total_spend"] == PRICE_4S and shown["budget_reset_at"] is not None


def test_overrides_beat_the_key_defaults(gw: Gateway) -> None:
    key = gw.new_key(end_user_limits={"max_budget": 0.3})  # less than one video
    refused = create(gw, key, "dave")
    assert refused.status_code == 429 and "End user 'dave'" in refused.json()["error"]["message"]
    shown = change(gw, key, user_id="dave", max_budget=1.0)
    assert shown["overrides"]["max_budget"] == 1.0 and shown["limits"]["max_budget"] == 1.0
    assert create(gw, key, "dave").status_code == 200
    assert create(gw, key, "erin").status_code == 429  # the default still holds for others
    cleared = change(gw, key, user_id="dave", max_budget=None)
    assert cleared["overrides"]["max_budget"] is None and cleared["limits"]["max_budget"] == 0.3
    assert create(gw, key, "dave").status_code == 429
    with gw.http() as http:  # new defaults reach end users at their next request
        update = http.post("/key/update", json={"key": key, "end_user_limits": None})
        assert update.status_code == 200 and update.json()["end_user_limits"]["max_budget"] is None
    assert wait_for(lambda: create(gw, key, "erin").status_code == 200)


def test_end_user_rate_limit(gw: Gateway) -> None:
    key = gw.new_key(end_user_limits={"rpm_limit": 1})
    assert create(gw, key, "frank").status_code == 200
    limited = create(gw, key, "frank")
    assert limited.status_code == 429
    error = limited.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["param"] == "user"
    assert (
        "end user 'frank'" in error["message"] and "1 video requests per minute" in error["message"]
    )
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["x-ratelimit-limit-requests"] == "1"
    assert create(gw, key, "grace").status_code == 200  # per end user
    assert create(gw, key, None).status_code == 200


def test_end_user_parallel_limit_frees_when_the_job_ends(gw: Gateway) -> None:
    key = gw.new_key()
    change(gw, key, user_id="heidi", max_parallel_requests=1)
    first = create(gw, key, "heidi")
    assert first.status_code == 200, first.text
    busy = create(gw, key, "heidi")
    assert busy.status_code == 429 and "1 jobs running at once" in busy.json()["error"]["message"]
    assert create(gw, key, "ivan").status_code == 200  # no default: others are not limited
    ended(gw, key, first.json()["id"])
    assert wait_for(lambda: create(gw, key, "heidi").status_code == 200)


def test_blocked_end_user_is_403_without_upstream_call(
    gw: Gateway, upstreams: tuple[Upstream, Upstream]
) -> None:
    key = gw.new_key()
    with gw.http(key) as http:
        blocked = http.post("/customer/block", json={"user_ids": ["judy"]})
        assert blocked.json() == {"user_ids": ["judy"], "blocked": True}
    before = upstreams[0].faults.creates
    with pytest.raises(openai.PermissionDeniedError) as refused:
        gw.sdk(key).videos.create(model="sora", prompt="x", extra_body={"user": "judy"})
    error = refused.value.body
    assert isinstance(error, dict) and error["code"] == "end_user_blocked"
    assert "'judy'" in error["message"] and error["param"] == "user"
    assert upstreams[0].faults.creates == before
    assert create(gw, key, "kim").status_code == 200
    with gw.http(key) as http:  # a block applies at once, though kim was just admitted
        assert http.post("/customer/block", json={"user_ids": ["kim"]}).status_code == 200
    assert create(gw, key, "kim").status_code == 403
    with gw.http(key) as http:
        assert http.post("/end_user/unblock", json={"user_ids": ["judy"]}).status_code == 200
    assert create(gw, key, "judy").status_code == 200


def test_keys_do_not_share_end_users(gw: Gateway) -> None:
    one = gw.new_key(end_user_limits={"max_budget": PRICE_4S})
    two = gw.new_key(end_user_limits={"max_budget": PRICE_4S})
    assert create(gw, one, "mallory").status_code == 200
    assert create(gw, one, "mallory").status_code == 429  # held in full by the first
    assert create(gw, two, "mallory").status_code == 200  # another key's mallory
    with gw.http(one) as http:
        http.post("/customer/block", json={"user_ids": ["nia"]})
    assert create(gw, two, "nia").status_code == 200
    with gw.http(two) as http:
        assert http.get("/customer/info", params={"end_user_id": "nia"}).json()["blocked"] is False
        assert http.get("/customer/info", params={"end_user_id": "oscar"}).status_code == 404
        one_id = gw_key_id(gw, one)
        other = http.get("/customer/list", params={"key": one_id})
        assert other.status_code == 404 and other.json()["error"]["param"] == "key"
        names = [u["user_id"] for u in http.get("/customer/list").json()["data"]]
    assert names == ["mallory", "nia"]


def gw_key_id(gw: Gateway, key: str) -> str:
    with gw.http(key) as http:
        return str(http.get("/key/info").json()["key_id"])


def test_spend_reports_and_lists_by_end_user(gw: Gateway) -> None:
    key, other = gw.new_key(), gw.new_key()
    jobs = [create(gw, key, "pat"), create(gw, key, "pat"), create(gw, key, "quinn")]
    jobs.append(create(gw, other, "pat"))
    for made, owner in zip(jobs, (key, key, key, other), strict=True):
        ended(gw, owner, made.json()["id"])

    def report(caller: str | None, **params: Any) -> dict[str, Any]:
        with gw.http(caller) as http:
            response = http.get("/spend/report", params={"group_by": "end_user", **params})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    wait_for(lambda: report(key)["totals"]["jobs"] == 3)
    rows = {row["group"]: row for row in report(key)["rows"]}
    assert rows["pat"]["jobs"] == 2 and rows["pat"]["cost_usd"] == 2 * PRICE_4S
    assert rows["quinn"]["jobs"] == 1
    everyone = report(None, user="pat")["rows"]  # the master key: one row per key's pat
    assert sorted(r["jobs"] for r in everyone) == [1, 2]
    assert {r["key_id"] for r in everyone} == {gw_key_id(gw, key), gw_key_id(gw, other)}
    with gw.http(key) as http:
        logs = http.get("/spend/logs", params={"user": "quinn"}).json()["data"]
        assert [row["end_user"] for row in logs] == ["quinn"]
        listed = http.get("/v1/videos", params={"user": "pat"}).json()["data"]
        assert len(listed) == 2
        csv = http.get("/spend/report", params={"group_by": "end_user", "format": "csv"})
        assert csv.text.splitlines()[0] == "group,key_id,jobs,completed,failed,seconds,cost_usd"
        users = {u["user_id"]: u for u in http.get("/customer/list").json()["data"]}
    assert users["pat"]["total_spend"] == 2 * PRICE_4S == users["pat"]["spend"]


def test_estimate_reports_the_end_user(gw: Gateway) -> None:
    key = gw.new_key(end_user_limits={"max_budget": 0.3, "rpm_limit": 5})
    with gw.http(key) as http:
        response = http.post("/v1/videos/estimate", json={**BODY, "user": "rita"})
        plain = http.post("/v1/videos/estimate", json=BODY).json()
    data = response.json()
    assert data["admitted"] is False and plain["admitted"] is True and plain["end_user"] is None
    [reason] = data["reasons"]
    assert reason["code"] == "insufficient_quota" and reason["budget"] == "end_user"
    assert data["end_user"]["user"] == "rita" and data["end_user"]["rpm_limit"] == 5
    assert data["end_user"]["budget"]["left"] == 0.3
    with gw.http(key) as http:  # a dry run registers nobody
        assert http.get("/customer/info", params={"end_user_id": "rita"}).status_code == 404


def test_concurrent_creates_of_one_end_user_never_exceed_its_budget(
    upstreams: tuple[Upstream, Upstream], tmp_path: Path
) -> None:
    with running_gateway(tmp_path / "gw", config(upstreams[0]), run_poller=False) as gw:
        key = gw.new_key(end_user_limits={"max_budget": 3 * PRICE_4S})

        def one(_: int) -> int:
            return create(gw, key, "sam").status_code

        with ThreadPoolExecutor(max_workers=24) as pool:
            codes = Counter(pool.map(one, range(24)))
        assert codes == {200: 3, 429: 21}
        assert money(gw, key, "sam") == (0.0, round(3 * PRICE_4S, 6))
        assert create(gw, key, "tom").status_code == 200


def test_failover_moves_the_end_user_hold_with_the_key_hold(
    upstreams: tuple[Upstream, Upstream], tmp_path: Path
) -> None:
    a, b = upstreams
    a.faults.set(openai_error(503, "down", "server_error"))
    with running_gateway(tmp_path / "gw", config(a, b)) as gw:
        key = gw.new_key(end_user_limits={"max_budget": 2.0})
        made = create(gw, key, "uma")
        assert made.headers["x-vidgate-deployment"] == "b"
        assert money(gw, key, "uma") == (0.0, PRICE_4S) == money(gw, key)  # A's $1.20 moved
        ended(gw, key, made.json()["id"])
        assert wait_for(lambda: money(gw, key, "uma") == (PRICE_4S, 0.0) == money(gw, key))


def test_jobs_in_flight_still_count_after_a_restart(
    upstreams: tuple[Upstream, Upstream], tmp_path: Path
) -> None:
    data = tmp_path / "gw"
    with running_gateway(data, config(upstreams[0]), run_poller=False) as gw:
        key = gw.new_key(end_user_limits={"max_parallel_requests": 1})
        assert create(gw, key, "vera").status_code == 200  # runs on: nobody polls it
        assert create(gw, key, "vera").status_code == 429
    with running_gateway(data, config(upstreams[0]), run_poller=False) as gw:
        refused = create(gw, key, "vera")
        assert refused.status_code == 429, refused.text  # seeded from the job still running
        assert "end user 'vera'" in refused.json()["error"]["message"]
        assert create(gw, key, "walt").status_code == 200
