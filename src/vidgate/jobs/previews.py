"""Previews the upstream does not serve, made on the first request for one (issue 18).

Most providers serve no thumbnail or spritesheet, and making both from the archived video
was most of an archive's cost. ``bench/archive_cost.py``, CPU per job (gateway process plus
media worker, medians of 3 runs of 10 jobs, load 2.3-3): a 4 s 720p video archives in 6.4 ms
without previews against 50.3 ms with both made (the archive target is 15 ms); a 12 s 1080p
one in 20.4 ms against 181 ms (the download and its hash are 17 ms of that, as for an
upstream that serves previews); the local renderer's 4 s 720p video 6.8 ms against 38 ms.
Made on request, the thumbnail then costs 28.7 / 37.6 / 16.4 ms on its first request and the
spritesheet 37.0 / 150 / 24.0 ms. Both made apart cost more than both at once (one open and
the thumbnail's keyframe decoded twice), but many previews are never looked at (an API
client that only downloads the video), and a first request is paid only once. So by default
(``settings.previews: on_request``) the archive stores only what the upstream serves, and ``GET
/v1/videos/{id}/content?variant=thumbnail|spritesheet`` makes the one variant asked for when
it is missing: the thumbnail decodes a single keyframe. ``at_archive`` makes both at archive
time, as before; either way a completed job missing a preview (archived under the other
setting) gets it on request.

- One making per job and variant at a time in a process: concurrent requests await the same
  task, and a requester that leaves does not cancel it (the next one finds it stored).
- Makings have slots of their own, apart from the archives' (``preview_slots``: half of
  ``archive_concurrency``, at least 1; waiters in arrival order), and run in the media
  pool's worker, at the workers' lower priority. A console page opening 50 jobs' previews
  at once therefore never delays an archive (they used to share the archive slots: 50
  makings queued ahead of every finished job), and there are at most that many makings in
  the worker or queued for it ahead of an archive's own media work (the gateway runs one
  media worker: more slots would make previews no faster, only queue more of them there).
- The video is read in place from the local store; from another store (S3) it is streamed to
  a temporary file first, one chunk in memory at a time.
- The image is stored, then recorded in the job's ``assets`` in one transaction that reads
  the row (locked on PostgreSQL) and writes only if the job is still completed and not
  deleted; a preview another replica recorded meanwhile is kept. The job cache gets the new
  row. If the job was deleted meanwhile, the image just stored is deleted again (the
  deletion's own clean-up may have run before it was stored), so nothing is left behind.
- A video the media worker cannot make the preview of (``MediaError``: FFmpeg cannot read
  it, or anything else the same video would raise again) is recorded too, in
  ``assets["unmade"]``, so later requests get the same 404 at once instead of decoding it
  again. A failure of the moment is not recorded and answers a 503 ``service_unavailable``
  with ``Retry-After``, so the client tries again: ``MediaUnavailable`` (no memory, a
  file-system error), the media worker dying (``WorkerLost``: its pool is replaced), and any
  error in this process (the temporary room, the store, the database). Only a worker that
  died ``WORKER_DEATHS`` times in a row making the same preview (a video that crashes
  FFmpeg would otherwise take down the worker, and every archive's media work in it, on
  every request) has that recorded as unmade.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from vidgate.db.tables import jobs
from vidgate.errors import GatewayError, ServiceUnavailable
from vidgate.jobs.store import Job, JobStore
from vidgate.media.errors import MediaError, MediaUnavailable, WorkerLost
from vidgate.media.pool import MediaPool
from vidgate.storage.base import BlobInfo, BlobStore
from vidgate.values import Variant

log = logging.getLogger("vidgate.jobs")

PREVIEW_EXTENSIONS = {"image/webp": "webp", "image/jpeg": "jpg", "image/png": "png"}
"""Preview image types an upstream may serve, and their file extensions."""
PREVIEWS: tuple[Variant, ...] = ("thumbnail", "spritesheet")
UNMADE = "unmade"
"""The ``assets`` entry naming the previews that cannot be made (variant: why)."""
WORKER_DEATHS = 3
"""Media workers lost in a row making one preview, after which it is recorded as unmade."""
RETRY_AFTER_S = 1.0
"""The ``Retry-After`` of the 503 for a failure of the moment (a lost worker restarts in
well under a second)."""


def preview_slots(archive_concurrency: int) -> int:
    """Previews made on request at once in a process (see the docstring)."""
    return max(1, archive_concurrency // 2)


def asset_prefix(job_id: str) -> str:
    return f"videos/{job_id}/"


def preview_key(job_id: str, variant: str, content_type: str) -> str:
    return f"{asset_prefix(job_id)}{variant}.{PREVIEW_EXTENSIONS[content_type]}"


def info_dict(info: BlobInfo) -> dict[str, Any]:
    return {
        "key": info.key,
        "size": info.size,
        "etag": info.etag,
        "content_type": info.content_type,
    }


def hash_small(path: Path) -> str:
    """The digest of a preview image (tens of KB: read and hashed on the loop in well
    under a millisecond, cheaper than a thread hop)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:32]


def fresh_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


class PreviewsOnRequest:
    """Makes a completed job's missing thumbnail or spritesheet when it is asked for."""

    def __init__(
        self,
        store: JobStore,
        storage: BlobStore,
        tmp_root: Path,
        media: MediaPool,
        slots: asyncio.Semaphore,
    ) -> None:
        self.store = store
        self.storage = storage
        self.tmp_root = tmp_root
        self.media = media
        self._slots = slots
        self._making: dict[tuple[str, Variant], asyncio.Task[dict[str, Any] | None]] = {}
        self._lost: dict[tuple[str, Variant], int] = {}  # workers lost in a row making it

    async def asset(self, job: Job, variant: Variant) -> dict[str, Any] | None:
        """The asset record of completed ``job``'s ``variant``, made now if it is missing;
        ``None`` if it cannot be made (an unreadable video, a job deleted meanwhile). Raises
        ``ServiceUnavailable`` (503) for a failure of the moment."""
        known = _known(job, variant)
        if known is not None:
            return known or None
        key = (job.id, variant)
        task = self._making.get(key)
        if task is None:
            task = asyncio.ensure_future(self._make(job.id, variant))
            self._making[key] = task
            task.add_done_callback(lambda done: self._done(key, done))
        made = await asyncio.shield(task)  # a requester leaving does not stop the making
        return None if made is None else dict(made)

    def _done(self, key: tuple[str, Variant], task: asyncio.Task[dict[str, Any] | None]) -> None:
        if self._making.get(key) is task:
            del self._making[key]
        if not task.cancelled():
            task.exception()  # retrieved (``_make`` logged it): no "never retrieved" warning

    async def _make(self, job_id: str, variant: Variant) -> dict[str, Any] | None:
        """``_making``'s work, with every failure of the moment turned into the 503."""
        try:
            return await self._make_now(job_id, variant)
        except GatewayError:
            raise
        except MediaUnavailable as exc:  # no memory, a file-system error, the worker lost
            log.warning("cannot make the %s of %s now: %s", variant, job_id, exc)
            cause: Exception = exc
        except Exception as exc:  # here: the temporary room, the store, the database
            log.warning("cannot make the %s of %s now", variant, job_id, exc_info=True)
            cause = exc
        raise ServiceUnavailable(
            f"The {variant} of video '{job_id}' cannot be made right now; try again.",
            retry_after_s=RETRY_AFTER_S,
        ) from cause

    async def _make_now(self, job_id: str, variant: Variant) -> dict[str, Any] | None:
        async with self._slots:
            job = await self.store.get(job_id)  # as it is now: made or deleted meanwhile?
            if job is None or job.deleted_at is not None or job.status != "completed":
                return None
            known = _known(job, variant)
            if known is not None:
                return known or None
            video = (job.assets or {}).get("video")
            if video is None:
                return None
            work = self.tmp_root / f"{job_id}.{variant}.{secrets.token_hex(4)}"
            await asyncio.to_thread(fresh_dir, work)
            try:
                return await self._make_in(work, job_id, variant, video)
            finally:
                await asyncio.to_thread(shutil.rmtree, work, True)

    async def _make_in(
        self, work: Path, job_id: str, variant: Variant, video: dict[str, Any]
    ) -> dict[str, Any] | None:
        source = self.storage.local_path(video["key"])
        if source is None:
            source = work / "video.mp4"
            try:
                await _copy(self.storage, video["key"], source)
            except FileNotFoundError:  # deleted from the store meanwhile (S3): a 404
                return None
        elif not source.exists():  # gone from the store: nothing to learn about the video
            return None
        out = work / variant
        wanted = (out, None) if variant == "thumbnail" else (None, out)
        failure: str | None = None
        try:
            made = await self.media.previews(source, *wanted)
        except WorkerLost:
            if not self._lost_again(job_id, variant):
                raise  # of the moment (killed, out of memory...): not recorded
            failure = f"the media worker died {WORKER_DEATHS} times making it"
        except MediaUnavailable:
            self._lost.pop((job_id, variant), None)
            if not await asyncio.to_thread(source.exists):  # deleted meanwhile: a 404
                return None
            raise  # of the moment: not recorded, the next request tries again
        except MediaError as exc:
            failure = str(exc)
        self._lost.pop((job_id, variant), None)
        if failure is not None:
            log.warning("cannot make the %s of %s: %s", variant, job_id, failure)
            await self._record(job_id, variant, None, failure)
            return None
        if variant not in made:
            await self._record(job_id, variant, None, "no picture")
            return None
        content_type = made[variant]
        key = preview_key(job_id, variant, content_type)
        info = await self.storage.put_file(key, out, content_type, hash_small(out))
        job = await self._record(job_id, variant, info_dict(info), None)
        if job is None:  # deleted meanwhile: leave nothing behind (as the archive does)
            await self.storage.delete_prefix(asset_prefix(job_id))
            return None
        recorded = (job.assets or {}).get(variant)
        return None if recorded is None else dict(recorded)

    def _lost_again(self, job_id: str, variant: Variant) -> bool:
        """Count a worker lost making this preview; whether that makes ``WORKER_DEATHS`` in
        a row (the count is in memory: a restart starts it over)."""
        lost = self._lost[job_id, variant] = self._lost.get((job_id, variant), 0) + 1
        return lost >= WORKER_DEATHS

    async def _record(
        self, job_id: str, variant: Variant, asset: dict[str, Any] | None, failure: str | None
    ) -> Job | None:
        """Record ``asset`` (or the ``failure``) as ``_recorded`` does, through the store (its
        job cache gets the new row)."""
        return await self.store.write_row(_recorded(job_id, variant, asset, failure))


def _known(job: Job, variant: Variant) -> dict[str, Any] | None:
    """The recorded asset; ``{}`` if it is recorded as unmade; ``None`` if neither."""
    assets = job.assets or {}
    if variant in assets:
        return dict(assets[variant])
    if variant in (assets.get(UNMADE) or {}):
        return {}
    return None


def _recorded(
    job_id: str, variant: Variant, asset: dict[str, Any] | None, failure: str | None
) -> Callable[[Connection], Job | None]:
    """A write: add ``asset`` (or the ``failure``) to the job's assets if the job is still
    completed and not deleted; the new row (``None`` if not). The row is read in the
    transaction (``FOR UPDATE`` where the database has it), so two previews recorded at
    once, by two replicas, both stay."""
    query = select(jobs).where(jobs.c.id == job_id).with_for_update()

    def run(conn: Connection) -> Job | None:
        row = conn.execute(query).mappings().first()
        if row is None:
            return None
        job = Job.from_row(row)
        if job.deleted_at is not None or job.status != "completed":
            return None
        assets = dict(job.assets or {})
        if variant in assets:  # recorded meanwhile (another replica): that one stays
            return job
        if asset is not None:
            assets[variant] = asset
        else:
            assets[UNMADE] = {**(assets.get(UNMADE) or {}), variant: failure}
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(assets=assets))
        return dataclasses.replace(job, assets=assets)

    return run


async def _copy(storage: BlobStore, key: str, path: Path) -> None:
    """Stream blob ``key`` to ``path``: one chunk in memory at a time, written on the loop
    (a chunk of at most 256 KiB goes into the page cache in well under a millisecond)."""
    with path.open("wb") as handle:
        async for chunk in storage.read(key):
            handle.write(chunk)
