"""Real replies match ``/openapi.json``: each route is called over HTTP and its JSON body is
validated against the schema the document gives its success status (200, or aimlapi's 201),
so a reply model cannot drift from what the route sends (the models in
``api/openapi_models.py`` are never used by the routes)."""

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

UNDESCRIBED: set[tuple[str, str]] = set()
"""Operations whose reply the document does not describe: none. ``/metrics`` is described as
``text/plain`` (Prometheus text), so it is outside the JSON check and tested on its own."""


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
        self, method: str, route: str, key: str | None = None, status: int = 200, **kwargs: Any
    ) -> Any:
        """``route`` is the document's path template; ``path`` (if given) the URL to call;
        ``status`` the success status the route answers and the document describes."""
        path = kwargs.pop("path", route)
        with self.gw.http(key) as http:
            response = http.request(method, path, **kwargs)
        assert response.status_code == status, (route, response.text)
        self.validate(method, route, response)
        return response.json()

    def validate(self, method: str, route: str, response: httpx.Response) -> None:
        errors = self.errors(method, route, response.json(), response.status_code)
        assert not errors, (method, route, errors)
        self.checked.add((method.lower(), route))

    def errors(self, method: str, route: str, body: Any, status: int = 200) -> list[str]:
        responses = self.doc["paths"][route][method.lower()]["responses"]
        assert _success(responses) == str(status), (method, route, list(responses))
        reply = responses[str(status)]["content"]
        schema = reply["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": self.doc["components"]})
        return [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(body)
        ]


def _success(responses: dict[str, Any]) -> str | None:
    """The status of an operation's success reply: the first 2XX the document gives."""
    return min((code for code in responses if code.startswith("2")), default=None)


def _undescribed(operation: dict[str, Any]) -> bool:
    """No success reply, or a JSON one without a schema (media types such as video/mp4
    count)."""
    success = _success(operation["responses"])
    content = operation["responses"][success].get("content") if success else None
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
    rotate = "/v1/webhooks/{webhook_id}/rotate"
    rotated = r.call("POST", rotate, key, path=rotate.format(webhook_id=hook["id"]))
    secret = f"/v1/webhooks/{hook['id']}/secrets/{rotated['secrets'][1]['id']}"
    r.call("DELETE", "/v1/webhooks/{webhook_id}/secrets/{secret_id}", key, path=secret)
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


def test_compatibility_and_open_replies_match_the_document(gw: Gateway) -> None:
    """aimlapi's ``/v2`` (201 creates; one generation or a list), new-api's task poll,
    ``/health``, ``/config`` — and ``/metrics``, described as text."""
    r = Replies(gw)
    key = gw.new_key(key_alias="openapi-compat")
    assert r.call("GET", "/health")["status"] == "ok"
    shown = r.call("GET", "/config")
    assert {d["api_key"] for d in shown["model_list"]} == {None, "[redacted]"}
    # aimlapi: a job that completes (universal path), one that fails (a vendor path)
    v2 = "/v2/video/generations"
    legacy = "/v2/generate/video/{vendor}/generation"
    ok = r.call(
        "POST", v2, key, 201, json={"model": "sora-2", "prompt": "a harbour", "duration": 4}
    )
    failing = {"model": "sora-2", "prompt": "[sim:fail] a harbour", "duration": "4s"}
    bad = r.call("POST", legacy, key, 201, path=legacy.format(vendor="kling"), json=failing)
    assert ok["generation_id"] == ok["id"] and bad["generation_id"] == bad["id"]
    task = "/v1/video/generations/{task_id}"
    r.call("GET", v2, key, params={"generation_id": ok["id"]})  # not ended yet, likely
    r.call("GET", task, key, path=task.format(task_id=bad["id"]))
    for job in (ok, bad):
        finished(gw, key, job["id"])
    done = r.call("GET", v2, key, params={"generation_id": ok["id"]})
    assert done["status"] == "completed" and done["video"]["url"]
    both = r.call(
        "GET",
        legacy,
        key,
        path=legacy.format(vendor="kling"),
        params={"generation_ids": f"{ok['id']},{bad['id']}"},
    )
    assert [g["status"] for g in both] == ["completed", "error"] and both[1]["error"]["name"]
    # new-api: SUCCESS carries result_url, FAILURE none
    success = r.call("GET", task, key, path=task.format(task_id=ok["id"]))["data"]
    assert success["status"] == "SUCCESS" and success["result_url"] == success["fail_reason"]
    failure = r.call("GET", task, key, path=task.format(task_id=bad["id"]))["data"]
    assert failure["status"] == "FAILURE" and "result_url" not in failure
    assert {
        ("get", "/health"),
        ("get", "/config"),
        ("post", v2),
        ("get", v2),
        ("post", legacy),
        ("get", legacy),
        ("get", task),
    } <= r.checked
    # /metrics: Prometheus text, described as such, no JSON and no error envelope
    metrics = r.doc["paths"]["/metrics"]["get"]["responses"]
    assert set(metrics) == {"200"} and set(metrics["200"]["content"]) == {"text/plain"}
    assert set(r.doc["paths"]["/health"]["get"]["responses"]) == {"200"}
    with gw.http() as http:
        scraped = http.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")


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
    generation = {
        "id": "video_x",
        "generation_id": "video_x",
        "model": "sora-2",
        "status": "generating",
        "progress": 40,
        "created_at": 1,
        "completed_at": None,
        "video": None,
        "duration": 4,
        "error": None,
        "meta": {"usage": {"cost_usd": None, "duration_seconds": None}},
    }
    v2 = "/v2/video/generations"
    assert r.errors("GET", v2, generation) == [] and r.errors("GET", v2, [generation]) == []
    assert r.errors("GET", v2, {**generation, "status": "in_progress"})  # vidgate's name
    assert r.errors("GET", v2, [{**generation, "meta": {}}])
    created = {k: generation[k] for k in ("id", "generation_id", "model", "status", "created_at")}
    assert r.errors("POST", v2, created, 201) == []
    with pytest.raises(AssertionError):  # the create is described as a 201, not a 200
        r.errors("POST", v2, created)
    task = "/v1/video/generations/{task_id}"
    assert r.errors("GET", task, {"code": "success", "message": "", "data": {"id": 1}})
