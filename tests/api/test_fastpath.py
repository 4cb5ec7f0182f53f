"""The retrieve fast path answers exactly as the framework route does, and only when safe."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.support import Gateway
from vidgate.api.fastpath import RetrieveFastPath


class Recorder:
    """The app behind the middleware: records whether a request reached it."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1


async def call(middleware: RetrieveFastPath, app_state: Any, path: str, token: str) -> list[Any]:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "app": app_state,
        "headers": [(b"authorization", f"Bearer {token}".encode())],
    }
    await middleware(scope, receive, send)
    return sent


def test_fast_and_framework_paths_agree(gateway: Gateway) -> None:
    video = gateway.sdk().videos.create_and_poll(
        prompt="same", seconds="1", size="320x180", poll_interval_ms=50
    )
    with gateway.http() as http:
        fast = http.get(f"/v1/videos/{video.id}")
        slow = http.get(f"/v1/videos/{video.id}/")  # trailing slash: not the fast-path shape
    assert fast.status_code == 200
    assert slow.status_code in (200, 307, 404)
    bare = gateway.http()
    framework = bare.get(
        f"/v1/videos/{video.id}", headers={"x-api-key": gateway.master_key, "authorization": ""}
    )
    assert framework.status_code == 200  # x-api-key is not taken by the fast path
    assert fast.json() == framework.json()
    for name in ("content-type", "x-vidgate-deployment"):
        assert fast.headers[name] == framework.headers[name]
    assert "openai-poll-after-ms" not in fast.headers


async def test_serves_from_memory_only_when_everything_is_cached(gateway: Gateway) -> None:
    client = gateway.sdk()
    video = client.videos.create_and_poll(
        prompt="cached", seconds="1", size="320x180", poll_interval_ms=50
    )
    other = gateway.new_key()
    gateway.sdk(other).videos.list()  # other key now cached as valid
    downstream = Recorder()
    middleware = RetrieveFastPath(downstream)
    sent = await call(middleware, gateway.app, f"/v1/videos/{video.id}", gateway.master_key)
    assert downstream.calls == 0 and sent[0]["status"] == 200
    assert b'"status":"completed"' in sent[1]["body"]
    await call(middleware, gateway.app, f"/v1/videos/{video.id}", other)  # not the owner
    await call(middleware, gateway.app, f"/v1/videos/{video.id}", "sk-vg-unknown")
    await call(middleware, gateway.app, "/v1/videos/video_" + "0" * 32, gateway.master_key)
    assert downstream.calls == 3


def test_revocation_and_deletion_are_seen_at_once(gateway: Gateway) -> None:
    key = gateway.new_key()
    client = gateway.sdk(key)
    video = client.videos.create_and_poll(
        prompt="gone", seconds="1", size="320x180", poll_interval_ms=50
    )
    assert client.videos.retrieve(video.id).id == video.id
    client.videos.delete(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    second = client.videos.create_and_poll(
        prompt="revoked", seconds="1", size="320x180", poll_interval_ms=50
    )
    with gateway.http() as admin:
        admin.post("/key/delete", json={"keys": [key]})
    with pytest.raises(openai.AuthenticationError):
        client.videos.retrieve(second.id)
