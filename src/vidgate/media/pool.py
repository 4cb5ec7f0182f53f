"""Media work (probe, thumbnail, spritesheet) in a worker process, off the gateway's heap.

Decoding video is CPU-bound and PyAV plus FFmpeg add ~25 MiB to whichever process loads
them. Running it in a small process pool keeps the event loop free and the gateway's own
resident memory flat (measured: ~95 MiB idle / 136 MiB peak with media in-process, see
bench/README.md); workers start lazily, on the first archive, run at a lower CPU priority
than the gateway (``nice``: request handling wins the CPU) and never outlive it
(``media/workers.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from vidgate.errors import InvalidRequest, ServiceUnavailable
from vidgate.media.errors import MediaUnavailable, WorkerLost
from vidgate.media.header import read_header
from vidgate.media.workers import start_pool, stop_pool


def probe_dict(path: str) -> dict[str, Any] | None:
    """Duration, size, fps, codec and audio of a video; ``None`` if it is not one."""
    from vidgate.media.errors import MediaError
    from vidgate.media.probe import probe

    try:
        info = probe(path)
    except MediaError:
        return None
    return {
        "duration_seconds": round(info.duration_s, 3),
        "width": info.width,
        "height": info.height,
        "fps": round(info.fps, 3),
        "codec": info.codec,
        "has_audio": info.has_audio,
    }


def make_previews(video: str, thumbnail: str | None, spritesheet: str | None) -> dict[str, str]:
    """Write the thumbnail (WebP) and/or spritesheet (JPEG) of ``video`` from one open of
    it; the content type of each variant written."""
    from vidgate.media.previews import make_previews as make

    return make(video, thumbnail, spritesheet)


class MediaPool:
    """A lazily started pool of media worker processes."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = start_pool(self.workers)
        return self._pool

    async def probe(self, path: Path) -> dict[str, Any] | None:
        """The facts ``probe_dict`` gives: from the MP4 header where it answers (a few
        reads, ``media/header.py``), else from FFmpeg in a worker."""
        header = await asyncio.to_thread(read_header, path)
        if header.info is not None:
            return header.info
        found: dict[str, Any] | None = await self._run(probe_dict, str(path))
        return found

    async def probe_video(self, path: Path, param: str) -> dict[str, Any]:
        """Probe a client's upload; a 400 naming ``param`` if it is not a video, a 503 if
        the worker was lost meanwhile."""
        try:
            info = await self.probe(path)
        except MediaUnavailable as exc:
            raise ServiceUnavailable("Video uploads cannot be read right now; try again.") from exc
        if info is None:
            raise InvalidRequest(f"'{param}' is not a readable video file.", param=param)
        return info

    async def previews(
        self, video: Path, thumbnail: Path | None, spritesheet: Path | None
    ) -> dict[str, str]:
        """Make the previews asked for in one worker call; their content types by variant."""
        made: dict[str, str] = await self._run(
            make_previews,
            str(video),
            None if thumbnail is None else str(thumbnail),
            None if spritesheet is None else str(spritesheet),
        )
        return made

    async def _run(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work(*args)`` in a worker. A worker that died (killed, out of memory, crashed)
        breaks its whole pool for good, failing every call in it: the broken pool is
        dropped, so the next call starts a new one, and the call is a ``WorkerLost``."""
        pool = self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, work, *args)
        except BrokenProcessPool as exc:
            if self._pool is pool:
                self._pool = None
                await asyncio.to_thread(stop_pool, pool)
            raise WorkerLost(f"the media worker stopped: {exc}") from exc

    async def aclose(self) -> None:
        """Stop the workers (work in progress is dropped: an archive starts over)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(stop_pool, pool)
