"""``Batched``: calls made while a batch runs go out together; a batch that fails is run
item by item, so only the item that fails sees the failure."""

from __future__ import annotations

import asyncio

import pytest

from vidgate.jobs.poller import Batched


async def test_only_the_item_that_fails_sees_the_failure() -> None:
    batches: list[list[str]] = []
    first_running = asyncio.Event()
    release = asyncio.Event()

    async def run(items: list[str]) -> list[str]:
        batches.append(items)
        if len(batches) == 1:  # hold the first batch so the next calls queue behind it
            first_running.set()
            await release.wait()
        if "bad" in items:
            raise ValueError("the database refused a row")
        return [item.upper() for item in items]

    batched: Batched[str, str] = Batched(run)
    first = asyncio.ensure_future(batched("a"))
    await first_running.wait()
    queued = [asyncio.ensure_future(batched(item)) for item in ("b", "bad", "c")]
    release.set()
    assert await first == "A"
    results = await asyncio.gather(*queued, return_exceptions=True)
    assert results[0] == "B" and results[2] == "C"
    assert isinstance(results[1], ValueError)
    assert batches[1] == ["b", "bad", "c"]  # they went out together, then one by one
    assert batches[2:] == [["b"], ["bad"], ["c"]]
    await batched.aclose()


async def test_a_lone_failing_item_is_not_run_twice() -> None:
    calls: list[list[str]] = []

    async def run(items: list[str]) -> list[str]:
        calls.append(items)
        raise ValueError("refused")

    batched: Batched[str, str] = Batched(run)
    with pytest.raises(ValueError):
        await batched("only")
    assert calls == [["only"]]
    await batched.aclose()
