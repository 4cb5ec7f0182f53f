"""Where a new job may run (``jobs/placements.py``), from real deployments: the requested
group's deployments that can serve the request in strategy order, then the fallback groups
that can; follow-ups pinned to the deployment that made their source. No gateway, no
upstream; source jobs are rows in a real SQLite database."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.jobs.rows import job_row
from tests.media.test_probe import write_video
from tests.routing.tables import deployment, live
from vidgate.accounting.keys import Principal
from vidgate.db.engine import Database
from vidgate.errors import InvalidRequest, NotFound, PermissionDenied
from vidgate.jobs.placements import Placements
from vidgate.jobs.store import Job, JobStore
from vidgate.media.pool import MediaPool
from vidgate.request import Upload, VideoRequest
from vidgate.routing.router import Placement, Router
from vidgate.settings import RouterSettings
from vidgate.storage.local import LocalBlobStore
from vidgate.values import Asset, Deployment, SourceVideo

FOLLOW_UPS = ("create", "remix", "edit", "extend")
EIGHT = deployment("eight", "a", usd_per_second=0.3)  # a: 4 or 8 s, cheapest first
FOUR_ONLY = deployment("four-only", "a", seconds=(4,), usd_per_second=0.1)
DEAR = deployment("dear", "a", usd_per_second=0.5)
SHORT = deployment("short", "b", seconds=(4,))  # fallbacks of a: b, c, d
LONG = deployment("long", "c", seconds=(8, 12), operations=FOLLOW_UPS)
FOLLOW = deployment("follow", "d", operations=FOLLOW_UPS)
REMIX_1 = deployment("remix-1", "r", operations=FOLLOW_UPS)  # r: two deployments
REMIX_2 = deployment("remix-2", "r", operations=FOLLOW_UPS)
ANYONE = Principal("key")


@pytest.fixture
def storage(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
async def media() -> AsyncIterator[MediaPool]:
    pool = MediaPool()
    yield pool
    await pool.aclose()


def placements(storage: LocalBlobStore, media: MediaPool, *deployments: Deployment) -> Placements:
    settings = RouterSettings(strategy="cost", fallbacks=[{"a": ["b", "c", "d"]}])
    router = Router(live(*deployments), settings, {}, random.Random(3))
    return Placements(router, storage, media)


ALL = (EIGHT, FOUR_ONLY, DEAR, SHORT, LONG, FOLLOW, REMIX_1, REMIX_2)


async def ids(groups: AsyncIterator[list[Placement]]) -> list[list[str]]:
    return [[p.deployment.id for p in group] async for group in groups]


async def only(groups: AsyncIterator[list[Placement]]) -> Placement:
    ((placement,),) = [group async for group in groups]
    return placement


def create(seconds: int, model: str = "a") -> VideoRequest:
    return VideoRequest(operation="create", prompt="a lighthouse", model=model, seconds=seconds)


async def test_a_group_keeps_the_deployments_that_can_serve_it_in_strategy_order(
    storage: LocalBlobStore, media: MediaPool
) -> None:
    placed = placements(storage, media, *ALL)
    pinned, groups = await placed.groups(ANYONE, create(4), None)
    assert not pinned
    assert (await ids(groups))[0] == ["four-only", "eight", "dear"]  # by price
    _, groups = await placed.groups(ANYONE, create(8), None)
    assert (await ids(groups))[0] == ["eight", "dear"]


async def test_fallback_groups_that_cannot_serve_the_parameters_are_skipped(
    storage: LocalBlobStore, media: MediaPool
) -> None:
    placed = placements(storage, media, *ALL)
    _, groups = await placed.groups(ANYONE, create(8), None)
    assert await ids(groups) == [["eight", "dear"], ["long"], ["follow"]]  # b makes 4 s only
    _, groups = await placed.groups(ANYONE, create(4), None)
    assert await ids(groups) == [["four-only", "eight", "dear"], ["short"], ["follow"]]


async def test_fallbacks_the_key_may_not_use_are_skipped(
    storage: LocalBlobStore, media: MediaPool
) -> None:
    placed = placements(storage, media, *ALL)
    key = Principal("key", models=frozenset({"a", "d"}))
    _, groups = await placed.groups(key, create(8), None)
    assert await ids(groups) == [["eight", "dear"], ["follow"]]


async def test_what_nothing_can_serve_or_nobody_may_use_is_refused_at_once(
    storage: LocalBlobStore, media: MediaPool
) -> None:
    placed = placements(storage, media, *ALL)
    with pytest.raises(InvalidRequest) as refused:
        await placed.groups(ANYONE, create(20), None)  # no group makes 20 s
    assert refused.value.param == "seconds" and "a" in refused.value.message
    with pytest.raises(NotFound) as missing:
        await placed.groups(ANYONE, create(4, model="z"), None)
    assert missing.value.code == "model_not_found"
    with pytest.raises(PermissionDenied):
        await placed.groups(Principal("key", models=frozenset({"b"})), create(4), None)


async def source_job(db: Database, deployment_id: str, model: str = "r") -> Job:
    """A completed 8 s video made on ``deployment_id``."""
    row = job_row(
        "video_src",
        model=model,
        deployment_id=deployment_id,
        upstream_id="task-1",
        status="completed",
        phase="done",
        seconds=8,
        assets={"video": {"key": "videos/video_src/video.mp4"}},
        upstream={"results": {"video": "gs://bucket/task-1.mp4"}},
    )
    return await JobStore(db).insert(row)


async def test_a_follow_up_is_pinned_to_the_deployment_that_made_its_source(
    storage: LocalBlobStore, media: MediaPool, db: Database
) -> None:
    placed = placements(storage, media, *ALL)
    source = await source_job(db, "remix-2")
    remix = VideoRequest(operation="remix", prompt="in snow", source_video_id=source.id)
    pinned, groups = await placed.groups(ANYONE, remix, source)
    placement = await only(groups)
    assert pinned and placement.deployment.id == "remix-2"  # not remix-1, same group
    asset = Asset("blob", "videos/video_src/video.mp4", "video/mp4")
    assert placement.resolved.source == SourceVideo(
        asset, source.id, "task-1", 8, "gs://bucket/task-1.mp4"
    )
    assert (placement.seconds, placement.resolved.seconds) == (8, 8)  # the source's length

    extend = VideoRequest(operation="extend", prompt="", seconds=4, source_video_id=source.id)
    _, groups = await placed.groups(ANYONE, extend, source)
    placement = await only(groups)
    assert placement.deployment.id == "remix-2"
    assert (placement.seconds, placement.resolved.seconds) == (12, 4)  # source + extension


async def test_a_follow_up_on_another_model_goes_there_without_the_upstream_id(
    storage: LocalBlobStore, media: MediaPool, db: Database
) -> None:
    placed = placements(storage, media, *ALL)
    source = await source_job(db, "remix-2")
    remix = VideoRequest(operation="remix", prompt="x", model="d", source_video_id=source.id)
    pinned, groups = await placed.groups(ANYONE, remix, source)
    placement = await only(groups)
    assert not pinned and placement.deployment.id == "follow"
    assert placement.resolved.source is not None
    assert (placement.resolved.source.upstream_id, placement.resolved.source.location) == (
        None,
        None,
    )


async def test_a_follow_up_whose_deployment_was_removed_is_refused(
    storage: LocalBlobStore, media: MediaPool, db: Database
) -> None:
    placed = placements(storage, media, *ALL)
    source = await source_job(db, "retired")
    remix = VideoRequest(operation="remix", prompt="x", source_video_id=source.id)
    with pytest.raises(InvalidRequest) as refused:
        await placed.groups(ANYONE, remix, source)
    assert refused.value.code == "deployment_removed"


async def test_an_uploaded_video_is_probed_for_its_size_and_length(
    storage: LocalBlobStore, media: MediaPool, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    write_video(clip, size=(320, 176), fps=12, frames=36, audio=False)  # 3 s
    key, size = "inputs/up-1/clip.mp4", clip.stat().st_size
    await storage.put_file(key, clip, "video/mp4", "etag")  # moves the file into the store
    upload = Upload(key, "clip.mp4", "video/mp4", size, "")
    edit = VideoRequest(operation="edit", prompt="sepia", model="r", source_upload=upload)
    placed = placements(storage, media, *ALL)
    pinned, groups = await placed.groups(ANYONE, edit, None)
    (group,) = [group async for group in groups]
    assert not pinned and sorted(p.deployment.id for p in group) == ["remix-1", "remix-2"]
    for placement in group:
        assert placement.resolved.size == "320x176"
        assert (placement.seconds, placement.resolved.seconds) == (3, 3)
        assert placement.resolved.source == SourceVideo(
            Asset("blob", key, "video/mp4", "clip.mp4"), seconds=3
        )
