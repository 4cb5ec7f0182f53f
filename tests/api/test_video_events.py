"""``GET /v1/videos/events``: job changes as server-sent events, through real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support import Gateway

RENDER = {"model": "local/preview", "prompt": "a kite", "seconds": 1, "size": "320x180"}


def _events(client: httpx.Client, query: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every event of a stream that ends, as ``(event, id, data)``."""
    found, fields = [], {}
    with client.stream("GET", f"/v1/videos/events?{query}") as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if "data" in fields:
                    found.append((fields["event"], fields["id"], json.loads(fields["data"])))
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    return found


def test_a_video_streams_to_completed_and_the_stream_ends(gateway: Gateway) -> None:
    key = gateway.new_key()
    with gateway.http(key) as client:
        created = client.post("/v1/videos", json=RENDER)
        assert created.status_code == 200, created.text
        video = created.json()["id"]
        events = _events(client, f"video_id={video}&until=terminal&timeout_s=240")
        final = client.get(f"/v1/videos/{video}").json()
    assert events and all(name == "video.updated" for name, _, _ in events)
    assert {data["id"] for _, _, data in events} == {video}
    assert events[-1][2]["status"] == "completed" and events[-1][2] == final
    assert all(data["status"] != "completed" for _, _, data in events[:-1])
    assert len({marker for _, marker, _ in events}) == len(events)  # each a new marker
    progress = [data["progress"] for _, _, data in events]
    assert progress == sorted(progress) and len(events) >= 2


def test_a_key_sees_only_its_own_jobs(gateway: Gateway) -> None:
    mine, theirs = gateway.new_key(), gateway.new_key()
    with gateway.http(theirs) as other, gateway.http(mine) as client:
        their_video = other.post("/v1/videos", json=RENDER).json()["id"]
        my_video = client.post("/v1/videos", json=RENDER).json()["id"]
        missing = client.get(f"/v1/videos/events?video_id={their_video}")
        assert missing.status_code == 404 and missing.json()["error"]["param"] == "video_id"
        seen = {data["id"] for _, _, data in _events(client, "until=terminal&timeout_s=240")}
        assert my_video in seen and their_video not in seen
    with gateway.http() as admin:  # the master key sees every key's jobs
        events = _events(admin, f"video_id={their_video}&until=terminal&timeout_s=240")
        assert events[-1][2]["status"] == "completed"
        events = _events(admin, "timeout_s=1")  # ends; nothing runs, so nothing to say
        assert events == []


def test_bad_parameters_are_400_envelopes(gateway: Gateway) -> None:
    with gateway.http() as client:
        for query in (
            "until=done",
            "timeout_s=0",
            "timeout_s=1.5",
            "timeout_s=86401",
            "timeout_s=",
            "video_id=",
            "until=",
        ):
            response = client.get(f"/v1/videos/events?{query}")
            assert response.status_code == 400, (query, response.text)
            assert response.json()["error"]["param"] == query.split("=")[0]
