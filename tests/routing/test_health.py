"""The circuit breaker: opening on failures in the window, Retry-After, half-open probes."""

from __future__ import annotations

from vidgate.errors import RateLimited, UpstreamError
from vidgate.routing.health import PROBE_TIMEOUT_S, HealthBoard
from vidgate.settings import CooldownSettings

POLICY = CooldownSettings(failures=3, window_s=60, cooldown_s=30)
BOOM = UpstreamError("boom")


def test_failures_within_the_window_open_the_breaker() -> None:
    board = HealthBoard(POLICY)
    board.failed("d", BOOM, now=100)
    board.failed("d", BOOM, now=110)
    assert board.blocked_for("d", now=111) == 0
    board.failed("d", BOOM, now=120)
    assert board.blocked_for("d", now=121) == 29
    assert board.snapshot("d", now=121)["state"] == "cooling_down"
    assert board.snapshot("d", now=121)["healthy"] is False


def test_failures_spread_wider_than_the_window_do_not() -> None:
    board = HealthBoard(POLICY)
    for t in (0, 50, 100, 150):
        board.failed("d", BOOM, now=t)
    assert board.blocked_for("d", now=151) == 0


def test_half_open_lets_one_probe_through_and_its_success_closes() -> None:
    board = HealthBoard(POLICY)
    for t in (0, 1, 2):
        board.failed("d", BOOM, now=t)
    assert not board.claim("d", now=20)
    assert board.claim("d", now=33)  # cooldown over: the probe
    assert not board.claim("d", now=33.5)  # one probe at a time
    assert board.snapshot("d", now=33.5)["state"] == "probing"
    board.succeeded("d", latency_s=0.2)
    assert board.claim("d", now=34)
    assert board.snapshot("d", now=34)["state"] == "ok"


def test_a_failed_probe_opens_it_again_at_once() -> None:
    board = HealthBoard(POLICY)
    for t in (0, 1, 2):
        board.failed("d", BOOM, now=t)
    assert board.claim("d", now=40)
    board.failed("d", BOOM, now=40)  # one failure is enough while probing
    assert board.blocked_for("d", now=41) == 29


def test_retry_after_cools_for_exactly_that_long() -> None:
    board = HealthBoard(POLICY)
    board.failed("d", RateLimited("slow down", retry_after_s=7), now=10)
    assert board.blocked_for("d", now=12) == 5
    assert board.blocked_for("d", now=17.5) == 0


def test_disabled_or_only_route_never_cools() -> None:
    board = HealthBoard(CooldownSettings(enabled=False))
    for t in range(5):
        board.failed("d", RateLimited("x", retry_after_s=60), now=t)
    assert board.blocked_for("d", now=5) == 0
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
    for t in (0, 1, 2):
        board.failed("d", BOOM, now=t)
    assert board.claim("d", now=40)  # the probe's request then vanishes
    assert not board.claim("d", now=100)
    assert board.claim("d", now=40 + PROBE_TIMEOUT_S + 1)
