"""Streams the base64 string value of one key out of a JSON body, decoded, in bounded memory.

Some upstreams (Veo on Vertex AI) return the finished video inline, base64-encoded inside a
JSON operation body. Parsing that body whole would hold the video in memory several times
over; this scanner finds ``"<key>": "`` in the stream and decodes what follows chunk by
chunk until the closing quote.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator

from vidgate.errors import UpstreamError


async def decode_field(chunks: AsyncIterator[bytes], key: str) -> AsyncIterator[bytes]:
    """Yield the decoded bytes of the first string value of ``key`` in a JSON stream."""
    value_start = re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*"')
    buffer = b""
    found = False
    async for chunk in chunks:
        buffer += chunk
        if not found:
            match = value_start.search(buffer)
            if match is None:
                buffer = buffer[-(len(key) + 64) :]  # enough to hold a split marker
                continue
            found, buffer = True, buffer[match.end() :]
        end = buffer.find(b'"')
        held = b"\\" if end < 0 and buffer.endswith(b"\\") else b""  # half of a "\/" escape
        raw = buffer[:end] if end >= 0 else buffer[: len(buffer) - len(held)]
        payload = raw.replace(b"\\/", b"/")
        usable = len(payload) if end >= 0 else len(payload) - len(payload) % 4
        if usable:
            yield _decode(payload[:usable])
        if end >= 0:
            return
        buffer = payload[usable:] + held
    raise UpstreamError(f"The upstream's reply has no complete '{key}' field.")


def _decode(data: bytes) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise UpstreamError("The upstream's inline video is not valid base64.") from None
