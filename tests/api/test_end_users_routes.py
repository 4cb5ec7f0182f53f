"""The end-user routes over real HTTP: ``/customer/*`` (LiteLLM's names) and ``/end_user/*``,
their 400s naming the field, the master key acting for a key, 404 for another key's, key
defaults on the key routes, replies as ``/openapi.json`` describes them, and ``vidgate
spend --group-by end_user``."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.accounting.test_spend_gateway import insert_spend
from tests.api.test_openapi_replies import Replies
from tests.cli.run import vidgate
from tests.support import Gateway, running_gateway
from vidgate.accounting.end_users import MAX_CONFIGURED

LOCAL = {"model_name": "local/preview", "provider": "local", "model": "preview"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = {"model_list": [LOCAL], "settings": {"local_workers": 1}}
    with running_gateway(tmp_path_factory.mktemp("gw"), config, run_poller=False) as gateway:
        yield gateway


def post(gw: Gateway, key: str | None, path: str, body: Any) -> httpx.Response:
    with gw.http(key) as http:
        return http.post(path, json=body)


def error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    found: dict[str, Any] = response.json()["error"]
    return found


def test_bad_input_is_a_400_naming_the_field(gw: Gateway) -> None:
    key = gw.new_key()
    cases = [
        ({"user_id": "a", "max_budget": -1}, "max_budget"),
        ({"user_id": "a", "budget_duration": "weekly"}, "budget_duration"),
        ({"user_id": "a", "rpm_limit": 0}, "rpm_limit"),
        ({"user_id": "a", "max_parallel_requests": "2"}, "max_parallel_requests"),
        ({"user_id": "a", "blocked": "yes"}, "blocked"),
        ({"user_id": "a", "tpm_limit": 5}, "tpm_limit"),
        ({"max_budget": 1}, "user_id"),
        ({"user_id": "x" * 201}, "user_id"),
        ({"user_id": "a", "end_user": "b"}, "user_id"),
    ]
    for body, param in cases:
        assert error(post(gw, key, "/customer/update", body))["param"] == param, body
    assert error(post(gw, key, "/customer/block", {"user_ids": []}))["param"] == "user_ids"
    assert error(post(gw, key, "/customer/block", {"user_ids": [3]}))["param"] == "user_ids"
    with gw.http(key) as http:
        assert error(http.get("/customer/info"))["param"] == "end_user_id"
        assert error(http.get("/customer/list", params={"limit": "0"}))["param"] == "limit"
        assert error(http.get("/customer/list", params={"user": "a"}))["param"] == "user"
    bad = post(gw, None, "/key/generate", {"end_user_limits": {"rpm_limit": -1}})
    assert error(bad)["param"] == "end_user_limits.rpm_limit"
    bad = post(gw, None, "/key/generate", {"end_user_limits": {"tpm_limit": 1}})
    assert error(bad)["param"] == "end_user_limits.tpm_limit"
    assert error(post(gw, None, "/key/generate", {"end_user_limits": 5}))["param"] == (
        "end_user_limits"
    )


def test_new_info_update_list_and_delete(gw: Gateway) -> None:
    key = gw.new_key(end_user_limits={"max_budget": 2, "rpm_limit": 10})
    made = post(gw, key, "/customer/new", {"user_id": "ann", "max_budget": 5})
    assert made.status_code == 200, made.text
    ann = made.json()
    assert ann["overrides"]["max_budget"] == 5 and ann["overrides"]["rpm_limit"] is None
    assert ann["limits"] == {
        "max_budget": 5.0,
        "budget_duration": None,
        "rpm_limit": 10,
        "max_parallel_requests": None,
    }
    again = post(gw, key, "/customer/new", {"user_id": "ann"})
    assert error(again, 409)["code"] == "conflict"
    changed = post(gw, key, "/end_user/update", {"end_user": "ann", "rpm_limit": 3}).json()
    assert changed["limits"]["rpm_limit"] == 3 and changed["limits"]["max_budget"] == 5.0
    for name in ("cy", "bo", "dee"):
        assert post(gw, key, "/customer/update", {"user_id": name}).status_code == 200
    with gw.http(key) as http:
        first = http.get("/customer/list", params={"limit": 2}).json()
        rest = http.get("/customer/list", params={"after": first["last_id"]}).json()
        shown = http.get("/customer/info", params={"user_id": "ann"}).json()
    assert [u["user_id"] for u in first["data"]] == ["ann", "bo"] and first["has_more"]
    assert [u["user_id"] for u in rest["data"]] == ["cy", "dee"] and not rest["has_more"]
    assert shown == changed
    gone = post(gw, key, "/customer/delete", {"user_ids": ["ann", "bo"]})
    assert gone.json() == {"user_ids": ["ann", "bo"], "blocked": None}
    with gw.http(key) as http:
        assert http.get("/customer/info", params={"end_user_id": "ann"}).status_code == 404
        names = [u["user_id"] for u in http.get("/end_user/list").json()["data"]]
    assert names == ["cy", "dee"]


def test_master_key_names_the_key_and_keys_see_only_their_own(gw: Gateway) -> None:
    key, other = gw.new_key(key_alias="eu-owner"), gw.new_key()
    assert error(post(gw, None, "/customer/update", {"user_id": "zed"}))["param"] == "key"
    done = post(gw, None, "/customer/block", {"user_ids": ["zed"], "key": "eu-owner"})
    assert done.json() == {"user_ids": ["zed"], "blocked": True}
    with gw.http() as http:
        listed = http.get("/customer/list", params={"key": "eu-owner"}).json()["data"]
        assert error(http.get("/customer/list", params={"key": "nope"}), 404)["param"] == "key"
    assert [(u["user_id"], u["blocked"]) for u in listed] == [("zed", True)]
    with gw.http(key) as http:
        assert http.get("/customer/info", params={"end_user_id": "zed"}).json()["blocked"]
        assert http.get("/customer/list", params={"key": "eu-owner"}).status_code == 200
    with gw.http(other) as http:
        assert error(http.get("/customer/info", params={"end_user_id": "zed"}), 404)
        refused = http.get("/customer/list", params={"key": "eu-owner"})
        assert error(refused, 404)["param"] == "key"
    refused = post(gw, other, "/customer/unblock", {"user_ids": ["zed"], "key": "eu-owner"})
    assert error(refused, 404)["param"] == "key"


def test_a_virtual_key_may_name_itself_by_id_alias_or_the_key(gw: Gateway) -> None:
    """As docs/end_users.md says for ``key``; another key named by its key is still 404."""
    key, other = gw.new_key(key_alias="eu-self"), gw.new_key()
    with gw.http(key) as http:
        key_id = http.get("/key/info").json()["key_id"]
    for ref in (key_id, "eu-self", key):
        body = {"user_ids": ["yan"], "key": ref}
        assert post(gw, key, "/customer/block", body).status_code == 200, ref
        with gw.http(key) as http:
            listed = http.get("/customer/list", params={"key": ref})
        assert listed.status_code == 200 and listed.json()["data"][0]["user_id"] == "yan"
    refused = post(gw, other, "/customer/block", {"user_ids": ["yan"], "key": key})
    assert error(refused, 404)["param"] == "key"
    assert key not in refused.text


def test_the_routes_add_end_users_only_up_to_the_cap(gw: Gateway) -> None:
    """A key cannot fill the table through /customer/*: past MAX_CONFIGURED rows it may
    change the end users it has, not add more (its requests still register theirs)."""
    key = gw.new_key()
    with gw.http(key) as http:
        key_id = http.get("/key/info").json()["key_id"]
    now = time.time()
    rows = [(key_id, f"seeded-{n}", now) for n in range(MAX_CONFIGURED - 2)]
    with sqlite3.connect(gw.data_dir / "vidgate.db") as db:
        db.executemany(
            "INSERT INTO end_users (key_id, end_user, blocked, created_at, updated_at) "
            "VALUES (?, ?, 0, ?, ?)",
            [(*row, now) for row in rows],
        )
    assert post(gw, key, "/customer/new", {"user_id": "one-more"}).status_code == 200
    full = error(post(gw, key, "/customer/block", {"user_ids": ["seeded-1", "x", "y"]}))
    assert (full["param"], full["code"]) == ("user_ids", "end_user_limit_reached")
    assert f"at most {MAX_CONFIGURED}" in full["message"]
    assert post(gw, key, "/customer/block", {"user_ids": ["seeded-1", "x"]}).status_code == 200
    assert error(post(gw, key, "/customer/update", {"user_id": "z"}))["param"] == "user_id"
    assert error(post(gw, key, "/customer/new", {"user_id": "y"}))["param"] == "user_id"
    changed = post(gw, key, "/customer/update", {"user_id": "seeded-7", "rpm_limit": 2})
    assert changed.status_code == 200  # one it has: always
    assert post(gw, key, "/customer/delete", {"user_ids": ["x"]}).status_code == 200
    assert post(gw, key, "/customer/new", {"user_id": "y"}).status_code == 200


def test_key_routes_show_and_change_end_user_defaults(gw: Gateway) -> None:
    limits = {"max_budget": 1.5, "budget_duration": "7d", "max_parallel_requests": 2}
    made = post(gw, None, "/key/generate", {"end_user_limits": limits}).json()
    assert made["end_user_limits"] == {**limits, "rpm_limit": None}
    with gw.http() as http:
        info = http.get("/key/info", params={"key": made["key_id"]}).json()["info"]
        assert info["end_user_limits"]["budget_duration"] == "7d"
        listed = {k["key_id"]: k for k in http.get("/key/list").json()["keys"]}
        assert listed[made["key_id"]]["end_user_limits"]["max_budget"] == 1.5
    changed = post(gw, None, "/key/update", {"key": made["key_id"], "end_user_limits": {}})
    assert changed.json()["end_user_limits"]["max_budget"] is None


def test_replies_match_the_document(gw: Gateway) -> None:
    r = Replies(gw)
    key = gw.new_key(end_user_limits={"max_budget": 1})
    r.call("POST", "/customer/new", key, json={"user_id": "doc", "rpm_limit": 5})
    r.call("POST", "/customer/update", key, json={"user_id": "doc", "blocked": False})
    r.call("GET", "/customer/info", key, params={"end_user_id": "doc"})
    r.call("GET", "/customer/list", key)
    r.call("POST", "/customer/block", key, json={"user_ids": ["doc"]})
    r.call("POST", "/end_user/unblock", key, json={"user_ids": ["doc"]})
    body = {"model": "local/preview", "prompt": "x", "size": "320x180", "user": "doc"}
    estimate = r.call("POST", "/v1/videos/estimate", key, json=body)
    assert estimate["end_user"]["user"] == "doc"
    r.call("GET", "/spend/report", key, params={"group_by": "end_user"})
    r.call("GET", "/spend/logs", key, params={"user": "doc"})
    r.call("POST", "/customer/delete", key, json={"user_ids": ["doc"]})
    r.call("GET", "/key/info", key)
    assert len(r.checked) == 11


def test_cli_spend_by_end_user(gw: Gateway, tmp_path: Path) -> None:
    now = time.time()
    base = {"provider": "local", "model": "local/preview", "settled_at": now - 10}
    insert_spend(
        gw.data_dir / "vidgate.db",
        [
            {**base, "key_id": "key_cli_a", "end_user": "uma", "cost_usd": 0.5},
            {**base, "key_id": "key_cli_a", "end_user": "uma", "cost_usd": 0.25},
            {**base, "key_id": "key_cli_b", "end_user": "uma", "cost_usd": 0.1},
            {**base, "key_id": "key_cli_a", "end_user": "vic", "cost_usd": 0.2},
        ],
    )
    env = {"VIDGATE_BASE_URL": gw.url, "VIDGATE_API_KEY": gw.master_key, "COLUMNS": "200"}
    result = vidgate(
        "spend", "--group-by", "end_user", "--start", "2020-01-01", env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    cells = [line.replace("\u2502", " ").split() for line in result.stdout.splitlines()]
    rows = [row for row in cells if row and row[0] in ("uma", "vic")]
    assert rows == [
        ["uma", "key_cli_a", "2", "2", "0", "8", "$0.7500"],
        ["vic", "key_cli_a", "1", "1", "0", "4", "$0.2000"],
        ["uma", "key_cli_b", "1", "1", "0", "4", "$0.1000"],
    ]
    result = vidgate("spend", "--logs", "--user", "vic", env=env, cwd=tmp_path)
    assert result.returncode == 0 and "total over the range: $0.2000" in result.stdout
