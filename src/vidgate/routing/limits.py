"""Rate and concurrency counters: creates per minute and jobs in flight, per id.

Used per deployment by the router and per API key by the job service.

``acquire`` is asked before every create attempt and either takes a slot (one rpm tick and,
while the job lives, one concurrency slot) or says how long until one frees up. A job's
concurrency slot is given back when the attempt fails or the job ends (the job service
calls ``release`` from its end-of-job hook), so the count is exact however a job ends. The
rpm window is sliding: a slot frees exactly 60 s after the create that used it.

Counters live in this process and are seeded at start from the jobs still in flight. An
id without a create in the window or a job in flight holds no memory (there is one id per
end user, and apps have many): a release drops an emptied id, and a sweep once a window drops
emptied rpm windows.
``Counters`` is the interface; ``cluster/redis.py`` implements it in Redis for replicas.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import Protocol

RPM_WINDOW_S = 60.0
BUSY_RETRY_S = 1.0
"""Retry-After for a deployment full of running jobs (when a job ends is not known)."""


class Counters(Protocol):
    """Rate and concurrency counters by id; ``take`` is the one admission decision."""

    def seed(self, jobs: Iterable[tuple[str, str]]) -> None: ...

    def running(self, counter_id: str) -> int: ...

    def rpm_used(self, counter_id: str, now: float | None = None) -> int: ...

    def wait_s(
        self,
        counter_id: str,
        rpm: int | None,
        max_concurrent: int | None,
        now: float | None = None,
    ) -> float: ...

    async def take(
        self, counter_id: str, job_id: str, rpm: int | None, max_concurrent: int | None
    ) -> float: ...

    def release(self, counter_id: str, job_id: str) -> None: ...

    def retain(self, live: set[str], taken_before: float) -> None:
        """Drop slots of jobs no longer live (taken before ``taken_before``)."""
        ...


class LimitCounters:
    """Sliding-window rpm and in-flight job sets, by id (a deployment's or a key's)."""

    def __init__(self) -> None:
        self._creates: dict[str, deque[float]] = {}
        self._running: dict[str, dict[str, float]] = {}
        """Jobs in flight per counter, with when each took its slot."""
        self._swept_at = 0.0

    def seed(self, jobs: Iterable[tuple[str, str]]) -> None:
        """Count ``(counter_id, job_id)`` pairs still in flight (start-up)."""
        for counter_id, job_id in jobs:
            self._running.setdefault(counter_id, {})[job_id] = 0.0

    def running(self, counter_id: str) -> int:
        return len(self._running.get(counter_id, ()))

    def rpm_used(self, counter_id: str, now: float | None = None) -> int:
        window = self._creates.get(counter_id)
        if window is None:
            return 0
        self._expire(window, time.time() if now is None else now)
        if not window:  # one entry per id ever seen would grow without end (end users)
            del self._creates[counter_id]
        return len(window)

    def wait_s(
        self,
        counter_id: str,
        rpm: int | None,
        max_concurrent: int | None,
        now: float | None = None,
    ) -> float:
        """Seconds until the deployment has room for one more create (0: now)."""
        now = time.time() if now is None else now
        wait = 0.0
        if max_concurrent is not None and self.running(counter_id) >= max_concurrent:
            wait = BUSY_RETRY_S
        if rpm is not None and self.rpm_used(counter_id, now) >= rpm:
            window = self._creates[counter_id]
            wait = max(wait, window[len(window) - rpm] + RPM_WINDOW_S - now)
        return wait

    def acquire(
        self,
        counter_id: str,
        job_id: str,
        rpm: int | None,
        max_concurrent: int | None,
        now: float | None = None,
    ) -> float:
        """Take a slot for ``job_id``: 0 when taken, else seconds until one frees up."""
        now = time.time() if now is None else now
        wait = self.wait_s(counter_id, rpm, max_concurrent, now)
        if wait > 0:
            return wait
        self._creates.setdefault(counter_id, deque()).append(now)
        self._running.setdefault(counter_id, {})[job_id] = now
        if now - self._swept_at >= RPM_WINDOW_S:
            self._sweep(now)
        return 0.0

    def held(self) -> set[str]:
        """The ids with a create in the window or a job in flight (what is in memory)."""
        return set(self._creates) | set(self._running)

    def _sweep(self, now: float) -> None:
        """Drop the windows that have emptied: an id seen once (an end user that never
        comes back) must not stay in memory. Once a window, so it costs O(1) a create."""
        self._swept_at = now
        for counter_id in list(self._creates):
            self.rpm_used(counter_id, now)

    async def take(
        self, counter_id: str, job_id: str, rpm: int | None, max_concurrent: int | None
    ) -> float:
        """``acquire`` now (``Counters``' admission; the shared version goes to Redis)."""
        return self.acquire(counter_id, job_id, rpm, max_concurrent)

    def release(self, counter_id: str, job_id: str) -> None:
        """The job no longer runs there (its attempt failed, or it ended). Idempotent."""
        running = self._running.get(counter_id)
        if running is not None:
            running.pop(job_id, None)
            if not running:
                del self._running[counter_id]

    def retain(self, live: set[str], taken_before: float) -> None:
        """Replicas without Redis: a job started here may end on another replica, whose
        release this process never sees; drop slots of jobs that are no longer live. Slots
        taken after ``taken_before`` stay (their job row may not be written yet)."""
        for counter_id, running in list(self._running.items()):
            for job_id in [j for j, at in running.items() if at < taken_before]:
                if job_id not in live:
                    del running[job_id]
            if not running:
                del self._running[counter_id]

    @staticmethod
    def _expire(window: deque[float], now: float) -> None:
        while window and window[0] <= now - RPM_WINDOW_S:
            window.popleft()
