"""Connection timeouts of the server vidgate runs under (``vidgate.server``), with raw sockets.

Clients that never finish their headers (idle, partial, trickled a byte at a time) or stall
in the middle of a body are answered 408 in the envelope where a response can still be
sent, and closed, within the configured timeout; requests that keep moving, and other
clients meanwhile, are served as usual.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import LOCAL_FAST
from tests.support import Gateway, running_gateway

TIMEOUT_S = 2.0
SLACK_S = 20.0
"""How late a close may come on a busy 2-core machine (the server's loop is shared)."""
PER_KIND = 60


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    settings = {**LOCAL_FAST["settings"], "header_timeout_s": TIMEOUT_S}
    config = {**LOCAL_FAST, "settings": {**settings, "body_idle_timeout_s": TIMEOUT_S}}
    with running_gateway(tmp_path_factory.mktemp("gw"), config) as gateway:
        yield gateway


async def _connect(gw: Gateway) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(gw.url)
    return await asyncio.open_connection(url.hostname, url.port)


async def _until_closed(reader: asyncio.StreamReader, started: float) -> tuple[float, bytes]:
    """Read until the server closes; (seconds since ``started``, everything it sent)."""
    data = await asyncio.wait_for(reader.read(), TIMEOUT_S + SLACK_S)
    return time.monotonic() - started, data


async def _slow_client(gw: Gateway, kind: str) -> tuple[float, bytes]:
    # timed from before the connect: the server's clock starts when it accepts, which on a
    # busy loop can be well before this coroutine resumes after open_connection
    started = time.monotonic()
    reader, writer = await _connect(gw)
    auth = f"Authorization: Bearer {gw.master_key}\r\n"
    trickle = None
    try:
        if kind == "partial-headers":
            writer.write(b"POST /v1/videos HTTP/1.1\r\nHost: gw\r\nContent-Type: applica")
        elif kind == "partial-body":
            head = f"POST /v1/videos HTTP/1.1\r\nHost: gw\r\n{auth}"
            head += "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            writer.write(head.encode() + b'{"prompt": "never fin')
        elif kind == "trickled-headers":  # each byte in time, the whole never
            trickle = asyncio.ensure_future(
                _trickle(writer, b"GET /x HTTP/1.1\r\nHost: gw\r\n" * 9)
            )
        return await _until_closed(reader, started)
    finally:
        if trickle is not None:
            trickle.cancel()
        writer.close()


async def _trickle(writer: asyncio.StreamWriter, data: bytes) -> None:
    try:
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(TIMEOUT_S / 8)
    except (ConnectionError, RuntimeError):
        pass  # closed by the server, as it should be


def _request_timeout_envelope(data: bytes) -> dict[str, Any]:
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), data[:200]
    assert b"connection: close" in head.lower()
    error: dict[str, Any] = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "request_timeout"
    return error


async def _storm(gw: Gateway) -> dict[str, list[tuple[float, bytes]]]:
    kinds = ["idle", "partial-headers", "partial-body", "trickled-headers"]
    tasks = {kind: [_slow_client(gw, kind) for _ in range(PER_KIND)] for kind in kinds}
    normal = asyncio.ensure_future(_normal_requests_meanwhile(gw))
    results = {kind: await asyncio.gather(*jobs) for kind, jobs in tasks.items()}
    assert await normal >= 3
    return results


async def _normal_requests_meanwhile(gw: Gateway) -> int:
    """Requests from a well-behaved client keep being served while the slow ones wait."""
    headers = {"Authorization": f"Bearer {gw.master_key}"}
    served = 0
    async with httpx.AsyncClient(base_url=gw.url, headers=headers, timeout=60) as client:
        for _ in range(3):
            response = await client.get("/v1/models")
            assert response.status_code == 200, response.text
            served += 1
            await asyncio.sleep(TIMEOUT_S / 2)
    return served


def test_connections_that_never_finish_are_closed(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    results = asyncio.run(_storm(gw))
    elapsed = time.monotonic() - started
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []  # a client timed out is no server error
    for kind, outcomes in results.items():
        for waited, data in outcomes:
            assert TIMEOUT_S * 0.9 <= waited <= TIMEOUT_S + SLACK_S, (kind, waited)
            if kind == "idle":
                assert data == b""  # nothing was asked: closed without an answer
            else:
                message = _request_timeout_envelope(data)["message"]
                assert ("body" in message) == (kind == "partial-body"), message
    opened = sum(len(outcomes) for outcomes in results.values())
    print(f"{opened} slow connections opened, {opened} closed in {elapsed:.1f} s")


def test_a_body_that_keeps_moving_is_served(gw: Gateway) -> None:
    async def run() -> bytes:
        reader, writer = await _connect(gw)
        body = json.dumps({"prompt": "slow but steady", "seconds": "1", "size": "320x180"})
        head = f"POST /v1/videos HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {gw.master_key}\r\n"
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode())
        for piece in (body[:10], body[10:20], body[20:]):  # pauses well under the timeout
            await asyncio.sleep(TIMEOUT_S / 4)
            writer.write(piece.encode())
        data = await asyncio.wait_for(reader.readuntil(b'"object":"video"'), 60)
        writer.close()
        return data

    data = asyncio.run(run())
    assert data.startswith(b"HTTP/1.1 200 "), data[:300]


def test_a_kept_alive_connection_that_stalls_in_its_next_request_is_closed(gw: Gateway) -> None:
    async def run() -> tuple[bytes, float, bytes]:
        reader, writer = await _connect(gw)
        writer.write(b"GET /health HTTP/1.1\r\nHost: gw\r\n\r\n")
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        length = int(first.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(b"GET /health HTTP/1.1\r\nHo")  # the next request stalls
        waited, rest = await _until_closed(reader, time.monotonic())
        writer.close()
        return first, waited, rest

    first, waited, rest = asyncio.run(run())
    assert first.startswith(b"HTTP/1.1 200 ")
    assert TIMEOUT_S * 0.9 <= waited <= TIMEOUT_S + SLACK_S
    _request_timeout_envelope(rest)
