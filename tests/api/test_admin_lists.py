"""``GET /admin/jobs`` and ``GET /admin/requests``: the master key's filtered listings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from tests.support import Gateway, post_video, wait_for
from vidgate.db.tables import jobs

STATUSES = ("queued", "in_progress", "completed", "failed")
MODELS = ("m-alpha", "m-beta", "m-gamma")
PROMPTS = ("A Paper_Boat on 100% rain", "a paperXboat on 1000 rain", "plain sunset", "PAPER_BOAT")
BASE = 1_700_000_000.0


def _key(gw: Gateway) -> tuple[str, str]:
    with gw.http() as client:
        created = client.post("/key/generate", json={}).json()
    return created["key"], created["key_id"]


def _rows(owners: tuple[str, str], count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        status = STATUSES[i % 4]
        rows.append(
            {
                "id": f"video_list{i:04d}",
                "owner_key_id": owners[i % 2],
                "model": MODELS[i % 3],
                "deployment_id": "nowhere",
                "provider": "local" if i % 5 else "sim",
                "upstream_model": "x",
                "operation": "create",
                "status": status,
                "phase": "done" if status in ("completed", "failed") else "running",
                "progress": 0,
                "prompt": PROMPTS[i % 4],
                "size": "1280x720",
                "seconds": 4,
                "request": {},
                "created_at": BASE + i * 60,
                "updated_at": BASE + i * 60,
                "poll_failures": 0,
                "end_user": f"user-{i % 7}",
                "deleted_at": BASE if i == 7 else None,
            }
        )
    return rows


@pytest.fixture(scope="module")
def world(gateway: Gateway) -> Iterator[dict[str, Any]]:
    (key_a, id_a), (key_b, id_b) = _key(gateway), _key(gateway)
    rows = _rows((id_a, id_b), 400)
    db = gateway.app.state.jobs.store.db
    asyncio.run(db.write(lambda conn: conn.execute(insert(jobs), rows)))
    yield {"a": key_a, "a_id": id_a, "b": key_b, "b_id": id_b, "rows": rows}


def _list(client: httpx.Client, path: str = "/admin/jobs", **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _all_pages(client: httpx.Client, **params: Any) -> list[str]:
    ids: list[str] = []
    after: str | None = None
    while True:
        page = _list(client, **params, **({"after_id": after} if after else {}))
        ids += [row["id"] for row in page["data"]]
        if not page["has_more"]:
            return ids
        after = page["last_id"]
        assert after == ids[-1]


def _fake(ids: list[str]) -> list[str]:
    return [i for i in ids if i.startswith("video_list")]


def test_pages_cover_every_keys_jobs_newest_first_and_stay_stable(
    gateway: Gateway, world: dict[str, Any]
) -> None:
    with gateway.http() as client:
        video = post_video(client, prompt="a real one")
        assert video.status_code == 200, video.text
        first = _list(client, limit=1)["data"][0]
        assert first["id"] == video.json()["id"]  # the newest, whatever its status
        assert first["prompt"] == "a real one" and "attempts" in first
        expected = [r["id"] for r in reversed(world["rows"]) if r["deleted_at"] is None]
        first_page = _list(client, limit=200)
        assert first_page["has_more"] is True and len(first_page["data"]) == 200
        # a job created between pages is newer: it never shifts the later pages
        post_video(client, prompt="created while paging")
        rest = _all_pages(client, limit=200, after_id=first_page["last_id"])
        seen = [row["id"] for row in first_page["data"]] + rest
        assert len(seen) == len(set(seen))
        assert _fake(seen) == expected  # newest first, the deleted one left out
        assert _fake(_all_pages(client, limit=37)) == expected


def test_filters_combine(gateway: Gateway, world: dict[str, Any]) -> None:
    rows = [r for r in world["rows"] if r["deleted_at"] is None]

    def expect(test: Any) -> list[str]:
        return [r["id"] for r in reversed(rows) if test(r)]

    after, before = BASE + 50 * 60, BASE + 300 * 60
    with gateway.http() as client:
        got = _all_pages(
            client,
            status="running",
            model="m-beta",
            key_id=world["b_id"],
            after=str(after),
            before=str(before),
            limit=5,
        )
        assert got == expect(
            lambda r: (
                r["status"] in ("queued", "in_progress")
                and r["model"] == "m-beta"
                and r["owner_key_id"] == world["b_id"]
                and after <= r["created_at"] < before
            )
        )
        assert got  # the combination is not vacuous
        assert _fake(_all_pages(client, provider="sim", user="user-3", status="completed")) == (
            expect(
                lambda r: (
                    r["provider"] == "sim"
                    and r["end_user"] == "user-3"
                    and r["status"] == "completed"
                )
            )
        )
        assert _all_pages(client, model="no-such-model") == []


def test_search_by_id_or_prompt_text(gateway: Gateway, world: dict[str, Any]) -> None:
    rows = [r for r in world["rows"] if r["deleted_at"] is None]
    with gateway.http() as client:
        boats = _fake(_all_pages(client, q="paper_boat", limit=200))
        # case-insensitive, and '_' is an underscore, not any character ('paperXboat')
        assert boats == [r["id"] for r in reversed(rows) if "paper_boat" in r["prompt"].lower()]
        assert boats and not any(r["id"] in boats for r in rows if "paperX" in r["prompt"])
        percent = _fake(_all_pages(client, q="100%", limit=200))
        assert percent == [r["id"] for r in reversed(rows) if "100%" in r["prompt"]]
        literal = _fake(_all_pages(client, q="%", limit=200))  # not "any text"
        assert literal == [r["id"] for r in reversed(rows) if "%" in r["prompt"]]
        assert 0 < len(literal) < len(rows)
        assert _all_pages(client, q="\\") == []
        assert [r["id"] for r in _list(client, q="video_list0042")["data"]] == ["video_list0042"]


def test_bad_values_are_400s_naming_the_parameter(gateway: Gateway, world: dict[str, Any]) -> None:
    cases = {
        "status": ("done", "queued, in_progress, completed, failed, running"),
        "after": ("yesterday", "Unix seconds"),
        "limit": ("0", "1 to 200"),
        "after_id": ("video_nope", "last_id"),
        "order": ("asc", "Allowed: status, model"),
    }
    with gateway.http() as client:
        for name, (value, allowed) in cases.items():
            response = client.get("/admin/jobs", params={name: value})
            assert response.status_code == 400, (name, response.text)
            error = response.json()["error"]
            assert error["param"] == name and allowed in error["message"], error
        reversed_range = client.get("/admin/jobs", params={"after": "200", "before": "100"})
        assert reversed_range.json()["error"]["param"] == "after"
    with gateway.http(world["a"]) as own:
        refused = own.get("/admin/jobs")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "admin_only"
        assert own.get("/admin/requests").status_code == 403


def test_the_request_log_shows_requests_made(gateway: Gateway, world: dict[str, Any]) -> None:
    marker = f"req-test-{time.monotonic_ns()}"
    with gateway.http(world["a"]) as own:
        assert own.get("/v1/models", headers={"X-Request-ID": marker}).status_code == 200
        assert (
            own.get("/v1/videos/video_missing", headers={"X-Request-ID": marker + "b"}).status_code
            == 404
        )
    with gateway.http() as client:
        wait_for(lambda: _list(client, "/admin/requests", request_id=marker + "b")["data"])
        rows = _list(client, "/admin/requests", request_id=marker)["data"]
        assert len(rows) == 1
        row = rows[0]
        assert (row["route"], row["method"], row["status_code"]) == ("/v1/models", "GET", 200)
        assert row["key_id"] == world["a_id"]
        missing = _list(client, "/admin/requests", key_id=world["a_id"], status="4xx")["data"]
        assert missing[0]["request_id"] == marker + "b"  # the newest (its 403s came before)
        assert all(400 <= r["status_code"] <= 499 for r in missing)
        assert missing[0]["route"] == "/v1/videos/{id}"
        assert _list(client, "/admin/requests", request_id=marker, status="5xx")["data"] == []
        now = time.time()
        assert (
            _list(client, "/admin/requests", request_id=marker, before=str(row["at"]))["data"] == []
        )
        assert (
            _list(
                client,
                "/admin/requests",
                request_id=marker,
                after=str(row["at"]),
                before=str(now + 60),
            )["data"]
            == rows
        )
        # newest first, paged by seq
        everything: list[int] = []
        after: int | None = None
        while True:
            page = _list(
                client, "/admin/requests", limit=3, **({"after_id": after} if after else {})
            )
            everything += [r["seq"] for r in page["data"]]
            if not page["has_more"]:
                break
            after = page["last_id"]
        assert everything == sorted(everything, reverse=True) and len(set(everything)) == len(
            everything
        )
        for name, value in (
            ("status", "600"),
            ("status", "4x"),
            ("after_id", "abc"),
            ("path", "/"),
        ):
            refused = client.get("/admin/requests", params={name: value})
            assert refused.status_code == 400 and refused.json()["error"]["param"] == name
