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


def test_ids_that_ended_and_left_the_window_hold_no_memory() -> None:
    """One counter id per end user: thousands of them must not stay in memory for ever."""
    counters = LimitCounters()
    for n in range(5000):
        assert counters.acquire(f"end_user:{n}", f"job{n}", rpm=10, max_concurrent=2, now=1000) == 0
    for n in range(5000):
        counters.release(f"end_user:{n}", f"job{n}")
    assert len(counters.held()) == 5000  # their creates are still in the rpm window
    assert counters.acquire("end_user:late", "job-late", rpm=10, max_concurrent=2, now=1061) == 0
    assert counters.held() == {"end_user:late"}  # everyone else's window has passed
    counters.release("end_user:late", "job-late")
    assert counters.rpm_used("end_user:late", now=1122) == 0
    assert counters.held() == set()
    counters.seed([("end_user:x", "seeded")])
    counters.retain(set(), taken_before=2000)
    assert counters.held() == set()
