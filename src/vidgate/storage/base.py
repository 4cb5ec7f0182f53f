"""Where archived videos and uploaded inputs live: a small protocol over blob stores.

The job archive writes finished assets with ``put_file`` (the file was already streamed to
disk while downloading, so no store ever sees a whole video in memory) and the content
route reads them back in ranges. The local filesystem store is the default; an
S3-compatible store implements the same protocol for scale-out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class BlobInfo:
    """Facts about a stored blob that responses need (size, strong ETag, type)."""

    key: str
    size: int
    etag: str
    content_type: str


class BlobStore(Protocol):
    """A flat namespace of immutable blobs addressed by ``/``-separated keys."""

    async def put_file(self, key: str, path: Path, content_type: str, etag: str) -> BlobInfo:
        """Move or copy a finished local file into the store under ``key``."""
        ...

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        """Store a small blob (an uploaded image)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for ``key`` when the store is local, else ``None``."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream bytes ``start``..``end`` (inclusive; ``None`` = to the end)."""
        ...

    async def read_all(self, key: str) -> bytes:
        """Read a small blob whole (input images only)."""
        ...

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every blob whose key starts with ``prefix``."""
        ...
