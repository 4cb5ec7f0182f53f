"""Per-deployment rpm (sliding window) and jobs in flight."""

from __future__ import annotations

from vidgate.routing.limits import BUSY_RETRY_S, LimitCounters


def test_rpm_is_a_sliding_window_and_says_when_a_slot_frees() -> None:
    limits = LimitCounters()
    assert limits.acquire("d", "j1", rpm=2, max_concurrent=None, now=100) == 0
    assert limits.acquire("d", "j2", rpm=2, max_concurrent=None, now=130) == 0
    assert limits.acquire("d", "j3", rpm=2, max_concurrent=None, now=140) == 20
    assert limits.rpm_used("d", now=140) == 2
    assert limits.acquire("d", "j3", rpm=2, max_concurrent=None, now=160) == 0
    assert limits.rpm_used("d", now=160) == 2


def test_concurrency_counts_jobs_until_released() -> None:
    limits = LimitCounters()
    assert limits.acquire("d", "j1", rpm=None, max_concurrent=2, now=0) == 0
    assert limits.acquire("d", "j2", rpm=None, max_concurrent=2, now=0) == 0
    assert limits.acquire("d", "j3", rpm=None, max_concurrent=2, now=0) == BUSY_RETRY_S
    limits.release("d", "j1")
    limits.release("d", "j1")  # idempotent
    assert limits.running("d") == 1
    assert limits.acquire("d", "j3", rpm=None, max_concurrent=2, now=0) == 0


def test_seeded_jobs_count_and_other_deployments_are_separate() -> None:
    limits = LimitCounters()
    limits.seed([("d", "old1"), ("d", "old2"), ("e", "old3")])
    assert limits.wait_s("d", rpm=None, max_concurrent=2) == BUSY_RETRY_S
    assert limits.wait_s("e", rpm=None, max_concurrent=2) == 0
    assert limits.acquire("f", "j", rpm=1, max_concurrent=1, now=0) == 0
    assert limits.running("f") == 1 and limits.running("d") == 2


def test_retain_frees_slots_of_jobs_that_ended_elsewhere() -> None:
    counters = LimitCounters()
    counters.seed([("key", "ended-elsewhere"), ("key", "still-running")])
    assert counters.acquire("key", "just-taken", None, None, now=100.0) == 0
    counters.retain({"still-running"}, taken_before=90.0)
    assert counters.running("key") == 2  # the young slot stays: its row may not exist yet
    counters.retain({"still-running"}, taken_before=101.0)
    assert counters.running("key") == 1
