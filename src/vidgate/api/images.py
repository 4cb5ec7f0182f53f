"""Input images the gateway holds (uploads, data URIs) are decoded before a job exists.

An upload that is not an image used to be accepted with 200 and fail later as a job
(``render_failed``, after money was held). Here each image the client sent as bytes is opened
with Pillow — header and structure (``verify``), no pixels decoded, in a thread — and a
file that is not a PNG, JPEG or WebP image is a 400 naming the field the client used
(``input_reference``, ``image``, ``images[1]``, ``content[0]``). Which formats a model takes
is the provider's to say (uploads are limited to PNG, JPEG and WebP by ``request/parse.py``; some
upstreams take GIF or BMP by URI); here only "is it an image at all". Image URLs are checked
where they are fetched (``routing/imagefetch.py``) or by the upstream that fetches them.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from vidgate import datauri
from vidgate.errors import InvalidRequest
from vidgate.request import VideoRequest
from vidgate.storage.base import BlobStore


async def check_images(video: VideoRequest, storage: BlobStore) -> None:
    """Raise a 400 naming the field of the first image given as bytes that is unreadable."""
    for canonical, kind, value in _images(video):
        param = video.name(canonical)
        readable = await _readable(kind, value, storage, param)
        if readable is False:
            raise InvalidRequest(
                f"'{param}' is not a readable image (PNG, JPEG or WebP).",
                param=param,
                code="invalid_image",
            )


def _images(video: VideoRequest) -> Iterator[tuple[str, str, str]]:
    """(canonical field, asset kind, asset value) of every input image."""
    named = [("input_reference", video.image), ("metadata.last_frame", video.last_frame)]
    named += [(f"metadata.reference_images[{i}]", a) for i, a in enumerate(video.reference_images)]
    named += [(f"images[{i}]", a) for i, a in enumerate(video.images)]
    for canonical, asset in named:
        if asset is not None:
            yield canonical, asset.kind, asset.value


async def _readable(kind: str, value: str, storage: BlobStore, param: str) -> bool | None:
    """Whether the image decodes; ``None`` when the gateway does not hold its bytes."""
    if kind == "blob":
        path = storage.local_path(value)
        if path is not None:
            return await asyncio.to_thread(_check_path, path)
        data = await storage.read_all(value)
        return await asyncio.to_thread(_check_file, io.BytesIO(data))
    if kind == "url" and value.startswith("data:"):
        data, _ = datauri.decode(value, param)
        return await asyncio.to_thread(_check_file, io.BytesIO(data))
    return None


def _check_path(path: Path) -> bool:
    with path.open("rb") as handle:
        return _check_file(handle)


def _check_file(handle: IO[bytes]) -> bool:
    from PIL import Image

    try:
        with Image.open(handle) as image:
            image.verify()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False  # UnidentifiedImageError is an OSError
    return True
