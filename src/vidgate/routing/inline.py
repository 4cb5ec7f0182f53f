"""Replaces ``Inline`` placeholders in an upstream call's JSON with the inputs' bytes.

A blob is read from storage, a ``data:`` URL decoded, an http(s) URL fetched by the
``ImageFetcher`` (outbound policy, size and type checks). Each input is read or fetched once
per call, however many placeholders name it: Veo asks for an image's bytes and its MIME
type in two places, which used to fetch the URL twice. A ``file_id`` cannot be turned into
bytes here and is a 400 naming the input.
"""

from __future__ import annotations

import base64
from typing import Any

from vidgate import datauri
from vidgate.errors import InvalidRequest
from vidgate.providers.base import Inline
from vidgate.routing.imagefetch import ImageFetcher, unfetchable
from vidgate.storage.base import BlobStore
from vidgate.values import Asset


async def materialize(value: Any, storage: BlobStore, fetcher: ImageFetcher | None) -> Any:
    """``value`` with every ``Inline`` replaced by the string it stands for."""
    return await _Inputs(storage, fetcher).replace(value)


def contains_inline(value: Any) -> bool:
    if isinstance(value, Inline):
        return True
    if isinstance(value, dict):
        return any(contains_inline(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_inline(v) for v in value)
    return False


class _Inputs:
    """The inputs of one upstream call, each read once."""

    def __init__(self, storage: BlobStore, fetcher: ImageFetcher | None) -> None:
        self.storage = storage
        self.fetcher = fetcher
        self._read: dict[Asset, tuple[bytes, str]] = {}

    async def replace(self, value: Any) -> Any:
        if isinstance(value, Inline):
            return await self._render(value)
        if isinstance(value, dict):
            return {k: await self.replace(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [await self.replace(v) for v in value]
        return value

    async def _render(self, item: Inline) -> str:
        if item.asset not in self._read:
            self._read[item.asset] = await asset_bytes(item.asset, self.storage, self.fetcher)
        data, ctype = self._read[item.asset]
        if item.form == "mime_type":
            return ctype
        encoded = base64.b64encode(data).decode()
        return f"data:{ctype};base64,{encoded}" if item.form == "data_uri" else encoded


async def asset_bytes(
    asset: Asset, storage: BlobStore, fetcher: ImageFetcher | None
) -> tuple[bytes, str]:
    """The bytes and content type of an input image."""
    param = asset.param or "input_reference"
    if asset.kind == "blob":
        return await storage.read_all(asset.value), asset.content_type or "image/png"
    if asset.kind == "url" and asset.value.startswith("data:"):
        return datauri.decode(asset.value, param)
    if asset.kind == "url":
        if fetcher is None:
            raise unfetchable(param)
        return await fetcher.fetch(asset.value, param)
    raise InvalidRequest(
        f"This provider needs image bytes; a 'file_id' cannot be used in '{param}'.", param=param
    )
