"""Archiving is bounded: at most ``archive_concurrency`` archives run at once in a process,
the rest wait and start in the order they came; media workers run at a lower priority.

The upstream here is a stand-in client whose video downloads wait on a gate the test opens
one by one (the archive's own parts — header probe, storage, database — are the real ones).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.jobs.rows import job_row
from vidgate.db.engine import Database
from vidgate.jobs.archive import Archiver
from vidgate.jobs.store import JobStore
from vidgate.media.pool import MediaPool
from vidgate.media.workers import NICE, start_pool, stop_pool
from vidgate.providers.simkit import jpeg_bytes, mp4_bytes
from vidgate.storage.local import LocalBlobStore

PREVIEWS = frozenset({"thumbnail", "spritesheet"})


class GatedUpstream:
    """Serves a real MP4 (and JPEG previews); each video download waits for its gate."""

    def __init__(self, video: bytes) -> None:
        self.video, self.image = video, jpeg_bytes()
        self.started: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.changed = asyncio.Condition()

    @asynccontextmanager
    async def download(
        self, upstream_id: str, variant: str, location: str | None = None
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        if variant == "video":
            async with self.changed:
                self.started.append(upstream_id)
                self.changed.notify_all()
            await self.gates.setdefault(upstream_id, asyncio.Event()).wait()
        data = self.video if variant == "video" else self.image
        yield _chunks(data)

    async def archived(self, upstream_id: str) -> None:
        return None

    async def wait_started(self, count: int) -> None:
        async with self.changed:
            await asyncio.wait_for(
                self.changed.wait_for(lambda: len(self.started) >= count), timeout=60
            )


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for at in range(0, len(data), 64 * 1024):
        yield data[at : at + 64 * 1024]


async def test_archives_beyond_the_bound_wait_and_start_in_order(
    db: Database, tmp_path: Path
) -> None:
    store = JobStore(db, sole_writer=True)
    media = MediaPool()
    archiver = Archiver(store, LocalBlobStore(tmp_path / "blobs"), tmp_path / "tmp", media, 2)
    upstream = GatedUpstream(mp4_bytes(160, 90, 1))
    jobs = [
        await store.insert(job_row(f"video_{i}", phase="archiving", upstream_id=f"up_{i}"))
        for i in range(5)
    ]
    try:
        tasks = []
        for job in jobs:  # queued in this order
            tasks.append(asyncio.create_task(archiver.archive(job, upstream, PREVIEWS)))
            await asyncio.sleep(0)
        await upstream.wait_started(2)
        for _ in range(50):  # the loop runs on: nobody else may start while both run
            await asyncio.sleep(0)
        assert sorted(upstream.started) == ["up_0", "up_1"]  # the two running, in any order

        for index in range(5):
            upstream.gates.setdefault(f"up_{index}", asyncio.Event()).set()
            done = await asyncio.wait_for(tasks[index], timeout=120)
            assert done is not None and done.status == "completed"
            await upstream.wait_started(min(5, index + 3))  # one finished, the next began
            assert len(upstream.started) == min(5, index + 3)
        assert upstream.started[2:] == ["up_2", "up_3", "up_4"]  # the waiters, in order
        assert done.usage["width"] == 160 and done.assets["video"]["c2pa"] is False
    finally:
        await media.aclose()


def test_media_workers_run_at_a_lower_priority() -> None:
    pool = start_pool(1)
    try:
        assert pool.submit(os.nice, 0).result(timeout=120) == min(19, os.nice(0) + NICE)
    finally:
        stop_pool(pool)
