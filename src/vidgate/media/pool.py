"""Media work (probe, thumbnail, spritesheet) in a worker process, off the gateway's heap.

Decoding video is CPU-bound and PyAV plus FFmpeg add ~25 MiB to whichever process loads
them. Running it in a small process pool keeps the event loop free and the gateway's own
resident memory flat (measured: ~95 MiB idle / 136 MiB peak with media in-process, see
bench/README.md); workers start lazily, on the first archive, and never outlive the gateway
(``media/workers.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path
from typing import Any

from vidgate.errors import InvalidRequest
from vidgate.media.workers import start_pool, stop_pool


def probe_dict(path: str) -> dict[str, Any] | None:
    """Duration, size, fps, codec and audio of a video; ``None`` if it is not one."""
    from vidgate.media.probe import MediaError, probe

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


def make_preview(variant: str, video: str, out: str) -> str:
    """Write the thumbnail (WebP) or spritesheet (JPEG) of ``video``; return its type."""
    from vidgate.media.previews import make_spritesheet, make_thumbnail

    if variant == "thumbnail":
        return make_thumbnail(video, out)
    return make_spritesheet(video, out)


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
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), probe_dict, str(path))

    async def probe_video(self, path: Path, param: str) -> dict[str, Any]:
        """Probe a client's upload; a 400 naming ``param`` if it is not a video."""
        info = await self.probe(path)
        if info is None:
            raise InvalidRequest(f"'{param}' is not a readable video file.", param=param)
        return info

    async def preview(self, variant: str, video: Path, out: Path) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor(), make_preview, variant, str(video), str(out)
        )

    async def aclose(self) -> None:
        """Stop the workers (work in progress is dropped: an archive starts over)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(stop_pool, pool)
