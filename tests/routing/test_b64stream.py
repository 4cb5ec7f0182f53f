"""Inline base64 results are decoded from a JSON stream whatever the chunking."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator

import pytest

from vidgate.errors import UpstreamError
from vidgate.routing.b64stream import decode_field


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


async def collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([part async for part in stream])


@pytest.mark.parametrize("size", [1, 3, 7, 64, 4096, 1 << 20])
async def test_decodes_any_chunking(size: int) -> None:
    video = os.urandom(50_000)
    body = json.dumps(
        {
            "name": "op",
            "done": True,
            "response": {
                "videos": [
                    {
                        "mimeType": "video/mp4",
                        "bytesBase64Encoded": base64.b64encode(video).decode(),
                    }
                ]
            },
        }
    )
    assert await collect(decode_field(chunked(body.encode(), size), "bytesBase64Encoded")) == video


async def test_missing_or_broken_field_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError):
        await collect(decode_field(chunked(b'{"done": true}', 5), "bytesBase64Encoded"))
    with pytest.raises(UpstreamError):
        await collect(
            decode_field(chunked(b'{"bytesBase64Encoded": "@@@@"}', 5), "bytesBase64Encoded")
        )


@pytest.mark.parametrize("size", [1, 2, 5])
async def test_escaped_slashes_split_across_chunks(size: int) -> None:
    video = bytes(range(256)) * 40
    encoded = base64.b64encode(video).decode().replace("/", "\\/")
    body = ('{"bytesBase64Encoded": "' + encoded + '"}').encode()
    assert await collect(decode_field(chunked(body, size), "bytesBase64Encoded")) == video
