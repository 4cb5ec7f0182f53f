"""Liveness and readiness probes: ``/health/live`` answers while the process does,
``/health/ready`` checks the database and the storage (and Redis when configured), both
without a key; a failing check is a 503 naming it. Their replies match ``/openapi.json``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from tests.support import Gateway, wait_for


def anonymous(gw: Gateway, path: str) -> httpx.Response:
    return httpx.get(f"{gw.url}{path}", timeout=120)


def schema_errors(doc: dict[str, Any], path: str, status: int, body: Any) -> list[str]:
    reply = doc["paths"][path]["get"]["responses"][str(status)]["content"]
    schema = reply["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    return [error.message for error in validator.iter_errors(body)]


def test_liveness_readiness_and_health_answer_without_a_key(gateway: Gateway) -> None:
    doc = anonymous(gateway, "/openapi.json").json()
    for path in ("/health", "/health/live"):
        response = anonymous(gateway, path)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ok"
        assert schema_errors(doc, path, 200, response.json()) == []
    response = anonymous(gateway, "/health/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and "error" not in body
    assert set(body["checks"]) == {"database", "storage"}  # no redis_url: no Redis check
    assert all(check["ok"] and check["error"] is None for check in body["checks"].values())
    assert schema_errors(doc, "/health/ready", 200, body) == []
    # the probe blob is gone again
    probes = gateway.data_dir / "blobs" / "health"
    assert not probes.exists() or not any(p.is_file() for p in probes.rglob("*"))
    # described: no key, no 4XX; readiness has its 503
    for path in ("/health/live", "/health/ready"):
        operation = doc["paths"][path]["get"]
        assert "security" not in operation and "4XX" not in operation["responses"]
    assert set(doc["paths"]["/health/ready"]["get"]["responses"]) == {"200", "503"}


def test_probes_are_not_written_to_the_request_log(gateway: Gateway) -> None:
    for path in ("/health/live", "/health/ready", "/health"):
        assert anonymous(gateway, path).status_code == 200
    with gateway.http() as http:
        assert http.get("/v1/models").status_code == 200  # a request that is logged

        def logged() -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = http.get("/admin/requests").json()["data"]
            return rows if any(r["route"] == "/v1/models" for r in rows) else []

        rows = wait_for(logged)
    assert not [r for r in rows if r["route"].startswith("/health")]


def test_readiness_fails_while_the_storage_cannot_be_written(fresh_gateway: Gateway) -> None:
    """The blob directory replaced by a file (deterministic, also as root): 503 naming the
    storage check, the database check still passing; ready again once it is a directory."""
    gw = fresh_gateway
    blobs: Path = gw.data_dir / "blobs"
    assert anonymous(gw, "/health/ready").status_code == 200
    shutil.rmtree(blobs, ignore_errors=True)
    blobs.write_text("not a directory")

    def failing() -> httpx.Response | None:
        response = anonymous(gw, "/health/ready")  # a result is reused for up to 1 s
        return response if response.status_code == 503 else None

    response = wait_for(failing)
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    storage = body["checks"]["storage"]
    assert storage["ok"] is False and "could not write a probe blob" in storage["error"]
    assert body["error"]["code"] == "not_ready" and body["error"]["type"] == "server_error"
    assert body["error"]["message"].startswith("Not ready: storage: could not write")
    assert str(gw.data_dir) not in response.text  # the step and the class, no paths
    doc = anonymous(gw, "/openapi.json").json()
    assert schema_errors(doc, "/health/ready", 503, body) == []
    assert anonymous(gw, "/health/live").status_code == 200  # alive all the same
    blobs.unlink()
    blobs.mkdir()
    wait_for(lambda: anonymous(gw, "/health/ready").status_code == 200)
