"""Real replies match ``/openapi.json``: each route is called over HTTP and its 200 body is
validated against the schema the document gives it, so a reply model cannot drift from what
the route sends (the models in ``api/openapi_models.py`` are never used by the routes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.support import Gateway, running_gateway, wait_for
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks_gateway import create_video, finished, gateway_config, settled
from tests.webhooks.test_webhooks_gateway import receiver as receiver
from tests.webhooks.test_webhooks_gateway import sim_url as sim_url

UNDESCRIBED = {
    ("get", "/health"),  # open routes, outside the key-holding API
    ("get", "/metrics"),
    ("get", "/config"),
    ("post", "/v2/video/generations"),  # aimlapi's and new-api's own shapes
    ("get", "/v2/video/generations"),
    ("post", "/v2/generate/video/{vendor}/generation"),
    ("get", "/v2/generate/video/{vendor}/generation"),
    ("get", "/v1/video/generations/{task_id}"),
}
"""Operations whose JSON reply the document does not describe yet."""


@pytest.fixture(scope="module")
def gw(sim_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gw"), gateway_config(sim_url)) as gw:
        yield gw


class Replies:
    """Calls routes and validates each 200 reply against the document's schema for it."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        with gw.http() as http:
            self.doc: dict[str, Any] = http.get("/openapi.json").json()
        self.checked: set[tuple[str, str]] = set()

    def call(
        self, method: str, route: str, key: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """``route`` is the document's path template; ``path`` (if given) the URL to call."""
        path = kwargs.pop("path", route)
        with self.gw.http(key) as http:
            response = http.request(method, path, **kwargs)
        assert response.status_code == 200, (route, response.text)
        self.validate(method, route, response)
        body: dict[str, Any] = response.json()
        return body

    def validate(self, method: str, route: str, response: httpx.Response) -> None:
        errors = self.errors(method, route, response.json())
        assert not errors, (method, route, errors)
        self.checked.add((method.lower(), route))

    def errors(self, method: str, route: str, body: Any) -> list[str]:
        reply = self.doc["paths"][route][method.lower()]["responses"]["200"]["content"]
        schema = reply["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": self.doc["components"]})
        return [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(body)
        ]


def _undescribed(operation: dict[str, Any]) -> bool:
    """No 200 reply, or a JSON one without a schema (media types such as video/mp4 count)."""
    content = operation["responses"].get("200", {}).get("content")
    if not content:
        return True
    return "application/json" in content and not content["application/json"].get("schema")


def test_every_json_reply_is_described(gw: Gateway) -> None:
    doc = Replies(gw).doc
    missing = {
        (method, path)
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
        if _undescribed(operation)
    }
    assert missing == UNDESCRIBED


def test_replies_match_the_document(gw: Gateway, receiver: Receiver) -> None:
    r = Replies(gw)
    # teams, users and keys
    team = {"team_id": "t-openapi", "max_budget": 50, "budget_duration": "30d"}
    r.call("POST", "/team/new", json=team)
    r.call("GET", "/team/info", params={"team_id": "t-openapi"})
    r.call("POST", "/team/update", json={"team_id": "t-openapi", "max_budget": 40})
    r.call("POST", "/user/new", json={"user_id": "u-openapi"})
    r.call("GET", "/user/info", params={"user_id": "u-openapi"})
    r.call("POST", "/user/update", json={"user_id": "u-openapi", "max_budget": 5})
    made = r.call(
        "POST",
        "/key/generate",
        json={"key_alias": "openapi", "team_id": "t-openapi", "user_id": "u-openapi"},
    )
    key = made["key"]
    r.call("POST", "/key/update", json={"key": made["key_id"], "rpm_limit": 1000})
    assert r.call("GET", "/key/info")["info"]["admin"] is True  # the master key
    assert len(r.call("GET", "/key/info", key)["info"]["budgets"]) == 3
    r.call("GET", "/key/info", params={"key": made["key_id"]})
    r.call("GET", "/key/list")
    r.call("GET", "/v1/models", key)
    r.call("GET", "/models")
    # a webhook endpoint, a job and its delivery
    hook = r.call("POST", "/v1/webhooks", key, json={"url": receiver.url(receiver.new_path())})
    r.call("GET", "/v1/webhooks", key)
    r.call("GET", "/webhooks/{webhook_id}", key, path=f"/webhooks/{hook['id']}")
    body = {"model": "local/preview", "prompt": "a lighthouse", "size": "320x180"}
    r.call("POST", "/v1/videos/estimate", key, json=body)
    video_id = create_video(gw, key, **body, seconds="2")
    finished(gw, key, video_id)
    [delivery] = settled(gw, key, hook["id"])
    deliveries = f"/v1/webhooks/{hook['id']}/deliveries"
    r.call("GET", "/v1/webhooks/{webhook_id}/deliveries", key, path=deliveries)
    r.call(
        "POST",
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        key,
        path=f"{deliveries}/{delivery['id']}/redeliver",
    )
    settled(gw, key, hook["id"])
    for caller in (None, key):  # the master key sees the upstream fields
        record = r.call("GET", "/jobs/{video_id}", caller, path=f"/jobs/{video_id}")
        assert record["webhook_deliveries"] and record["request"]["images"] == []
    # the operator's listings and spend
    assert r.call("GET", "/admin/jobs")["data"]
    wait_for(lambda: r.call("GET", "/admin/requests", params={"limit": 5})["data"])
    for caller in (None, key):
        assert r.call("GET", "/spend/logs", caller)["data"]
        r.call("GET", "/spend/report", caller, params={"group_by": "day"})
    with gw.http() as http:
        csv = http.get("/spend/logs", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert "text/csv" in r.doc["paths"]["/spend/logs"]["get"]["responses"]["200"]["content"]
    r.call("GET", "/health/deployments")
    r.call("POST", "/config/reload")
    # deletes
    r.call("DELETE", "/v1/webhooks/{webhook_id}", key, path=f"/v1/webhooks/{hook['id']}")
    r.call("POST", "/key/delete", json={"keys": [made["key_id"]]})
    assert {
        ("get", "/admin/jobs"),
        ("get", "/admin/requests"),
        ("post", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"),
        ("get", "/jobs/{video_id}"),
        ("get", "/health/deployments"),
        ("post", "/config/reload"),
    } <= r.checked
    assert len(r.checked) >= 25


def test_the_check_catches_a_reply_that_differs(gw: Gateway) -> None:
    """The validation is not vacuous: a field missing, mistyped or of an unknown value fails."""
    r = Replies(gw)
    page: dict[str, Any] = {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    assert r.errors("GET", "/admin/requests", page) == []
    assert r.errors("GET", "/admin/requests", {**page, "has_more": "no"})
    assert r.errors("GET", "/admin/requests", {k: v for k, v in page.items() if k != "data"})
    row = {"seq": 1, "at": 1.0, "request_id": "r", "method": "GET", "route": "/x"}
    assert r.errors("GET", "/admin/requests", {**page, "data": [row]})  # status_code, ...
    health = {"healthy_count": 0, "unhealthy_count": 0, "deployments": [{"id": "x"}]}
    assert r.errors("GET", "/health/deployments", health)
    assert r.errors(
        "POST", "/config/reload", {"reloaded": False, "added": [], "changed": [], "removed": []}
    )
