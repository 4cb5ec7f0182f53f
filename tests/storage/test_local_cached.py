"""``storage.local.cached``: whether a file's bytes are in the page cache, asked without
waiting for the disk (the server's ``sendfile`` path uses it to never block the loop)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vidgate.storage.local import cached

MIB = 1 << 20


def test_pages_dropped_from_the_cache_are_reported_until_read(tmp_path: Path) -> None:
    path = tmp_path / "cold.bin"
    with path.open("wb") as handle:
        handle.write(os.urandom(4 * MIB))
        handle.flush()
        os.fsync(handle.fileno())  # clean pages: the kernel may drop them
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if cached(fd, 0, MIB):
            pytest.skip("this filesystem keeps the pages or cannot tell (no RWF_NOWAIT)")
        os.pread(fd, MIB, 0)  # read once: now in the cache
        assert cached(fd, 0, MIB)
        assert not cached(fd, 3 * MIB, MIB)  # the rest is still on disk
    finally:
        os.close(fd)
