"""The body limit holds while a chunked body streams in, on every body type and route.

A ``vidgate serve`` process (as users run it) gets 200 MB bodies with
``Transfer-Encoding: chunked`` — no ``Content-Length`` to check — over raw sockets. Each is
refused with the 413 envelope soon after the limit, nothing is left on disk or open, and
the process's peak resident memory stays within a few MiB of where it started.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_FAST
from tests.support import start_vidgate, wait_for, write_config

MASTER = "sk-master-bodylimit-test"
UPLOAD_LIMIT = 8 * 1024 * 1024
JSON_LIMIT = 4 * 1024 * 1024
SENT_MAX = 200 * 1024 * 1024
CHUNK = 256 * 1024


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path

    def status(self, field: str) -> int:
        """A ``/proc/<pid>/status`` value in KiB (``VmRSS``, ``VmHWM``)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(field)

    def reset_peak(self) -> None:
        """Sets ``VmHWM`` back to the current resident size (Linux ``clear_refs`` 5)."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def deleted_open_files(self) -> list[str]:
        fds = Path(f"/proc/{self.process.pid}/fd")
        return [t for f in fds.iterdir() if "(deleted)" in (t := _readlink(f))]


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("bodylimit")
    config = write_config(
        data_dir,
        {
            **LOCAL_FAST,
            "settings": {
                **LOCAL_FAST["settings"],
                "max_upload_bytes": UPLOAD_LIMIT,
                "max_json_bytes": JSON_LIMIT,
            },
        },
    )
    process, url = start_vidgate(data_dir, config, MASTER)
    try:
        yield Served(url, int(url.rsplit(":", 1)[1]), process, data_dir)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _chunked_post(port: int, path: str, ctype: str, body: Iterator[bytes]) -> tuple[int, bytes]:
    """Streams ``body`` chunked until the server answers; (bytes sent, raw response)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {MASTER}\r\n"
        f"Content-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    sent = 0
    with sock:
        sock.sendall(head.encode())
        try:
            for piece in body:
                if select.select([sock], [], [], 0)[0]:
                    break  # the answer came: stop sending, as a client would
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
            else:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed after its answer; read the answer below
        return sent, _read_response(sock)


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or len(data) < _expected_length(data):
        try:
            more = sock.recv(65536)
        except ConnectionResetError:
            break
        if not more:
            break
        data += more
    return data


def _expected_length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":")[1])
    return len(data)


def _filler() -> Iterator[bytes]:
    piece = b"a" * CHUNK
    for _ in range(SENT_MAX // CHUNK):
        yield piece


def _multipart(field: str) -> Iterator[bytes]:
    yield (
        b'--XyZ\r\nContent-Disposition: form-data; name="prompt"\r\n\r\na cat\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nlocal/preview\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="' + field.encode() + b'"; '
        b'filename="big.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n'
    )
    yield from _filler()


def _json() -> Iterator[bytes]:
    yield b'{"model": "local/preview", "prompt": "'
    yield from _filler()


def _assert_413(served: Served, sent: int, raw: bytes, limit: int) -> None:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), raw[:300]
    error = json.loads(body)["error"]
    assert error["code"] == "payload_too_large" and str(limit) in error["message"]
    # refused soon after the limit: socket buffers hold at most a few MiB more
    assert sent < limit + 16 * 1024 * 1024, sent
    leftovers = [p for p in served.data_dir.rglob("*") if p.is_file() and _is_upload(p)]
    assert leftovers == []
    wait_for(lambda: served.deleted_open_files() == [])


def _is_upload(path: Path) -> bool:
    return path.name.startswith("upload-") or "inputs" in path.parts


CASES = [
    ("/v1/videos", "multipart/form-data; boundary=XyZ", "input_reference", UPLOAD_LIMIT),
    ("/v1/videos", "application/json", None, JSON_LIMIT),
    ("/v2/video/generations", "multipart/form-data; boundary=XyZ", "image", UPLOAD_LIMIT),
    ("/v1/video/generations", "application/json", None, JSON_LIMIT),
    ("/key/generate", "application/json", None, JSON_LIMIT),
    ("/v1/webhooks", "application/json", None, JSON_LIMIT),
    ("/team/new", "application/json", None, JSON_LIMIT),
]


@pytest.mark.parametrize(("path", "ctype", "field", "limit"), CASES)
def test_chunked_bodies_past_the_limit_are_refused_while_streaming(
    served: Served, path: str, ctype: str, field: str | None, limit: int
) -> None:
    served.reset_peak()
    rss_before = served.status("VmRSS")
    body = _json() if field is None else _multipart(field)
    sent, raw = _chunked_post(served.port, path, ctype, body)
    _assert_413(served, sent, raw, limit)
    peak_mib = (served.status("VmHWM") - rss_before) / 1024
    print(f"{path} {ctype}: refused after {sent / 2**20:.1f} MiB, peak +{peak_mib:.1f} MiB")
    assert peak_mib < 40, f"resident memory grew by {peak_mib:.1f} MiB"
    assert httpx.get(f"{served.url}/health", timeout=10).status_code == 200


def test_a_declared_length_over_the_limit_is_refused_before_reading(served: Served) -> None:
    headers = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/octet-stream"}
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as sock:
        head = f"POST /v1/videos HTTP/1.1\r\nHost: x\r\nContent-Length: {SENT_MAX}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())  # and no body at all: the answer must not wait for it
        raw = _read_response(sock)
    assert raw.startswith(b"HTTP/1.1 413"), raw[:200]


def test_resident_memory_after_all_oversized_bodies(served: Served) -> None:
    rss = served.status("VmRSS") / 1024
    print(f"gateway resident {rss:.0f} MiB after the 200 MB bodies")
    assert rss < 200, rss
