"""Shared counters and events on a real Redis, with two links standing in for two replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.scaleout.services import Redis, free_port, redis_server
from vidgate.cluster.redis import RedisLink
from vidgate.cluster.share import share_breakers
from vidgate.errors import RateLimited, ServiceUnavailable, UpstreamError
from vidgate.routing.health import HealthBoard
from vidgate.settings import CooldownSettings

pytestmark = pytest.mark.scaleout


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    with redis_server() as server:
        yield server


@pytest.fixture
async def links(redis: Redis) -> AsyncIterator[tuple[RedisLink, RedisLink]]:
    first, second = RedisLink(redis.url), RedisLink(redis.url)
    await first.start()
    await second.start()
    await first.redis.flushdb()
    yield first, second
    await first.aclose()
    await second.aclose()


async def test_two_replicas_never_take_more_slots_than_the_limit(
    links: tuple[RedisLink, RedisLink],
) -> None:
    counters = [link.counters_for("key", 3600) for link in links]
    takes = [counters[i % 2].take("k1", f"job-{i}", None, 5) for i in range(40)]
    waits = await asyncio.gather(*takes)
    assert sum(1 for w in waits if w == 0) == 5
    assert all(w == 1.0 for w in waits if w > 0)  # busy: retry in BUSY_RETRY_S
    assert await counters[1].take("k1", "job-0", None, 5) == 0  # a job's own slot: idempotent
    taken = [f"job-{i}" for i, w in enumerate(waits) if w == 0]
    counters[0].release("k1", taken[0])  # ended on the other replica than it started on
    await counters[0].flush()
    assert await counters[1].take("k1", "late", None, 5) == 0
    assert await counters[0].take("k1", "later", None, 5) > 0
    await counters[0].refresh()
    assert counters[0].running("k1") == 5


async def test_rpm_window_and_its_wait(links: tuple[RedisLink, RedisLink]) -> None:
    first, second = (link.counters_for("deployment", 3600) for link in links)
    assert [await first.take("d1", f"a{i}", 3, None) for i in range(2)] == [0, 0]
    assert await second.take("d1", "b0", 3, None) == 0
    wait = await second.take("d1", "b1", 3, None)
    assert 59 < wait <= 60  # the oldest of the three frees a slot 60 s after it was taken
    await first.refresh()
    assert first.rpm_used("d1") == 3


async def test_a_slot_lost_with_a_crashed_replica_frees_itself(
    links: tuple[RedisLink, RedisLink],
) -> None:
    counters = links[0].counters_for("key", max_job_s=0.2)
    assert await counters.take("k2", "orphan", None, 1) == 0
    assert await counters.take("k2", "next", None, 1) > 0
    await asyncio.sleep(0.25)  # longer than any job may run: the slot's job cannot be alive
    assert await counters.take("k2", "next", None, 1) == 0


async def test_a_breaker_opened_on_one_replica_holds_on_the_other(
    links: tuple[RedisLink, RedisLink],
) -> None:
    policy = CooldownSettings(min_requests=2, window_s=60, cooldown_s=30)
    boards = [HealthBoard(policy), HealthBoard(policy)]
    for link, board in zip(links, boards, strict=True):
        share_breakers(link, board)
    for _ in range(2):
        boards[0].failed("dep-a", UpstreamError("boom"))
    assert boards[0].blocked_for("dep-a") > 29

    async def blocked_on_second() -> None:
        while boards[1].blocked_for("dep-a") == 0:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(blocked_on_second(), 60)
    assert boards[1].blocked_for("dep-a") > 29
    boards[1].apply("dep-a", 1.0)  # an old end never shortens a cooldown
    assert boards[1].blocked_for("dep-a") > 29
    boards[0].succeeded("dep-a", 0.1)  # the probe on the first replica closed it

    async def open_on_second() -> None:
        while boards[1].blocked_for("dep-a") > 0:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(open_on_second(), 60)
    # a Retry-After holds on the other replica even where an open breaker may be forced
    boards[0].failed("dep-a", RateLimited("slow down", retry_after_s=20))

    async def told_on_second() -> None:
        while boards[1].blocked_for("dep-a", force=True) == 0:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(told_on_second(), 60)
    assert 18 < boards[1].blocked_for("dep-a", force=True) <= 20


async def test_an_unreachable_redis_is_a_503_not_an_unchecked_limit() -> None:
    link = RedisLink(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    counters = link.counters_for("key", 3600)
    with pytest.raises(ServiceUnavailable, match="cannot check rate limits"):
        await counters.take("k", "job", 10, None)
    await link.redis.aclose()
