"""A loopback image server for the outbound policy tests: it records every request it gets
(so a test can prove a refused target was never reached) and serves an image, redirects,
non-images and bodies too large to take."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

CHUNK = 1024 * 1024
STREAM_CAP = 200
"""The streaming routes stop after this many chunks (or when the client goes away)."""


def png_bytes(width: int = 24, height: int = 16) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


PNG = png_bytes()


class ImageServer:
    """The app and what it saw: request paths, and bytes sent by the streaming routes."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.streamed = 0
        self.streams_open = 0
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/img.png", self._image),
                Route("/octet", self._octet),
                Route("/text", self._text),
                Route("/missing", self._missing),
                Route("/redirect", self._redirect),
                Route("/hops/{count:int}", self._hops),
                Route("/endless", self._endless),
                Route("/declared-huge", self._declared_huge),
            ]
        )

    def count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for hit in self.hits if path is None or hit == path)

    def _hit(self, request: Request) -> None:
        with self._lock:
            self.hits.append(request.url.path)

    async def _image(self, request: Request) -> Response:
        self._hit(request)
        return Response(PNG, media_type="image/png")

    async def _octet(self, request: Request) -> Response:
        self._hit(request)  # an image served as octet-stream: the bytes decide
        return Response(PNG, media_type="application/octet-stream")

    async def _text(self, request: Request) -> Response:
        self._hit(request)  # a non-image that claims to be one
        return Response(b"internal admin page " * 10, media_type="image/png")

    async def _missing(self, request: Request) -> Response:
        self._hit(request)
        return Response(b"not here", status_code=404, media_type="text/plain")

    async def _redirect(self, request: Request) -> Response:
        self._hit(request)
        status = int(request.query_params.get("status", "302"))
        return RedirectResponse(request.query_params["to"], status_code=status)

    async def _hops(self, request: Request) -> Response:
        self._hit(request)
        count = int(request.path_params["count"])
        return RedirectResponse(f"/hops/{count - 1}" if count > 1 else "/img.png", 302)

    async def _endless(self, request: Request) -> Response:
        self._hit(request)  # a PNG header, then zeros for ever, without Content-Length
        return StreamingResponse(self._stream(request), media_type="image/png")

    async def _declared_huge(self, request: Request) -> Response:
        self._hit(request)
        headers = {"content-length": str(30 * CHUNK)}
        return StreamingResponse(self._stream(request, 30), media_type="image/png", headers=headers)

    async def _stream(self, request: Request, chunks: int = STREAM_CAP) -> AsyncIterator[bytes]:
        """A PNG header, then zeros, until ``chunks`` or the client is gone."""
        with self._lock:
            self.streams_open += 1
        try:
            for index in range(chunks):
                if await request.is_disconnected():
                    return
                yield PNG[:16] + bytes(CHUNK - 16) if index == 0 else bytes(CHUNK)
                with self._lock:
                    self.streamed += CHUNK
                await asyncio.sleep(0)  # let the disconnect be seen
        finally:
            with self._lock:
                self.streams_open -= 1
