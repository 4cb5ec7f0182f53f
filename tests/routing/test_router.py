"""``routing/router.py`` on its own: the order of a group's placements under each strategy,
and the admission of one attempt (breaker, Retry-After, rpm, concurrency). Real deployments,
no upstream: the router decides before any call is made."""

from __future__ import annotations

import random

from tests.routing.tables import SIZE, deployment, live
from vidgate.errors import InvalidRequest, RateLimited, UpstreamAuthError, UpstreamError
from vidgate.routing.limits import BUSY_RETRY_S
from vidgate.routing.router import Placement, Router
from vidgate.settings import CooldownSettings, RouterSettings, Strategy
from vidgate.values import Deployment, ResolvedRequest

BREAKER = CooldownSettings(min_requests=2, error_rate=0.5, cooldown_s=30)


def router(*deployments: Deployment, strategy: Strategy = "weighted", **settings: object) -> Router:
    config = RouterSettings.model_validate({"strategy": strategy, "cooldown": BREAKER, **settings})
    return Router(live(*deployments), config, {}, random.Random(7))


def placement(target: Deployment, seconds: int = 4) -> Placement:
    width, height = (int(v) for v in SIZE.split("x"))
    resolved = ResolvedRequest("create", "a cat", target.model, seconds, width, height, 24)
    return Placement(target, resolved, seconds)


def ordered(chosen: Router, *deployments: Deployment) -> list[str]:
    return [p.deployment.id for p in chosen.order([placement(d) for d in deployments])]


def test_cost_orders_by_list_price_unpriced_last() -> None:
    dear = deployment("dear", "m", usd_per_second=0.5)
    free = deployment("unpriced", "m")
    cheap = deployment("cheap", "m", usd_per_second=0.1)
    chosen = router(dear, free, cheap, strategy="cost")
    assert ordered(chosen, dear, free, cheap) == ["cheap", "dear", "unpriced"]
    assert chosen.list_price(placement(cheap, seconds=8)) == 0.8


async def test_least_busy_puts_the_deployment_running_more_jobs_last() -> None:
    a, b = deployment("a", "m"), deployment("b", "m")
    chosen = router(a, b, strategy="least-busy")
    assert await chosen.take(a, "job-1") == 0
    assert await chosen.take(a, "job-2") == 0
    assert await chosen.take(b, "job-3") == 0
    assert all(ordered(chosen, a, b) == ["b", "a"] for _ in range(20))
    chosen.job_ended("a", "job-1")
    chosen.failed(a, "job-2", UpstreamError("boom"))  # a failed attempt frees its slot too
    assert all(ordered(chosen, a, b) == ["a", "b"] for _ in range(20))


def test_latency_tries_unmeasured_deployments_then_the_fastest() -> None:
    slow, fast, new = deployment("slow", "m"), deployment("fast", "m"), deployment("new", "m")
    chosen = router(slow, fast, new, strategy="latency")
    chosen.succeeded(slow, 2.0)
    chosen.succeeded(fast, 0.2)
    assert ordered(chosen, slow, fast, new) == ["new", "fast", "slow"]


async def test_usage_prefers_the_most_headroom() -> None:
    tight, roomy = deployment("tight", "m", rpm=10), deployment("roomy", "m", rpm=10)
    chosen = router(tight, roomy, strategy="usage")
    for job in range(8):
        assert await chosen.take(tight, f"job-{job}") == 0
    assert await chosen.take(roomy, "job-8") == 0
    assert ordered(chosen, tight, roomy) == ["roomy", "tight"]


def test_weighted_leaves_a_weight_zero_spare_last() -> None:
    main, spare = deployment("main", "m"), deployment("spare", "m", weight=0.0)
    chosen = router(main, spare)
    assert all(ordered(chosen, spare, main) == ["main", "spare"] for _ in range(50))


async def test_a_deployment_full_of_jobs_is_refused_until_one_ends() -> None:
    one = deployment("one", "m", max_concurrent_jobs=1)
    chosen = router(one, deployment("other", "m"))
    assert await chosen.take(one, "job-1") == 0
    assert await chosen.take(one, "job-2") == BUSY_RETRY_S
    assert chosen.unavailable_for(one, pinned=True) == BUSY_RETRY_S  # pinned jobs wait too
    chosen.job_ended("one", "job-1")
    assert await chosen.take(one, "job-2") == 0
    chosen.abandoned(one, "job-2")  # cancelled mid-attempt: its slot is free again
    assert await chosen.take(one, "job-3") == 0


async def test_rpm_refuses_until_the_window_moves_on() -> None:
    limited = deployment("limited", "m", rpm=2)
    chosen = router(limited, deployment("other", "m"))
    assert await chosen.take(limited, "job-1") == 0
    assert await chosen.take(limited, "job-2") == 0
    wait = await chosen.take(limited, "job-3")
    assert 50 < wait <= 60  # the first create leaves the minute's window
    chosen.job_ended("limited", "job-1")  # ending a job frees no rpm
    assert chosen.unavailable_for(limited) > 50


async def test_an_open_breaker_refuses_new_jobs_but_not_pinned_or_forced_ones() -> None:
    a, b = deployment("a", "m"), deployment("b", "m")
    chosen = router(a, b)
    for job in ("job-1", "job-2"):
        assert await chosen.take(a, job) == 0
        chosen.failed(a, job, UpstreamError("boom"))
    assert 25 < chosen.unavailable_for(a) <= 30
    assert await chosen.take(a, "job-3") > 25
    assert chosen.unavailable_for(a, pinned=True) == 0  # a follow-up can go nowhere else
    assert chosen.unavailable_for(a, force=True) == 0  # every route cooling: try it anyway
    assert await chosen.take(a, "job-4", force=True) == 0
    chosen.succeeded(a, 0.5)  # and its success closes the breaker
    assert chosen.unavailable_for(a) == 0
    assert chosen.unavailable_for(b) == 0


async def test_retry_after_refuses_even_forced_attempts() -> None:
    a, b = deployment("a", "m"), deployment("b", "m")
    chosen = router(a, b)
    assert await chosen.take(a, "job-1") == 0
    chosen.failed(a, "job-1", RateLimited("slow down", retry_after_s=20))
    assert 15 < chosen.unavailable_for(a, force=True) <= 20
    assert await chosen.take(a, "job-2", force=True) > 15


async def test_only_failures_the_deployment_is_to_blame_for_cool_it() -> None:
    a, b, c = deployment("a", "m"), deployment("b", "m"), deployment("c", "m")
    chosen = router(a, b, c)
    for job in ("job-1", "job-2", "job-3"):
        await chosen.take(a, job)
        chosen.failed(a, job, InvalidRequest("the client's mistake"))  # a 400 from upstream
    assert chosen.unavailable_for(a) == 0
    for job in ("job-4", "job-5"):
        await chosen.take(b, job)
        chosen.failed(b, job, UpstreamAuthError("bad key"))  # the operator's mistake
    assert chosen.unavailable_for(b) > 0
    assert chosen.unavailable_for(c) == 0


async def test_the_only_route_of_a_group_is_never_cooled() -> None:
    solo, other = deployment("solo", "solo"), deployment("other", "other")
    alone = router(solo, other)
    with_fallback = router(solo, other, fallbacks=[{"solo": ["other"]}])
    assert with_fallback.groups("solo") == ["solo", "other"]
    assert alone.groups("solo") == ["solo"]
    for job in ("job-1", "job-2", "job-3"):
        assert await alone.take(solo, job) == 0  # every time: nowhere else to go
        alone.failed(solo, job, UpstreamError("boom"))
    assert alone.unavailable_for(solo) == 0
    for job in ("job-1", "job-2"):
        assert await with_fallback.take(solo, job) == 0
        with_fallback.failed(solo, job, UpstreamError("boom"))
    assert with_fallback.unavailable_for(solo) > 0  # its fallback takes the jobs meanwhile
