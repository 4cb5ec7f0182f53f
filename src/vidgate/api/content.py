"""Serves a stored asset: streaming, ``Range``/``If-Range``, ``HEAD``, strong ETag, 304.

One function, ``asset_response``, decides the answer from the request's headers and the
asset's record, for the framework route and the fast path alike (api/fastpath.py), so the
two cannot drift. The ``Range`` header is decided once for every store, in
``api/ranges.py`` (errors in the envelope).

The local store's files are sent by ``LocalFile`` rather than Starlette's ``FileResponse``.
Measured on one pinned core (bench/serve_paths.py, docs/design.md "Serving files"), a
``FileResponse`` download of a 1.85 MB video cost 4.3-8.5 ms of CPU: every chunk is read in
a worker thread (a thread hop and a GIL hand-over per 256 KiB), and under uvicorn (ASGI
2.3) each response runs an anyio task group whose second task only waits for a
disconnect. A whole-file answer is handed to the server as the ASGI
``http.response.pathsend`` extension, which vidgate's uvicorn protocol (``server.py``)
sends with ``sendfile(2)``, as granian does; a range too, where the server offers
vidgate's ``vidgate.pathsend.offset``. Elsewhere a range is read by ``storage.local.read_at``
on the event loop when the page cache has it (``preadv(RWF_NOWAIT)``), in a thread only
when the disk must be read; a plain asyncio task watches for the disconnect. Memory stays
bounded: one chunk per download in flight, and uvicorn waits for the socket to drain
before the next.

256 KiB chunks: measured against 64 KiB and 1 MiB (bench/README.md), 256 KiB kept 4
concurrent downloads at ~1.2 GiB/s while the process grew by ~11 MiB, where 1 MiB grew it
by ~22 MiB and 64 KiB halved concurrent throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from email.utils import formatdate
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from vidgate.api.errors import error_response
from vidgate.api.ranges import requested_range
from vidgate.errors import NotFound
from vidgate.observe.requests import note
from vidgate.storage.base import BlobStore
from vidgate.storage.local import CHUNK, read_at

PATHSEND = "http.response.pathsend"
FROM_OFFSET = "vidgate.pathsend.offset"
"""vidgate's server (``server.py``) takes a pathsend starting at ``offset``: ranges too."""


class LocalFile(Response):
    """A local file, whole or one range, as ``FileResponse`` sends it (same headers:
    ``content-type``, ``content-length``, ``last-modified``, ``accept-ranges``, and
    ``content-range`` for a 206), without a thread per chunk."""

    def __init__(
        self,
        path: Path,
        wanted: tuple[int, int] | None,
        media_type: str,
        headers: Mapping[str, str],
        head: bool,
        video_id: str = "",
    ) -> None:
        self.path = path
        self.video_id = video_id
        self.wanted = wanted
        self.media_type = self.content_type = media_type
        self.head = head
        self.extra = headers
        self.background: BackgroundTask | None = None
        self.status_code = 200
        self.body = b""
        self.raw_headers = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # deleted with its video since the lookup: a 404, no 500
            gone = NotFound(f"No video found with id '{self.video_id}'.", param="video_id")
            note(scope, error_code=gone.code)
            await error_response(gone)(scope, receive, send)
            return
        try:
            await self._send(fd, scope, receive, send)
        finally:
            os.close(fd)

    async def _send(self, fd: int, scope: Scope, receive: Receive, send: Send) -> None:
        stat = os.fstat(fd)
        size = stat.st_size
        start, end = (0, size - 1) if self.wanted is None else self.wanted
        end = min(end, size - 1)
        headers = [
            (b"content-type", self.content_type.encode("latin-1")),
            (b"content-length", str(max(end - start + 1, 0)).encode()),
            (b"last-modified", formatdate(stat.st_mtime, usegmt=True).encode()),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.extra.items()),
            (b"accept-ranges", b"bytes"),
        ]
        status = 200
        if self.wanted is not None:
            status = 206
            headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
        self.status_code, self.raw_headers = status, headers
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if self.head or end < start:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif self.wanted is None and PATHSEND in scope.get("extensions", {}):
            await send({"type": PATHSEND, "path": str(self.path)})
        elif FROM_OFFSET in scope.get("extensions", {}):
            await send({"type": PATHSEND, "path": str(self.path), "offset": start})
        else:
            await _send_range(fd, start, end, receive, send)


async def _send_range(fd: int, start: int, end: int, receive: Receive, send: Send) -> None:
    """Bytes ``start``..``end`` of ``fd`` as body messages, until done or disconnected."""
    watch = asyncio.ensure_future(_disconnect(receive))
    try:
        offset = start
        while offset <= end and not watch.done():
            chunk = await read_at(fd, offset, min(CHUNK, end - offset + 1))
            if not chunk:
                raise RuntimeError("the file is shorter than its record")
            offset += len(chunk)
            more = offset <= end
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def asset_response(
    headers: Mapping[str, str],
    method: str,
    storage: BlobStore,
    asset: Mapping[str, Any],
    filename: str,
) -> Response:
    """The answer to a request with ``headers`` for ``asset`` (raises the envelope's
    ``RangeNotSatisfiable``)."""
    etag = f'"{asset["etag"]}"'
    own = {
        "ETag": etag,
        "Cache-Control": "private, max-age=86400",
        "Content-Disposition": f'inline; filename="{filename}"',
    }
    if headers.get("if-none-match") in (etag, f"W/{etag}"):
        return Response(status_code=304, headers=own)
    wanted = None
    if headers.get("if-range", etag) == etag:  # else the asset changed: send it all
        wanted = requested_range(headers.get("range"), int(asset["size"]))
    path = storage.local_path(asset["key"])
    head = method == "HEAD"
    if path is not None:
        return LocalFile(path, wanted, asset["content_type"], own, head, filename.split(".")[0])
    return _streamed(head, storage, asset, own, wanted)


def content_response(
    request: Request, storage: BlobStore, asset: dict[str, Any], filename: str
) -> Response:
    return asset_response(request.headers, request.method, storage, asset, filename)


def _streamed(
    head: bool,
    storage: BlobStore,
    asset: Mapping[str, Any],
    headers: dict[str, str],
    wanted: tuple[int, int] | None,
) -> Response:
    size = int(asset["size"])
    start, end, status = 0, size - 1, 200
    if wanted is not None:
        (start, end), status = wanted, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers |= {"Accept-Ranges": "bytes", "Content-Length": str(end - start + 1)}
    body = None if head else storage.read(asset["key"], start, end)
    if body is None:
        return Response(status_code=status, headers=headers, media_type=asset["content_type"])
    return StreamingResponse(
        body, status_code=status, headers=headers, media_type=asset["content_type"]
    )
