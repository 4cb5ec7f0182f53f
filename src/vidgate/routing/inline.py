"""Replaces ``Inline`` placeholders in an upstream call's JSON with the inputs' bytes.

Inputs are images (at most ``MAX_INLINE_BYTES``); a blob is read from storage, a ``data:``
URL decoded, an http(s) URL fetched with the gateway's client. A ``file_id`` cannot be
turned into bytes here and is a 400 naming the input.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Asset, Inline
from vidgate.storage.base import BlobStore

MAX_INLINE_BYTES = 20 * 1024 * 1024


async def materialize(value: Any, storage: BlobStore, http: httpx.AsyncClient) -> Any:
    """``value`` with every ``Inline`` replaced by the string it stands for."""
    if isinstance(value, Inline):
        return await _render(value, storage, http)
    if isinstance(value, dict):
        return {k: await materialize(v, storage, http) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [await materialize(v, storage, http) for v in value]
    return value


def contains_inline(value: Any) -> bool:
    if isinstance(value, Inline):
        return True
    if isinstance(value, dict):
        return any(contains_inline(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_inline(v) for v in value)
    return False


async def _render(item: Inline, storage: BlobStore, http: httpx.AsyncClient) -> str:
    data, ctype = await asset_bytes(item.asset, storage, http)
    if item.form == "mime_type":
        return ctype
    encoded = base64.b64encode(data).decode()
    return f"data:{ctype};base64,{encoded}" if item.form == "data_uri" else encoded


async def asset_bytes(
    asset: Asset, storage: BlobStore, http: httpx.AsyncClient
) -> tuple[bytes, str]:
    """The bytes and content type of an input image."""
    if asset.kind == "blob":
        return await storage.read_all(asset.value), asset.content_type or "image/png"
    if asset.kind == "url" and asset.value.startswith("data:"):
        header, _, payload = asset.value.partition(",")
        ctype = header[5:].split(";")[0] or "application/octet-stream"
        try:
            return base64.b64decode(payload, validate=True), ctype
        except (binascii.Error, ValueError):
            raise InvalidRequest("An image data: URL is not valid base64.") from None
    if asset.kind == "url":
        return await _fetch(asset.value, http)
    raise InvalidRequest(
        "This provider needs image bytes; a 'file_id' cannot be used here.", param="input_reference"
    )


async def _fetch(url: str, http: httpx.AsyncClient) -> tuple[bytes, str]:
    try:
        async with http.stream("GET", url, follow_redirects=True, timeout=30) as response:
            if response.status_code >= 400:
                raise InvalidRequest(
                    f"Fetching an input image failed with HTTP {response.status_code}.",
                    param="input_reference",
                )
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_INLINE_BYTES:
                    raise InvalidRequest("An input image is over 20 MiB.", param="input_reference")
                chunks.append(chunk)
            ctype = response.headers.get("content-type", "image/png").split(";")[0]
            return b"".join(chunks), ctype
    except httpx.HTTPError as exc:
        raise InvalidRequest(
            f"Cannot fetch an input image: {type(exc).__name__}.", param="input_reference"
        ) from exc
