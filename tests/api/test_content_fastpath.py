"""Downloads served by the fast path answer exactly as the content route does, and only when
the key and the completed job are in memory; everything else reaches the route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_fastpath import Recorder
from tests.support import Gateway
from vidgate.api.fastpath import RetrieveFastPath

VARIES = {"date", "x-request-id", "x-vidgate-overhead-ms"}


@pytest.fixture(scope="module")
def video_id(gateway: Gateway) -> str:
    video = gateway.sdk().videos.create_and_poll(
        prompt="downloads", seconds="1", size="320x180", poll_interval_ms=50
    )
    assert video.status == "completed"
    return str(video.id)


def _both(gateway: Gateway, method: str, path: str, **headers: str) -> list[httpx.Response]:
    """The request by bearer (the fast path's shape) and by x-api-key (the route only)."""
    replies = []
    for auth in (
        {"authorization": f"Bearer {gateway.master_key}"},
        {"x-api-key": gateway.master_key},
    ):
        with httpx.Client(base_url=gateway.url, timeout=120) as client:
            replies.append(client.request(method, path, headers={**auth, **headers}))
    return replies


def _same(fast: httpx.Response, route: httpx.Response) -> None:
    assert fast.status_code == route.status_code
    assert fast.content == route.content
    strip = lambda r: sorted((k, v) for k, v in r.headers.items() if k not in VARIES)  # noqa: E731
    assert strip(fast) == strip(route)


@pytest.mark.parametrize(
    ("method", "query", "headers"),
    [
        ("GET", "", {}),
        ("GET", "?variant=thumbnail", {}),
        ("GET", "?variant=spritesheet", {"range": "bytes=10-99"}),
        ("GET", "", {"range": "bytes=-100"}),
        ("GET", "", {"range": "bytes=0-"}),
        ("HEAD", "", {}),
        ("HEAD", "", {"range": "bytes=5-9"}),
        ("GET", "", {"range": "bytes=0-9", "if-range": '"not-the-etag"'}),
        ("GET", "", {"range": "bytes=99999999-"}),  # 416: the route's envelope
        ("GET", "?variant=nope", {}),  # 400: the route's envelope
    ],
)
def test_fast_path_and_route_agree(
    gateway: Gateway, video_id: str, method: str, query: str, headers: dict[str, str]
) -> None:
    fast, route = _both(gateway, method, f"/v1/videos/{video_id}/content{query}", **headers)
    _same(fast, route)
    assert fast.status_code in (200, 206, 400, 416)


def test_file_headers_and_304(gateway: Gateway, video_id: str) -> None:
    fast, route = _both(gateway, "GET", f"/videos/{video_id}/content")
    _same(fast, route)
    assert fast.headers["content-type"] == "video/mp4"
    assert fast.headers["accept-ranges"] == "bytes"
    assert fast.headers["content-length"] == str(len(fast.content))
    assert fast.headers["content-disposition"] == f'inline; filename="{video_id}.mp4"'
    assert "last-modified" in fast.headers
    etag = fast.headers["etag"]
    for tag in (etag, f"W/{etag}"):
        again, route_again = _both(
            gateway, "GET", f"/videos/{video_id}/content", **{"if-none-match": tag}
        )
        _same(again, route_again)
        assert again.status_code == 304 and again.content == b""


def test_another_keys_video_is_404(gateway: Gateway, video_id: str) -> None:
    other = gateway.new_key()
    with gateway.http(other) as client:
        client.get("/v1/videos")  # the key is now cached as valid
        reply = client.get(f"/v1/videos/{video_id}/content")
    assert reply.status_code == 404
    assert reply.json()["error"]["param"] == "video_id"


async def _call(
    gateway: Gateway, path: str, token: str, query: bytes = b"", **headers: str
) -> tuple[int, list[Any]]:
    downstream = Recorder()
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "app": gateway.app,
        "headers": [(b"authorization", f"Bearer {token}".encode())]
        + [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    await RetrieveFastPath(downstream)(scope, receive, send)
    return downstream.calls, sent


async def test_the_route_gets_what_the_fast_path_cannot_answer(
    gateway: Gateway, video_id: str
) -> None:
    path = f"/v1/videos/{video_id}/content"
    calls, sent = await _call(gateway, path, gateway.master_key, **{"range": "bytes=0-9"})
    assert calls == 0 and sent[0]["status"] == 206
    other = gateway.new_key()
    gateway.sdk(other).videos.list()
    for token, target, query, headers in [
        (other, path, b"", {}),  # not the owner
        ("sk-vg-unknown", path, b"", {}),
        (gateway.master_key, path, b"variant=nope", {}),
        (gateway.master_key, path, b"variant=video&x=1", {}),
        (gateway.master_key, path, b"", {"range": "bytes=99999999-"}),
        (gateway.master_key, "/v1/videos/video_" + "0" * 32 + "/content", b"", {}),
    ]:
        calls, sent = await _call(gateway, target, token, query, **headers)
        assert (calls, sent) == (1, []), (token, target, query, headers)
