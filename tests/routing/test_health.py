"""The circuit breaker: opening on an error rate in the window, Retry-After, half-open probes,
and forced attempts when every route is cooling."""

from __future__ import annotations

import pytest

from vidgate.errors import RateLimited, UpstreamError
from vidgate.routing.health import PROBE_TIMEOUT_S, HealthBoard
from vidgate.settings import CooldownSettings

POLICY = CooldownSettings(min_requests=4, error_rate=0.5, window_s=60, cooldown_s=30)
BOOM = UpstreamError("boom")


def opened(board: HealthBoard, at: float = 0) -> None:
    """Four failures in a row: the rate is 1.0 over the minimum of four creates."""
    for t in range(4):
        board.failed("d", BOOM, now=at + t)


def test_an_error_rate_over_enough_creates_opens_the_breaker() -> None:
    board = HealthBoard(POLICY)
    board.failed("d", BOOM, now=100)
    board.failed("d", BOOM, now=101)
    board.failed("d", BOOM, now=102)
    assert board.blocked_for("d", now=103) == 0  # 3 of 3 failed, but 3 are too few to judge
    board.succeeded("d", 0.1, now=103)
    assert board.blocked_for("d", now=104) == 0  # 3 of 4: 75%, judged on the next failure
    board.failed("d", BOOM, now=110)
    assert board.blocked_for("d", now=111) == 29  # 4 of 5
    assert board.snapshot("d", now=111)["state"] == "cooling_down"
    assert board.snapshot("d", now=111)["healthy"] is False
    assert board.snapshot("d", now=111)["recent_requests"] == 5


def test_random_failures_below_the_rate_never_open_it() -> None:
    """30% failures in runs of three (which "three in a row" would have opened on)."""
    board = HealthBoard(POLICY)
    for t in range(200):
        if t % 10 < 3:
            board.failed("d", BOOM, now=t / 10)
        else:
            board.succeeded("d", 0.1, now=t / 10)
        assert board.blocked_for("d", now=t / 10) == 0, t


def test_failures_spread_wider_than_the_window_do_not() -> None:
    board = HealthBoard(POLICY)
    for t in (0, 50, 100, 150, 200, 250):
        board.failed("d", BOOM, now=t)
    assert board.blocked_for("d", now=251) == 0
    assert board.snapshot("d", now=251)["recent_failures"] == 2


def test_older_configs_failures_is_the_minimum() -> None:
    assert CooldownSettings(failures=2).min_attempts == 2
    assert CooldownSettings(failures=2, min_requests=5).min_attempts == 5
    assert CooldownSettings().min_attempts == 20
    board = HealthBoard(CooldownSettings(failures=2))
    board.failed("d", BOOM, now=0)
    board.failed("d", BOOM, now=1)
    assert board.blocked_for("d", now=2) > 0


def test_half_open_lets_one_probe_through_and_its_success_closes() -> None:
    board = HealthBoard(POLICY)
    opened(board)
    assert not board.claim("d", now=20)
    assert board.claim("d", now=34)  # cooldown over: the probe
    assert not board.claim("d", now=34.5)  # one probe at a time
    assert board.snapshot("d", now=34.5)["state"] == "probing"
    board.succeeded("d", latency_s=0.2, now=35)
    assert board.claim("d", now=35)
    assert board.snapshot("d", now=35)["state"] == "ok"
    board.failed("d", BOOM, now=36)  # the old failures were forgotten when it closed
    assert board.blocked_for("d", now=37) == 0


def test_a_failed_probe_opens_it_again_at_once() -> None:
    board = HealthBoard(POLICY)
    opened(board)
    assert board.claim("d", now=40)
    board.failed("d", BOOM, now=40)  # one failure is enough while probing
    assert board.blocked_for("d", now=41) == 29


def test_force_looks_past_an_open_breaker_and_its_success_closes_it() -> None:
    board = HealthBoard(POLICY)
    opened(board)
    assert board.blocked_for("d", now=10) > 0
    assert board.blocked_for("d", now=10, force=True) == 0
    assert board.claim("d", now=10, force=True)
    assert board.claim("d", now=10, force=True)  # not a probe: no one-at-a-time
    board.failed("d", BOOM, now=12)  # a forced failure pushes the end back
    assert board.blocked_for("d", now=12) == 30
    board.succeeded("d", 0.1, now=13)
    assert board.blocked_for("d", now=13) == 0


def test_retry_after_cools_for_exactly_that_long_even_when_forced() -> None:
    board = HealthBoard(POLICY)
    board.failed("d", RateLimited("slow down", retry_after_s=7), now=10)
    assert board.blocked_for("d", now=12) == 5
    assert board.blocked_for("d", now=12, force=True) == 5
    assert not board.claim("d", now=12, force=True)
    assert board.blocked_for("d", now=17.5) == 0


def test_disabled_or_only_route_never_cools() -> None:
    board = HealthBoard(CooldownSettings(enabled=False))
    for t in range(20):
        board.failed("d", RateLimited("x", retry_after_s=60), now=t)
    assert board.blocked_for("d", now=20) == 0
    board = HealthBoard(POLICY)
    for t in range(5):
        board.failed("d", BOOM, now=t, may_cool=False)
    assert board.blocked_for("d", now=5) == 0
    assert board.snapshot("d", now=5)["recent_failures"] == 5


def test_latency_is_a_moving_average_and_errors_are_kept() -> None:
    board = HealthBoard(POLICY)
    board.succeeded("d", 1.0)
    board.succeeded("d", 2.0)
    assert board.latency("d") == 1.2
    board.failed("d", BOOM, now=5)
    assert board.snapshot("d", now=5)["last_error"] == {
        "code": "upstream_error",
        "message": "boom",
        "at": 5,
    }


def test_a_probe_that_never_reports_stops_blocking() -> None:
    board = HealthBoard(POLICY)
    opened(board)
    assert board.claim("d", now=40)  # the probe's request then vanishes
    assert not board.claim("d", now=100)
    assert board.claim("d", now=40 + PROBE_TIMEOUT_S + 1)


@pytest.mark.parametrize("creates", [10, 10_000])
def test_the_window_keeps_one_bucket_a_second(creates: int) -> None:
    board = HealthBoard(POLICY)
    for i in range(creates):
        board.succeeded("d", 0.1, now=i / creates)  # all within one second
    assert board.snapshot("d", now=0.99)["recent_requests"] == creates
    assert len(board._state["d"].window.buckets) == 1
