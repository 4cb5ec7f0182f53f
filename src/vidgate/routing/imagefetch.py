"""Fetches the image URLs clients send, for upstreams that need the image's bytes.

The URL is the client's, so the fetch is built to be harmless: every connection passes the
outbound address policy (``vidgate.outbound``: resolved once, checked, connected to the
checked address), redirects are followed by hand — at most ``MAX_REDIRECTS``, each hop a
new request through the same check — the body is counted while it streams
(``MAX_INLINE_BYTES``, and a ``Content-Length`` above it is refused unread) and must sniff
as PNG, JPEG, WebP or GIF from its first bytes on. Every failure is the same 400: a refused
address, a failed lookup, a refused connection, an error status and a non-image answer all
read alike, so the error cannot be used to map which internal hosts answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx

from vidgate.errors import InvalidRequest
from vidgate.media.sniff import HEAD_BYTES, sniff
from vidgate.netpolicy import OutboundPolicy, Resolver
from vidgate.observe.requests import upstream_time
from vidgate.outbound import guarded_client

log = logging.getLogger("vidgate.inputs")
MAX_INLINE_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _Unfetchable(Exception):
    """Why a fetch failed; logged, never shown to the client."""


_FAILURES = (_Unfetchable, httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, TimeoutError)


def unfetchable(param: str) -> InvalidRequest:
    """The one error for every image URL the gateway could not use."""
    return InvalidRequest(
        f"The image URL in '{param}' could not be fetched as an image. Allowed: an http(s) URL "
        f"on a public address that answers with a PNG, JPEG, WebP or GIF image of at most "
        f"{MAX_INLINE_BYTES // (1024 * 1024)} MiB, or a base64 data: URL.",
        param=param,
        code="invalid_image_url",
    )


_FETCHED: ContextVar[dict[str, tuple[bytes, str]] | None] = ContextVar(
    "vidgate_fetched_images", default=None
)


@contextmanager
def one_fetch_per_url() -> Iterator[None]:
    """Within this block (one client request: its attempts on every deployment), each image
    URL is fetched once; the bytes are dropped when it ends. A context variable, so
    concurrent requests never see each other's images."""
    token = _FETCHED.set({})
    try:
        yield
    finally:
        _FETCHED.reset(token)


class ImageFetcher:
    """Fetches input images under the outbound policy; one per gateway (owns a client)."""

    def __init__(
        self, policy: OutboundPolicy, *, timeout_s: float = 30.0, resolver: Resolver | None = None
    ) -> None:
        self.timeout_s = timeout_s
        timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
        self.http = guarded_client(policy, timeout=timeout, resolver=resolver)

    async def fetch(self, url: str, param: str) -> tuple[bytes, str]:
        """The image's bytes and sniffed type; ``unfetchable(param)`` on any failure. Inside
        ``one_fetch_per_url`` a URL already fetched is not fetched again."""
        fetched = _FETCHED.get()
        if fetched is not None and url in fetched:
            return fetched[url]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):  # the whole fetch, redirects included
                image = await self._follow(url)
        except _FAILURES as exc:
            upstream_time(time.perf_counter() - started)
            log.info("input image in %s not fetched: %s", param, _reason(exc))
            raise unfetchable(param) from None
        upstream_time(time.perf_counter() - started)  # not the gateway's own time
        if fetched is not None:
            fetched[url] = image
        return image

    async def _follow(self, url: str) -> tuple[bytes, str]:
        target = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            if target.scheme not in ("http", "https"):
                raise _Unfetchable(f"scheme {target.scheme!r}")
            async with self.http.stream("GET", target) as response:
                if response.status_code not in _REDIRECTS:
                    return await _image(response)
                location = response.headers.get("location")
                if not location:
                    raise _Unfetchable(f"HTTP {response.status_code} without a Location")
                target = target.join(location)
        raise _Unfetchable(f"more than {MAX_REDIRECTS} redirects")

    async def aclose(self) -> None:
        await self.http.aclose()


async def _image(response: httpx.Response) -> tuple[bytes, str]:
    """The body of a 200 answer, if it is an image of at most ``MAX_INLINE_BYTES``."""
    if response.status_code != 200:
        raise _Unfetchable(f"HTTP {response.status_code}")
    length = response.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length[:18]) > MAX_INLINE_BYTES:
        raise _Unfetchable(f"Content-Length {length}")
    chunks: list[bytes] = []
    size = 0
    ctype: str | None = None
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_INLINE_BYTES:
            raise _Unfetchable(f"over {MAX_INLINE_BYTES} bytes")
        if ctype is None and size >= HEAD_BYTES:
            ctype = _image_type(b"".join(chunks))
    return b"".join(chunks), ctype or _image_type(b"".join(chunks))


def _image_type(head: bytes) -> str:
    ctype = sniff(head[:HEAD_BYTES])
    if ctype not in IMAGE_TYPES:
        raise _Unfetchable("not a PNG, JPEG, WebP or GIF image")
    return ctype


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) if isinstance(exc, _Unfetchable) else type(exc).__name__
