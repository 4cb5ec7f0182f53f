"""The upstream HTTP client (aiohttp behind ``routing/upstream_http.py``) on real loopback
servers: what is sent, what is followed, and what each failure becomes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from yarl import URL

from tests.support import serve
from vidgate.routing import upstream_http
from vidgate.routing.upstream_http import Timeouts, TransportFailure, UpstreamHttp

QUICK = Timeouts(connect_s=5.0, read_s=30.0)
seen: list[dict[str, Any]] = []


async def echo(request: Request) -> Response:
    body = await request.body()
    seen.append(
        {
            "method": request.method,
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.scope["query_string"].decode(),
            "headers": dict(request.headers),
            "body": body,
        }
    )
    return JSONResponse({"ok": True}, headers={"Retry-After": "3"})


async def hop(request: Request) -> Response:
    return RedirectResponse(request.query_params["to"], status_code=302)


async def slow(request: Request) -> Response:
    await asyncio.sleep(3600)  # cancelled when the client gives up
    return Response()


async def dripping(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        await asyncio.sleep(3600)
        yield b""

    return StreamingResponse(chunks(), media_type="video/mp4")


APP = Starlette(
    routes=[
        Route("/echo", echo, methods=["GET", "POST", "DELETE"]),
        Route("/echo/{rest:path}", echo, methods=["GET"]),
        Route("/hop", hop),
        Route("/slow", slow, methods=["POST"]),
        Route("/dripping", dripping),
    ]
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(APP) as url:
        yield url


@pytest.fixture(scope="module")
def other_origin() -> Iterator[str]:
    with serve(APP, host="127.0.0.2") as url:
        yield url


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def with_client(work: Any) -> Any:
    http = UpstreamHttp()
    try:
        return await work(http)
    finally:
        await http.aclose()


def test_json_bodies_are_compact_utf8_and_answers_keep_their_headers(upstream: str) -> None:
    seen.clear()

    async def work(http: UpstreamHttp) -> Any:
        return await http.request(
            "POST",
            f"{upstream}/echo",
            headers={"Authorization": "Bearer sk-up"},
            timeouts=QUICK,
            json_body={"prompt": "un café", "n": 1},
            params={"flag": True, "skip": None},
        )

    answer = run(with_client(work))
    assert answer.status == 200 and answer.body() == {"ok": True}
    assert answer.headers.get("retry-after") == "3"  # case-insensitive, as adapters read them
    (request,) = seen
    assert request["body"] == '{"prompt":"un café","n":1}'.encode()
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["authorization"] == "Bearer sk-up"
    assert request["query"] == "flag=true"


def test_a_presigned_url_is_sent_exactly_as_given(upstream: str) -> None:
    seen.clear()
    path = "/echo/a%2Fb%20c?X-Amz-Signature=ab%2Bcd%3D&X-Amz-Expires=60"

    async def work(http: UpstreamHttp) -> Any:
        async with http.stream("GET", upstream + path, headers={}, timeouts=QUICK) as answer:
            return answer.status

    assert run(with_client(work)) == 200
    (request,) = seen
    assert request["raw_path"] == "/echo/a%2Fb%20c"
    assert request["query"] == "X-Amz-Signature=ab%2Bcd%3D&X-Amz-Expires=60"


def test_downloads_follow_redirects_and_drop_auth_for_another_origin(
    upstream: str, other_origin: str
) -> None:
    seen.clear()

    async def work(http: UpstreamHttp) -> Any:
        target = f"{other_origin}/echo"
        url = f"{upstream}/hop?to={target}"
        headers = {"Authorization": "Bearer sk-up"}
        async with http.stream("GET", url, headers=headers, timeouts=QUICK) as answer:
            followed = answer.status
        plain = await http.request("GET", url, headers=headers, timeouts=QUICK)
        return followed, plain.status

    assert run(with_client(work)) == (200, 302)  # only downloads follow
    (request,) = seen
    assert "authorization" not in request["headers"]


def test_no_answer_in_time_may_have_arrived(upstream: str) -> None:
    async def work(http: UpstreamHttp) -> Any:
        timeouts = Timeouts(connect_s=5.0, read_s=0.3)
        await http.request("POST", f"{upstream}/slow", headers={}, timeouts=timeouts)

    with pytest.raises(TransportFailure) as failed:
        run(with_client(work))
    assert failed.value.timed_out and failed.value.may_have_arrived
    assert failed.value.words == "no answer in time"


def test_a_refused_connection_cannot_have_arrived() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def work(http: UpstreamHttp) -> Any:
        await http.request("POST", f"http://127.0.0.1:{port}/x", headers={}, timeouts=QUICK)

    with pytest.raises(TransportFailure) as failed:
        run(with_client(work))
    assert not failed.value.may_have_arrived and not failed.value.timed_out
    assert failed.value.words == "the connection was refused or failed"


def test_a_download_that_stops_midway_fails_as_a_transport_failure(upstream: str) -> None:
    async def work(http: UpstreamHttp) -> int:
        got = 0
        timeouts = Timeouts(connect_s=5.0, read_s=0.3)
        async with http.stream("GET", f"{upstream}/dripping", headers={}, timeouts=timeouts) as a:
            async for chunk in a.chunks(1 << 16):
                got += len(chunk)
        return got

    with pytest.raises(TransportFailure) as failed:
        run(with_client(work))
    assert failed.value.timed_out


def test_a_connection_closed_mid_answer_says_so() -> None:
    async def main() -> Any:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial')
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await with_client(
                lambda http: http.request(
                    "GET", f"http://127.0.0.1:{port}/x", headers={}, timeouts=QUICK
                )
            )
        finally:
            server.close()

    with pytest.raises(TransportFailure) as failed:
        run(main())
    assert failed.value.may_have_arrived and not failed.value.timed_out
    assert failed.value.words == "the connection broke while reading the answer"


def test_proxies_come_from_the_environment(upstream: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen.clear()
    monkeypatch.setenv("HTTP_PROXY", upstream)  # the echo server stands in for a proxy
    monkeypatch.setenv("NO_PROXY", "127.0.0.2")

    async def work(http: UpstreamHttp) -> Any:
        proxied = await http.request(
            "GET", "http://upstream.invalid/echo", headers={}, timeouts=QUICK
        )
        return proxied.status

    assert run(with_client(work)) == 200  # .invalid never resolves: it went to the proxy
    (request,) = seen
    assert request["headers"]["host"] == "upstream.invalid"

    async def decided(http: UpstreamHttp) -> tuple[str | None, str | None]:
        http._client()
        return http._proxy(URL("http://127.0.0.2:9/x")), http._proxy(URL("http://a.invalid/"))

    assert run(with_client(decided)) == (None, upstream)  # NO_PROXY is honoured


def test_an_upload_the_peer_stops_reading_times_out(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx bounded every write; aiohttp has no write timeout, so the send is bounded as a
    whole (here at 10 MB/s: 2 s for 20 MB, where a stalled peer would hold it for ever)."""
    monkeypatch.setattr(upstream_http, "MIN_UPLOAD_RATE", 10 * 1024 * 1024)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (20 * 1024 * 1024))  # far more than loopback socket buffers hold

    async def main() -> Any:
        accepted: list[asyncio.StreamWriter] = []

        async def never_read(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)  # kept open, never read

        server = await asyncio.start_server(never_read, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with big.open("rb") as handle:
                files = [("input_reference", ("big.bin", handle, "application/octet-stream"))]
                async with asyncio.timeout(120):  # a hang fails the test (TimeoutError)
                    return await with_client(
                        lambda http: http.request(
                            "POST",
                            f"http://127.0.0.1:{port}/v1/videos",
                            headers={},
                            timeouts=Timeouts(connect_s=1.0, read_s=1.0),
                            form={"prompt": "x"},
                            files=files,
                        )
                    )
        finally:
            for writer in accepted:
                writer.close()
            server.close()

    with pytest.raises(TransportFailure) as failed:
        run(main())
    assert failed.value.timed_out and failed.value.may_have_arrived
