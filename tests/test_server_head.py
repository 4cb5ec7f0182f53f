"""A response's head goes out with its first body in one write (``vidgate.server``), over
sockets: small replies arrive as one TCP data segment, and every other shape of response
(``HEAD``, chunked, streamed, large, failed after its start) still arrives whole and correct
on a connection that stays usable.

Segments are counted by the client's kernel (``TCP_INFO``'s ``tcpi_data_segs_in``): with
``TCP_NODELAY`` (uvloop sets it) each write of the server is a segment of its own.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support import Gateway, serve
from vidgate.server import JOIN_LIMIT

RELEASE = threading.Event()
"""Set by the test once it has seen the head of ``/slow-stream``."""
DATA_SEGS_IN = 152  # offset of tcpi_data_segs_in in struct tcp_info (Linux >= 4.6)
BIG = JOIN_LIMIT + 1


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    start = {"type": "http.response.start", "status": 200}
    if path == "/slow-stream":  # its head must show before its first bytes are ready
        await send({**start, "headers": [(b"content-type", b"text/plain")]})
        await asyncio.to_thread(RELEASE.wait, 60)
        await send({"type": "http.response.body", "body": b"late"})
        return
    if path == "/chunked":  # no content-length: uvicorn frames the body in chunks
        await send({**start, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"one,", "more_body": True})
        await send({"type": "http.response.body", "body": b"two"})
        return
    body = b"x" * BIG if path == "/big" else b'{"ok":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({**start, "headers": headers})
    if path == "/fails":
        raise RuntimeError("the app fails after its response started")
    if path == "/streamed":  # the body in two messages
        await send({"type": "http.response.body", "body": body[:5], "more_body": True})
        await send({"type": "http.response.body", "body": body[5:]})
        return
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(app) as url:
        yield url


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def data_segments_in(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int(struct.unpack_from("I", info, DATA_SEGS_IN)[0])


def exchange(sock: socket.socket, method: str, path: str, extra: str = "") -> tuple[bytes, bytes]:
    """Send one request; the response's head and body, read to their end."""
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += receive(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    if method == "HEAD":
        return head, body
    if b"content-length" in fields:
        while len(body) < int(fields[b"content-length"]):
            body += receive(sock)
        return head, body
    while not body.endswith(b"0\r\n\r\n"):  # chunked
        body += receive(sock)
    return head, body


def receive(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    assert chunk, "the server closed the connection"
    return chunk


def test_a_small_reply_is_one_segment(base: str) -> None:
    with connect(base) as sock:
        for _ in range(3):  # on one kept-alive connection
            before = data_segments_in(sock)
            head, body = exchange(sock, "GET", "/small")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert body == b'{"ok":true}'
            assert data_segments_in(sock) - before == 1


def test_a_gateway_reply_is_one_segment(gateway: Gateway) -> None:
    with connect(gateway.url) as sock:
        before = data_segments_in(sock)
        head, body = exchange(sock, "GET", "/health")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"x-request-id: " in head and body.startswith(b"{")
        assert data_segments_in(sock) - before == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("HEAD", "/small", b""),
        ("GET", "/chunked", b"4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n"),
        ("GET", "/streamed", b'{"ok":true}'),
        ("GET", "/big", b"x" * BIG),
    ],
)
def test_other_replies_arrive_whole(base: str, method: str, path: str, body: bytes) -> None:
    with connect(base) as sock:
        head, got = exchange(sock, method, path)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert got == body
        assert exchange(sock, "GET", "/small")[1] == b'{"ok":true}'  # still usable


def test_a_reply_that_fails_after_its_start_closes_the_connection(base: str) -> None:
    with connect(base) as sock:
        sock.sendall(b"GET /fails HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert b'{"ok":true}' not in data  # never a complete response


def test_a_stream_shows_its_head_before_its_first_bytes(base: str) -> None:
    with connect(base) as sock:
        sock.sendall(b"GET /slow-stream HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += receive(sock)  # held until the body, this would wait for ever
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"late" not in data
        RELEASE.set()
        while not data.endswith(b"0\r\n\r\n"):
            data += receive(sock)
        assert b"late" in data
