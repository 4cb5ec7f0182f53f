"""Serves a stored asset: streaming, ``Range``/``If-Range``, ``HEAD``, strong ETag, 304.

For the local store this is Starlette's ``FileResponse`` (ranges, HEAD, bounded memory)
with vidgate's content-hash ETag and 256 KiB chunks: measured against 64 KiB (the default)
and 1 MiB, 256 KiB keeps 4 concurrent downloads at ~1.2 GiB/s while the process grows by
~11 MiB, where 1 MiB grew it by ~22 MiB and 64 KiB halved concurrent throughput
(bench/README.md). Other stores stream the requested range from ``BlobStore.read``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from vidgate.storage.base import BlobStore

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _BigChunkFileResponse(FileResponse):
    chunk_size = 256 * 1024


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
    path = storage.local_path(asset["key"])
    if path is not None:
        return _BigChunkFileResponse(path, media_type=asset["content_type"], headers=headers)
    return _streamed(request, storage, asset, headers)


def _streamed(
    request: Request, storage: BlobStore, asset: dict[str, Any], headers: dict[str, str]
) -> Response:
    size = int(asset["size"])
    start, end, status = 0, size - 1, 200
    match = _RANGE.match(request.headers.get("range", ""))
    if match and request.headers.get("if-range", headers["ETag"]) == headers["ETag"]:
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        elif last:
            start = max(0, size - int(last))
        if start > end or start >= size:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers |= {"Accept-Ranges": "bytes", "Content-Length": str(end - start + 1)}
    body = None if request.method == "HEAD" else storage.read(asset["key"], start, end)
    if body is None:
        return Response(status_code=status, headers=headers, media_type=asset["content_type"])
    return StreamingResponse(
        body, status_code=status, headers=headers, media_type=asset["content_type"]
    )
