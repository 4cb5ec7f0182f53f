"""Request ids, request log rows, JSON log lines without secrets, and /metrics."""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Gateway, running_gateway, serve, wait_for
from vidgate.observe.logs import JsonFormatter, RedactingFilter
from vidgate.providers.openai import simulator as openai_sim
from vidgate.redact import REDACTOR, Redactor

UPSTREAM_KEY = "sk-upstream-very-secret-0123456789"
WRONG_KEY = "upstream-wrong-credential-abcdef"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    config = openai_sim.SimulatorConfig(
        api_key=UPSTREAM_KEY, job_seconds=0.3, queued_seconds=0.05, poll_after_ms=50
    )
    with serve(openai_sim.create_app(config)) as url:
        yield url


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every log line the process writes, formatted and filtered as ``vidgate serve`` does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(REDACTOR))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def gw(upstream: str, tmp_path: Path) -> Iterator[Gateway]:
    base = {"provider": "openai", "model": "sora-2", "api_base": f"{upstream}/v1"}
    config = {
        "model_list": [
            {"model_name": "sora", "api_key": UPSTREAM_KEY, "id": "good", **base},
            {"model_name": "broken", "api_key": WRONG_KEY, "id": "bad", **base},
        ],
        "settings": {"stale_after_s": 1.0},
    }
    with running_gateway(tmp_path / "gw", config) as gateway:
        yield gateway


def create(gw: Gateway, key: str, **body: Any) -> Any:
    payload = {"model": "sora", "prompt": "kite", "size": "1280x720", "seconds": "4", **body}
    with gw.http(key) as http:
        return http.post("/v1/videos", json=payload, headers={"X-Request-ID": "client-req-42"})


def rows(gw: Gateway) -> list[dict[str, Any]]:
    with sqlite3.connect(gw.data_dir / "vidgate.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM request_logs ORDER BY seq")]


def test_generated_request_ids_sort_by_time(gw: Gateway) -> None:
    """Each new request_logs row lands at the end of the request_id index (not at random)."""
    ids = []
    with gw.http() as http:
        for _ in range(3):
            began = time.time()
            ids.append(http.get("/health").headers["x-request-id"])
            wait_for(lambda began=began: time.time() >= began + 0.002 or None)  # next ms
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", i) for i in ids)
    assert abs(int(ids[0][4:15], 16) / 1000 - time.time()) < 60  # it starts with the time


def test_request_ids_and_log_rows(gw: Gateway) -> None:
    key = gw.new_key()
    response = create(gw, key)
    assert response.headers["x-request-id"] == "client-req-42"
    video_id = response.json()["id"]
    with gw.http(key) as http:
        generated = http.get(f"/v1/videos/{video_id}")  # the fast path
        assert generated.headers["x-request-id"].startswith("req_")
        bad = http.post("/v1/videos", json={"model": "sora", "prompt": "x", "size": "1x1"})
        assert bad.status_code == 400
        assert http.get("/v1/videos/video_" + "0" * 32).status_code == 404
        weird = http.get("/v1/models", headers={"X-Request-ID": "bad id with spaces"})
        assert weird.headers["x-request-id"].startswith("req_")

    def logged() -> list[dict[str, Any]] | None:
        found = [r for r in rows(gw) if r["key_id"] not in (None, "master")]
        return found if len(found) >= 5 else None

    found = wait_for(logged)
    by_id = {r["request_id"]: r for r in found}
    row = by_id["client-req-42"]
    assert row["method"] == "POST" and row["route"] == "/v1/videos"
    assert row["status_code"] == 200 and row["job_id"] == video_id
    assert row["model"] == "sora" and row["deployment_id"] == "good"
    assert row["latency_ms"] > 0
    retrieve = by_id[generated.headers["x-request-id"]]
    assert retrieve["route"] == "/v1/videos/{id}" and retrieve["job_id"] == video_id
    codes = {(r["status_code"], r["error_code"]) for r in found}
    assert any(status == 400 and code for status, code in codes)  # the error code is kept
    assert (404, "not_found") in codes


def test_no_secret_in_any_log_line_or_error_body(gw: Gateway, captured: io.StringIO) -> None:
    key = gw.new_key()
    bodies = [create(gw, key).text, create(gw, key, model="broken").text]
    with gw.http(key) as http:
        bodies.append(http.get("/key/info").text)
        bodies.append(
            http.get("/v1/videos", headers={"Authorization": "Bearer sk-vg-forged123456"}).text
        )
    logging.getLogger("vidgate.test").info(
        "careless %s and %s", key, UPSTREAM_KEY, extra={"header": f"Bearer {key}"}
    )
    video_id = json.loads(bodies[0])["id"]
    wait_for(lambda: "job.completed" in captured.getvalue() or None)
    lines = captured.getvalue().splitlines()
    assert any(f'"job_id":"{video_id}"' in line for line in lines)
    assert any('"event":"request"' in line for line in lines)
    for secret in (key, UPSTREAM_KEY, WRONG_KEY, gw.master_key, "sk-vg-forged123456"):
        for text in lines + bodies:
            assert secret not in text
    assert all(json.loads(line)["ts"] for line in lines)  # every line is one JSON object


def test_redactor_masks_known_secrets_and_secret_shapes() -> None:
    redact = Redactor(["s3cr3t-value"])
    assert redact("a s3cr3t-value b") == "a [redacted] b"
    assert "sk-abc" not in redact("key sk-abcdefghijkl")
    assert redact("Authorization: Bearer eyJhbGciOi.abc.def") == "Authorization: [redacted]"
    assert "whsec_" not in redact("whsec_QUJDREVGR0hJSktMTU5PUA==")
    assert redact.value({"a": ["s3cr3t-value"]}) == {"a": ["[redacted]"]}


def test_metrics_exposition_parses(gw: Gateway) -> None:
    key = gw.new_key(max_budget=5)
    video_id = create(gw, key).json()["id"]
    wait_for(lambda: gw.http(key).get(f"/v1/videos/{video_id}").json()["status"] == "completed")
    with gw.http() as http:
        text = http.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families.values()
        for s in family.samples
    }
    assert any(
        name == "vidgate_requests_total" and dict(labels).get("route") == "/v1/videos"
        for name, labels in samples
    )
    assert "vidgate_request_duration_seconds" in families
    assert any(
        name == "vidgate_upstream_requests_total" and dict(labels)["deployment"] == "good"
        for name, labels in samples
    )
    assert any(
        name == "vidgate_jobs" and dict(labels).get("status") == "completed"
        for name, labels in samples
    )
    assert "vidgate_poll_lag_seconds" in families
    assert any(
        name == "vidgate_spend_usd_total" and dict(labels).get("model") == "sora" and value > 0
        for (name, labels), value in samples.items()
    )
    assert "vidgate_reservations_outstanding_usd" in families
    assert UPSTREAM_KEY not in text and key not in text


def _route_labels(gw: Gateway) -> set[tuple[str, str]]:
    with gw.http() as http:
        text = http.get("/metrics").text
    return {
        (s.labels["route"], s.labels["method"])
        for family in text_string_to_metric_families(text)
        if family.name == "vidgate_requests"
        for s in family.samples
    }


def test_metric_labels_stay_bounded_whatever_clients_send(gw: Gateway) -> None:
    with gw.http() as http:
        http.get("/v1/videos/video_" + "0" * 32)  # the fast path's route
        http.get("/v1/videos")
    before = _route_labels(gw)
    with gw.http() as http:
        for i in range(40):
            http.get(f"/no/such/path/{i}/video_{i}")
            http.request(f"X{i}", "/v1/videos")
    after = _route_labels(gw)
    new = after - before
    assert new <= {("(unmatched)", "GET"), ("/v1/videos", "OTHER")}, new
    assert ("/v1/videos/{video_id}", "GET") in after or ("/v1/videos/{id}", "GET") in after
