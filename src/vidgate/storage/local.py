"""Blob store on the local filesystem: the embedded default.

Keys map to paths under one root. Files are written to a temporary name and renamed, so a
reader never sees a partial asset and a crash leaves no half-written blob under its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from vidgate.storage.base import BlobInfo

CHUNK = 256 * 1024


class LocalBlobStore:
    """``BlobStore`` over a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._inside = str(root.resolve()) + os.sep

    def _path(self, key: str) -> Path:
        """The file of ``key``; a key that leads out of the store (``..``, an absolute
        path) is refused. Pure string work: ``Path.resolve`` stats every component of the
        path and cost ~10% of serving a download (bench/serve_paths.py)."""
        path = os.path.normpath(os.path.join(self._inside, key))
        if not path.startswith(self._inside):
            raise ValueError(f"blob key escapes the store: {key!r}")
        return Path(path)

    async def put_file(self, key: str, path: Path, content_type: str, etag: str) -> BlobInfo:
        target = self._path(key)
        await asyncio.to_thread(_move_into, path, target)
        return BlobInfo(key, target.stat().st_size, etag, content_type)

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return BlobInfo(key, len(data), hashlib.sha256(data).hexdigest()[:32], content_type)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        fd = os.open(self._path(key), os.O_RDONLY | os.O_CLOEXEC)
        try:
            offset = start
            while end is None or offset <= end:
                size = CHUNK if end is None else min(CHUNK, end - offset + 1)
                chunk = await read_at(fd, offset, size)
                if not chunk:
                    break
                offset += len(chunk)
                yield bytes(chunk)
        finally:
            os.close(fd)

    async def read_all(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete_prefix(self, prefix: str) -> None:
        target = self._path(prefix.rstrip("/"))
        await asyncio.to_thread(shutil.rmtree, target, True)


async def read_at(fd: int, offset: int, size: int) -> bytes | bytearray:
    """Up to ``size`` bytes of ``fd`` at ``offset`` (empty at the end): read on the event
    loop when the page cache holds them — ``preadv(RWF_NOWAIT)`` refuses (``EAGAIN``) rather
    than wait for the disk — else in a worker thread. A thread hop per chunk cost more CPU
    than the read itself when serving cached videos (bench/serve_paths.py)."""
    buffer = bytearray(size)
    got = 0
    if _NOWAIT:
        with contextlib.suppress(OSError):  # EAGAIN: not cached; or unsupported here
            got = os.preadv(fd, [buffer], offset, _NOWAIT)
    if got <= 0:
        return await asyncio.to_thread(os.pread, fd, size, offset)
    return buffer if got == size else buffer[:got]


_NOWAIT = getattr(os, "RWF_NOWAIT", 0)


def cached(fd: int, offset: int, count: int) -> bool:
    """Whether the first and last byte of ``count`` bytes at ``offset`` are in the page
    cache (a sequential read brings the ones between in with them); ``True`` where the
    kernel cannot tell (no ``RWF_NOWAIT``)."""
    if not _NOWAIT or count <= 0:
        return True
    probe = bytearray(1)
    for at in (offset, offset + count - 1):
        try:
            if os.preadv(fd, [probe], at, _NOWAIT) <= 0:
                return False
        except BlockingIOError:  # EAGAIN: it would wait for the disk
            return False
        except OSError:  # RWF_NOWAIT not supported by this filesystem
            return True
    return True


def _move_into(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError:  # another filesystem: copy then rename
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        source.unlink(missing_ok=True)
