"""Copies a finished upstream result into vidgate's storage before upstream URLs expire.

The video is streamed to a temporary file while hashing (never whole in memory), probed for
its real duration and size, and the thumbnail and spritesheet are taken from the upstream
when it serves them. Those it does not serve are made from the video on the first request
for one (``settings.previews: on_request``, the default: ``jobs/previews.py``, which says
why) or here (``at_archive``). Only then does the job become ``completed``; if the job was
deleted meanwhile, the copied assets are removed again.

The video is stored exactly as the upstream sent it, never re-muxed: a C2PA manifest
(Content Credentials) inside it stays intact and verifiable. Whether it carries one is
recorded with the asset (``c2pa``), from its top-level box headers only.

Cost (issue 18, ``bench/archive_cost.py``): one walk of the box headers gives both the C2PA
answer and, for MP4/MOV, the probe (``media/header.py``; FFmpeg's probe in the media worker
is the fallback), previews made here (``at_archive``) are made in one worker call from
keyframes only, and the local store takes the downloaded file by a rename. At most
``archive_concurrency`` archives run at once in a process (the rest wait, in order), so a
burst of finished jobs cannot take every core from request handling; the media workers
also run at a lower CPU priority (``media/workers.py``). Previews made on request have
slots of their own (``jobs/previews.py``): archives never wait behind them.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path
from typing import Any

from vidgate.errors import GatewayError, UpstreamError
from vidgate.jobs import lifecycle
from vidgate.jobs.previews import (
    PREVIEW_EXTENSIONS,
    PREVIEWS,
    PreviewsOnRequest,
    asset_prefix,
    fresh_dir,
    hash_small,
    info_dict,
    preview_key,
    preview_slots,
)
from vidgate.jobs.store import Job, JobStore
from vidgate.media.header import read_header
from vidgate.media.pool import MediaPool
from vidgate.media.sniff import HEAD_BYTES, sniff
from vidgate.providers.base import UpstreamClient
from vidgate.settings import PreviewTiming
from vidgate.storage.base import BlobStore
from vidgate.values import Variant

DEFAULT_CONCURRENCY = 2
"""Archives running at once in a process unless configured (``archive_concurrency``)."""


class Archiver:
    """Moves one job's results from its upstream into the blob store."""

    def __init__(
        self,
        store: JobStore,
        storage: BlobStore,
        tmp_root: Path,
        media: MediaPool,
        concurrency: int = DEFAULT_CONCURRENCY,
        previews: PreviewTiming = "on_request",
    ) -> None:
        self.store = store
        self.storage = storage
        self.tmp_root = tmp_root
        self.media = media
        self.make_previews = previews == "at_archive"
        """Previews the upstream does not serve are made here (else on first request)."""
        self._slots = asyncio.Semaphore(concurrency)  # FIFO: waiters go in arrival order
        self.on_request = PreviewsOnRequest(
            store, storage, tmp_root, media, asyncio.Semaphore(preview_slots(concurrency))
        )
        """Makes a missing preview when it is asked for, in slots of its own: an archive
        never waits for previews (``jobs/previews.py``)."""

    async def archive(
        self, job: Job, client: UpstreamClient, upstream_previews: frozenset[str]
    ) -> Job | None:
        """Archive ``job``'s outputs and complete it; ``None`` if it ended meanwhile."""
        async with self._slots:
            return await self._archive(job, client, upstream_previews)

    async def _archive(
        self, job: Job, client: UpstreamClient, upstream_previews: frozenset[str]
    ) -> Job | None:
        work = self.tmp_root / job.id
        await asyncio.to_thread(fresh_dir, work)
        try:
            video_path = work / "video.mp4"
            digest = await _download(client, job, "video", video_path)
            # box headers only, but a fragmented MP4 may have thousands: off the event loop
            header = await asyncio.to_thread(read_header, video_path)
            info = header.info or await self.media.probe(video_path)
            if info is None:
                raise UpstreamError("The upstream's result is not a readable video.")
            assets = await self._previews(job, client, video_path, work, upstream_previews)
            assets["video"] = info_dict(
                await self.storage.put_file(
                    asset_prefix(job.id) + "video.mp4", video_path, "video/mp4", digest
                )
            )
            assets["video"]["c2pa"] = header.c2pa
            done = await lifecycle.complete(self.store, job.id, assets, info)
            if done is None:
                await self.storage.delete_prefix(asset_prefix(job.id))
            else:
                await client.archived(job.upstream_id or "")
            return done
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _previews(
        self,
        job: Job,
        client: UpstreamClient,
        video_path: Path,
        work: Path,
        upstream_previews: frozenset[str],
    ) -> dict[str, Any]:
        """The thumbnail and spritesheet, stored: the upstream's where it serves them, the
        others made here in one worker call (``at_archive``) or not at all (``on_request``:
        ``jobs/previews.py`` makes each when it is first asked for)."""
        found: dict[str, tuple[str, str]] = {}  # variant: (content type, digest)
        for variant in PREVIEWS:
            if variant in upstream_previews:
                taken = await _upstream_preview(client, job, variant, work / variant)
                if taken is not None:
                    found[variant] = taken
        missing = [variant for variant in PREVIEWS if variant not in found]
        if missing and self.make_previews:
            made = await self.media.previews(
                video_path,
                work / "thumbnail" if "thumbnail" in missing else None,
                work / "spritesheet" if "spritesheet" in missing else None,
            )
            for name, content_type in made.items():
                found[name] = (content_type, hash_small(work / name))
        assets: dict[str, Any] = {}
        for name, (content_type, digest) in found.items():
            key = preview_key(job.id, name, content_type)
            put = self.storage.put_file(key, work / name, content_type, digest)
            assets[name] = info_dict(await put)
        return assets


async def _upstream_preview(
    client: UpstreamClient, job: Job, variant: Variant, path: Path
) -> tuple[str, str] | None:
    """The upstream's own ``variant`` as (content type, digest); ``None`` if it lacks it
    after all (then it is made here)."""
    try:
        digest = await _download(client, job, variant, path)
    except GatewayError:
        return None
    content_type = _preview_type(path)
    return None if content_type is None else (content_type, digest)


async def _download(client: UpstreamClient, job: Job, variant: Variant, path: Path) -> str:
    """Stream ``variant`` to ``path``, hashing on the way; its digest.

    Each piece is hashed and written on the event loop as it arrives: pieces are at most
    ``routing.dispatch.DOWNLOAD_CHUNK`` (256 KiB: ~0.3 ms of SHA-256 on this machine, plus
    a write into the page cache), so the loop is never held for long, and a thread hop per
    piece would add CPU for nothing (the whole 1.8 MB video: ~2 ms of hashing)."""
    digest = hashlib.sha256()
    location = ((job.upstream or {}).get("results") or {}).get(variant)
    async with client.download(job.upstream_id or "", variant, location) as chunks:
        with path.open("wb") as handle:
            async for chunk in chunks:
                digest.update(chunk)
                handle.write(chunk)
    return digest.hexdigest()[:32]


def _preview_type(path: Path) -> str | None:
    """The type of an upstream's preview image, if it is one we serve."""
    with path.open("rb") as handle:
        found = sniff(handle.read(HEAD_BYTES))
    return found if found in PREVIEW_EXTENSIONS else None
