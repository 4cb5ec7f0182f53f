"""Values that parse as JSON but cannot be stored or echoed are 400s naming the field.

Each case once answered 500 (and dropped the keep-alive connection): 5,000-digit integers,
nesting past the recursion limit, lone surrogate escapes, integers past 64 bits, and
``1e400`` — which, once stored, broke ``/key/list`` and ``/team/info`` for good. Every
request here goes over one connection, so a 500 that dropped it would fail the next one.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import Gateway

HUGE_INT = "9" * 5000
DEEP = "[" * 100_000 + "]" * 100_000


def _raw(client: httpx.Client, path: str, body: str) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


def _assert_400(response: httpx.Response, param: str | None) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and isinstance(error["message"], str)
    assert error["code"] in ("invalid_value", "invalid_json", "invalid_request"), error
    assert error["param"] == param, error
    if param:
        assert param in error["message"]


CREATE_CASES = [
    (f'{{"prompt": "a", "seconds": {HUGE_INT}}}', "seconds"),
    (f'{{"prompt": "a", "metadata": {{"x": -{HUGE_INT}}}}}', "metadata.x"),
    (f'{{"prompt": "a", "metadata": {{"x": {DEEP}}}}}', None),
    ('{"prompt": "a\\ud800b"}', "prompt"),
    ('{"prompt": "a", "user": "\\udfff"}', "user"),
    ('{"prompt": "a\\u0000b"}', "prompt"),
    ('{"prompt": "a", "metadata": {"x": 1e400}}', "metadata.x"),
    ('{"prompt": "a", "metadata": {"x": NaN}}', "metadata.x"),
    ('{"prompt": "a", "metadata": {"x": [1, -Infinity]}}', "metadata.x[1]"),
    ('{"prompt": "a", "seconds": 18446744073709551616}', "seconds"),
]


@pytest.mark.parametrize(("body", "param"), CREATE_CASES)
def test_create_refuses_unstorable_values(gateway: Gateway, body: str, param: str | None) -> None:
    with gateway.http() as client:
        _assert_400(_raw(client, "/v1/videos", body), param)
        assert client.get("/v1/videos").status_code == 200  # the connection survived


def test_deep_nesting_below_the_recursion_limit_is_refused_too(gateway: Gateway) -> None:
    nested = "[" * 500 + "]" * 500  # json parses this; later layers recurse on it
    with gateway.http() as client:
        response = _raw(client, "/v1/videos", f'{{"prompt": "a", "metadata": {{"x": {nested}}}}}')
        assert response.status_code == 400 and "nested too deeply" in response.text


def test_webhook_url_with_a_lone_surrogate(gateway: Gateway) -> None:
    with gateway.http() as client:
        body = '{"url": "https://example.com/\\ud800"}'
        _assert_400(_raw(client, "/v1/webhooks", body), "url")
        assert client.get("/v1/webhooks").status_code == 200


ADMIN_CASES: list[tuple[str, dict[str, Any] | str, str]] = [
    ("/key/generate", {"rpm_limit": 2**63}, "rpm_limit"),
    ("/key/generate", {"rpm_limit": 2**40}, "rpm_limit"),
    ("/key/generate", {"max_parallel_requests": 2**70}, "max_parallel_requests"),
    ("/key/generate", '{"max_budget": 1e400}', "max_budget"),
    ("/key/generate", {"max_budget": 1e300}, "max_budget"),
    ("/key/generate", '{"expires": 1e400}', "expires"),
    ("/key/generate", {"expires": 1e300}, "expires"),
    ("/key/generate", {"duration": HUGE_INT + "d"}, "duration"),
    ("/key/generate", {"budget_duration": HUGE_INT + "d"}, "budget_duration"),
    ("/key/generate", '{"metadata": {"a": 1e400}}', "metadata.a"),
    ("/team/new", '{"max_budget": 1e400}', "max_budget"),
    ("/team/new", {"team_id": "t", "budget_duration": "99999999d"}, "budget_duration"),
    ("/user/new", '{"user_id": "u\\ud800"}', "user_id"),
]


@pytest.mark.parametrize(("path", "body", "param"), ADMIN_CASES)
def test_admin_refuses_out_of_range_values_and_stores_nothing(
    fresh_gateway: Gateway, path: str, body: dict[str, Any] | str, param: str
) -> None:
    with fresh_gateway.http() as client:
        if isinstance(body, str):
            response = _raw(client, path, body)
        else:
            response = client.post(path, json=body)
        _assert_400(response, param)
        listed = client.get("/key/list")
        assert listed.status_code == 200 and listed.json()["total_count"] == 0
        for kind in ("team", "user"):
            info = client.get(f"/{kind}/info", params={f"{kind}_id": "t"})
            assert info.status_code == 404, info.text


def test_in_range_limits_still_work(gateway: Gateway) -> None:
    with gateway.http() as client:
        response = client.post(
            "/key/generate",
            json={"rpm_limit": 1_000_000_000, "max_budget": 1e12, "expires": 4_102_444_800},
        )
        assert response.status_code == 200, response.text
        info = client.get("/key/info", params={"key": response.json()["key"]})
        assert info.status_code == 200 and info.json()["info"]["rpm_limit"] == 1_000_000_000


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ('{"x": 1e400}', "metadata.x"),
        ('{"x": "\\ud800"}', "metadata.x"),
        ('{"x": [18446744073709551616]}', "metadata.x[0]"),
        ('{"x": "a\\u0000b"}', "metadata.x"),
    ],
)
def test_metadata_sent_as_a_json_string_follows_the_same_rules(
    gateway: Gateway, metadata: str, param: str
) -> None:
    with gateway.http() as client:
        data = {"prompt": "a", "metadata": metadata}
        _assert_400(client.post("/v1/videos", data=data), param)


def test_an_error_quoting_a_huge_value_stays_small(gateway: Gateway) -> None:
    huge = "x" * 1_000_000
    with gateway.http() as client:
        response = client.post("/v1/videos", json={"prompt": "a", "size": huge})
        assert response.status_code == 400 and len(response.content) < 10_000
        error = response.json()["error"]
        assert error["param"] == "size" and error["message"].startswith("Invalid value for 'size'")
        response = client.post("/v1/videos", json={"prompt": "a", "metadata": {huge: 1}})
        assert response.status_code == 400 and len(response.content) < 10_000
