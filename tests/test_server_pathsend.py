"""``http.response.pathsend`` in vidgate's uvicorn protocol (``vidgate.server``), over sockets.

The file arrives whole and byte-exact whatever the client's pace (a client reading a few KiB
at a time fills the socket, so the chunk-through-the-transport fallback runs too), framed
with chunks when the response has no ``content-length``, and the connection stays usable
for the next request; a client that leaves mid-file ends the send and closes the file.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import serve, wait_for

SIZE = 24 << 20
OFFSET = 3_000_001


class FileApp:
    """Sends ``path`` by pathsend at ``/file`` (with a length), ``/chunked`` (without) and
    ``/from`` (from ``OFFSET``, vidgate's extension: a range)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.finished = 0
        self.extensions: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.extensions.append(scope.get("extensions", {}))
        headers = [(b"content-type", b"application/octet-stream")]
        offset = OFFSET if scope["path"] == "/from" else 0
        if scope["path"] != "/chunked":
            length = self.path.stat().st_size - offset
            headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        message = {"type": "http.response.pathsend", "path": str(self.path)}
        if offset:
            message["offset"] = offset
        await send(message)
        self.finished += 1


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pathsend") / "big.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.fixture(scope="module")
def served(big: Path) -> Iterator[tuple[str, FileApp]]:
    app = FileApp(big)
    with serve(app) as url:
        yield url, app


def _slow_get(url: str, path: str, *, stop_after: int | None = None) -> tuple[bytes, bytes]:
    """GET ``path`` twice on one connection with a small receive buffer, reading 4 KiB at a
    time; the head and body of the first reply (or only ``stop_after`` bytes, then close)."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.settimeout(120)
    sock.connect((parts.hostname, parts.port))
    request = f"GET {path} HTTP/1.1\r\nhost: x\r\n\r\n".encode()
    with sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(_header(head, b"content-length"))
        wanted = length if stop_after is None else stop_after
        received = [body]
        got = len(body)
        while got < wanted:
            piece = sock.recv(4096)
            assert piece, "the server closed the connection mid-body"
            received.append(piece)
            got += len(piece)
        if stop_after is None:  # the connection is still good for a second request
            sock.sendall(request)
            again = b""
            while b"\r\n\r\n" not in again:
                again += sock.recv(65536)
            assert again.startswith(b"HTTP/1.1 200")
        return head, b"".join(received)


def _header(head: bytes, name: bytes) -> bytes:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    raise AssertionError(f"no {name!r} in {head!r}")


def test_a_slow_reader_gets_the_whole_file(served: tuple[str, FileApp], big: Path) -> None:
    url, app = served
    head, body = _slow_get(url, "/file")
    assert head.startswith(b"HTTP/1.1 200")
    assert len(body) == SIZE
    assert hashlib.sha256(body).digest() == hashlib.sha256(big.read_bytes()).digest()
    assert app.extensions[-1].get("http.response.pathsend") == {}


def test_a_range_starts_at_its_offset(served: tuple[str, FileApp], big: Path) -> None:
    url, app = served
    head, body = _slow_get(url, "/from")
    assert _header(head, b"content-length") == str(SIZE - OFFSET).encode()
    assert body == big.read_bytes()[OFFSET:]
    assert app.extensions[-1].get("vidgate.pathsend.offset") == {}


def test_without_a_length_the_file_is_sent_in_chunks(
    served: tuple[str, FileApp], big: Path
) -> None:
    url, _ = served
    with httpx.Client(timeout=120) as client:
        reply = client.get(url + "/chunked")
    assert reply.status_code == 200
    assert reply.headers["transfer-encoding"] == "chunked"
    assert reply.content == big.read_bytes()


def test_a_client_leaving_mid_file_ends_the_send(served: tuple[str, FileApp], big: Path) -> None:
    url, app = served
    before = app.finished
    _slow_get(url, "/file", stop_after=1 << 20)
    wait_for(lambda: app.finished > before)  # the app's send returned
    wait_for(lambda: not _open_files(big))  # and the file was closed
    with httpx.Client(timeout=120) as client:
        assert client.get(url + "/file").content == big.read_bytes()


def _open_files(path: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        try:
            if os.readlink(fd) == str(path):
                found.append(fd.name)
        except OSError:
            continue
    return found
