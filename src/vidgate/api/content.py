"""Serves a stored asset: streaming, ``Range``/``If-Range``, ``HEAD``, strong ETag, 304.

For the local store this is Starlette's ``FileResponse`` (ranges, HEAD, bounded memory)
with vidgate's content-hash ETag and 256 KiB chunks: measured against 64 KiB (the default)
and 1 MiB, 256 KiB keeps 4 concurrent downloads at ~1.2 GiB/s while the process grows by
~11 MiB, where 1 MiB grew it by ~22 MiB and 64 KiB halved concurrent throughput
(bench/README.md). Other stores stream the requested range from ``BlobStore.read``. The
``Range`` header is decided once for both, in ``api/ranges.py`` (errors in the envelope).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from vidgate.api.ranges import requested_range
from vidgate.storage.base import BlobStore


class _LocalFile(FileResponse):
    """``FileResponse`` serving exactly the range decided by ``requested_range``: the
    client's ``Range``/``If-Range`` headers are replaced, so Starlette never answers one
    itself (in plain text)."""

    chunk_size = 256 * 1024

    def __init__(self, path: Path, wanted: tuple[int, int] | None, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.wanted = wanted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")]
        if self.wanted is not None:
            headers.append((b"range", "bytes={}-{}".format(*self.wanted).encode()))
        await super().__call__({**scope, "headers": headers}, receive, send)


def content_response(
    request: Request, storage: BlobStore, asset: dict[str, Any], filename: str
) -> Response:
    etag = f'"{asset["etag"]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=86400",
        "Content-Disposition": f'inline; filename="{filename}"',
    }
    if request.headers.get("if-none-match") in (etag, f"W/{etag}"):
        return Response(status_code=304, headers=headers)
    wanted = None
    if request.headers.get("if-range", etag) == etag:  # else the asset changed: send it all
        wanted = requested_range(request.headers.get("range"), int(asset["size"]))
    path = storage.local_path(asset["key"])
    if path is not None:
        return _LocalFile(path, wanted, media_type=asset["content_type"], headers=headers)
    return _streamed(request, storage, asset, headers, wanted)


def _streamed(
    request: Request,
    storage: BlobStore,
    asset: dict[str, Any],
    headers: dict[str, str],
    wanted: tuple[int, int] | None,
) -> Response:
    size = int(asset["size"])
    start, end, status = 0, size - 1, 200
    if wanted is not None:
        (start, end), status = wanted, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers |= {"Accept-Ranges": "bytes", "Content-Length": str(end - start + 1)}
    body = None if request.method == "HEAD" else storage.read(asset["key"], start, end)
    if body is None:
        return Response(status_code=status, headers=headers, media_type=asset["content_type"])
    return StreamingResponse(
        body, status_code=status, headers=headers, media_type=asset["content_type"]
    )
