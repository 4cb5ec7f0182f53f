"""Copies a finished upstream result into vidgate's storage before upstream URLs expire.

The video is streamed to a temporary file while hashing (never whole in memory), probed for
its real duration and size, and the thumbnail and spritesheet are taken from the upstream
when it serves them or made here from the video. Only then does the job become
``completed``; if the job was deleted meanwhile, the copied assets are removed again.

The video is stored exactly as the upstream sent it, never re-muxed: a C2PA manifest
(Content Credentials) inside it stays intact and verifiable. Whether it carries one is
recorded with the asset (``c2pa``), from its top-level box headers only.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path
from typing import Any

from vidgate.errors import GatewayError, UpstreamError
from vidgate.jobs import lifecycle
from vidgate.jobs.store import Job, JobStore
from vidgate.media.pool import MediaPool
from vidgate.media.provenance import has_c2pa_manifest
from vidgate.media.sniff import HEAD_BYTES, sniff
from vidgate.providers.base import UpstreamClient
from vidgate.storage.base import BlobInfo, BlobStore
from vidgate.values import Variant

PREVIEW_EXTENSIONS = {"image/webp": "webp", "image/jpeg": "jpg", "image/png": "png"}
"""Preview image types an upstream may serve, and their file extensions."""
_NAMES = {"video": "video.mp4", "thumbnail": "thumbnail", "spritesheet": "spritesheet.jpg"}


def asset_prefix(job_id: str) -> str:
    return f"videos/{job_id}/"


class Archiver:
    """Moves one job's results from its upstream into the blob store."""

    def __init__(
        self, store: JobStore, storage: BlobStore, tmp_root: Path, media: MediaPool
    ) -> None:
        self.store = store
        self.storage = storage
        self.tmp_root = tmp_root
        self.media = media

    async def archive(
        self, job: Job, client: UpstreamClient, upstream_previews: frozenset[str]
    ) -> Job | None:
        """Archive ``job``'s outputs and complete it; ``None`` if it ended meanwhile."""
        work = self.tmp_root / job.id
        await asyncio.to_thread(_fresh_dir, work)
        try:
            video_path = work / "video.mp4"
            digest = await _download(client, job, "video", video_path)
            info = await self.media.probe(video_path)
            if info is None:
                raise UpstreamError("The upstream's result is not a readable video.")
            assets: dict[str, Any] = {}
            for variant in ("thumbnail", "spritesheet"):
                assets[variant] = await self._preview(
                    job, client, variant, video_path, work, variant in upstream_previews
                )
            # header reads only (tens of µs), but a fragmented MP4 may have thousands of
            # boxes: off the event loop
            c2pa = await asyncio.to_thread(has_c2pa_manifest, video_path)
            assets["video"] = _info_dict(
                await self.storage.put_file(
                    asset_prefix(job.id) + "video.mp4", video_path, "video/mp4", digest
                )
            )
            assets["video"]["c2pa"] = c2pa
            done = await lifecycle.complete(self.store, job.id, assets, info)
            if done is None:
                await self.storage.delete_prefix(asset_prefix(job.id))
            else:
                await client.archived(job.upstream_id or "")
            return done
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _preview(
        self,
        job: Job,
        client: UpstreamClient,
        variant: Variant,
        video_path: Path,
        work: Path,
        from_upstream: bool,
    ) -> dict[str, Any]:
        path = work / variant
        content_type = None
        if from_upstream:
            try:
                digest = await _download(client, job, variant, path)
                content_type = _preview_type(path)
            except GatewayError:
                content_type = None  # the upstream lacks it after all: make our own
        if content_type is None:
            content_type = await self.media.preview(variant, video_path, path)
            digest = await asyncio.to_thread(_hash_file, path)
        ext = PREVIEW_EXTENSIONS[content_type]
        key = f"{asset_prefix(job.id)}{variant}.{ext}"
        return _info_dict(await self.storage.put_file(key, path, content_type, digest))


async def _download(client: UpstreamClient, job: Job, variant: Variant, path: Path) -> str:
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


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:32]


def _info_dict(info: BlobInfo) -> dict[str, Any]:
    return {
        "key": info.key,
        "size": info.size,
        "etag": info.etag,
        "content_type": info.content_type,
    }


def _fresh_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
