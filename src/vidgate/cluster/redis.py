"""State several replicas share through Redis: rate and concurrency counters, cooldowns,
and cache invalidation.

Without ``redis_url`` every replica counts on its own (``routing/limits.py``), which is exact
for one process. With it:

- ``RedisLimitCounters`` replaces ``LimitCounters`` for deployments and for keys. A create
  takes its slot with one Lua script (purge the rpm window, check rpm and jobs in flight,
  record both) so two replicas can never both take the last slot. Slots are given back by
  whichever replica ends the job. A slot whose release never came (its replica crashed
  before the job row was written, or Redis missed the ``ZREM``) is freed by ``sweep``, which
  every replica runs each ``SWEEP_EVERY_S`` against the jobs live in the database; slots
  older than ``max_job_s`` (the longest deadline any job may have) are purged as a last
  resort. Reads for routing strategies (``running``,
  ``rpm_used``) use counts from the last script run or the refresh every second: they rank
  deployments, they do not admit jobs.
- ``RedisLink`` publishes events on one pub/sub channel and delivers the others' to
  handlers: a breaker that opened or closed (so a cooldown one replica observed holds on
  all) and a key that changed (so a revoked key or a changed limit stops working everywhere
  at once, instead of when the key cache's TTL runs out).

Budgets need none of this: they are enforced by conditional updates in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from vidgate.errors import ServiceUnavailable
from vidgate.routing.limits import BUSY_RETRY_S, RPM_WINDOW_S

log = logging.getLogger("vidgate.cluster")
CHANNEL = "vidgate:events"
REFRESH_S = 1.0
SWEEP_EVERY_S = 60.0
"""How often each replica frees the slots of jobs that are no longer live."""
SWEEP_GRACE_S = 600.0
"""A slot younger than this is kept even without a live job: a create takes its slots
(and may wait for moderation, a deployment or retries) before its job row is written."""

_ACQUIRE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[6]))
local rpm, max = tonumber(ARGV[3]), tonumber(ARGV[4])
local used, running = redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])
if redis.call('ZSCORE', KEYS[2], ARGV[5]) then
  return {'0', running, used}
end
local wait = 0
if max >= 0 and running >= max then wait = tonumber(ARGV[8]) end
if rpm >= 0 and used >= rpm then
  local oldest = redis.call('ZRANGE', KEYS[1], used - rpm, used - rpm, 'WITHSCORES')
  local free_at = tonumber(oldest[2]) + window - now
  if free_at > wait then wait = free_at end
end
if wait > 0 then return {tostring(wait), running, used} end
redis.call('ZADD', KEYS[1], now, ARGV[7])
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 5)
return {'0', running + 1, used + 1}
"""


class RedisLimitCounters:
    """``LimitCounters`` shared through Redis (same methods; ``take`` is the atomic one)."""

    def __init__(self, redis: Redis, namespace: str, max_job_s: float) -> None:
        self.redis = redis
        self.namespace = namespace
        self.max_job_s = max_job_s
        self._script = redis.register_script(_ACQUIRE)
        self._counts: dict[str, tuple[int, int]] = {}
        """Last known (running, rpm used) per counter, for ranking only."""
        self._pending: set[asyncio.Task[Any]] = set()

    def _keys(self, counter_id: str) -> list[str]:
        base = f"vidgate:{self.namespace}:{counter_id}"
        return [f"{base}:rpm", f"{base}:running"]

    def seed(self, jobs: Iterable[tuple[str, str]]) -> None:
        """Jobs in flight at start-up: added if missing (Redis may have restarted)."""
        by_counter: dict[str, list[str]] = {}
        for counter_id, job_id in jobs:
            by_counter.setdefault(counter_id, []).append(job_id)
        now = time.time()
        for counter_id, job_ids in by_counter.items():
            mapping: dict[str, float] = {job_id: now for job_id in job_ids}
            self._spawn(self.redis.zadd(self._keys(counter_id)[1], mapping, nx=True))

    def running(self, counter_id: str) -> int:
        return self._counts.get(counter_id, (0, 0))[0]

    def rpm_used(self, counter_id: str, now: float | None = None) -> int:
        return self._counts.get(counter_id, (0, 0))[1]

    def wait_s(
        self,
        counter_id: str,
        rpm: int | None,
        max_concurrent: int | None,
        now: float | None = None,
    ) -> float:
        """Always 0: only ``take`` knows, atomically; a full counter answers there."""
        return 0.0

    async def take(
        self, counter_id: str, job_id: str, rpm: int | None, max_concurrent: int | None
    ) -> float:
        """Take a slot for ``job_id``: 0 when taken, else seconds until one frees up."""
        now = time.time()
        args: list[str | float] = [
            now,
            RPM_WINDOW_S,
            -1 if rpm is None else rpm,
            -1 if max_concurrent is None else max_concurrent,
            job_id,
            now - self.max_job_s,
            f"{job_id}:{secrets.token_hex(4)}",
            BUSY_RETRY_S,
        ]
        try:
            wait, running, used = await self._script(keys=self._keys(counter_id), args=args)
        except RedisError as exc:  # limits that cannot be checked are not ignored
            log.warning("Redis is unreachable for a rate-limit check: %s", exc)
            raise ServiceUnavailable(
                "The gateway cannot check rate limits right now (shared store unreachable); "
                "please retry shortly."
            ) from None
        self._counts[counter_id] = (int(running), int(used))
        return float(wait)

    def release(self, counter_id: str, job_id: str) -> None:
        """The job no longer runs there; sent to Redis in the background. Idempotent."""
        running, used = self._counts.get(counter_id, (0, 0))
        self._counts[counter_id] = (max(0, running - 1), used)
        self._spawn(self.redis.zrem(self._keys(counter_id)[1], job_id))

    def retain(self, live: set[str], taken_before: float) -> None:
        """Nothing to do here: whichever replica ends a job releases its slot in Redis, and
        ``sweep`` (asynchronous) frees the slots whose release was lost."""

    async def sweep(self, live: Collection[str], taken_before: float) -> int:
        """Free the slots taken before ``taken_before`` whose job is not in ``live`` (ended,
        or never written): what a crashed replica or a lost ``ZREM`` left behind. Every
        counter of this namespace, whichever replica used it; returns how many were freed."""
        freed = 0
        pattern = f"vidgate:{self.namespace}:*:running"
        async for key in self.redis.scan_iter(match=pattern, count=500):
            old = await self.redis.zrangebyscore(key, "-inf", taken_before)
            gone = [str(job_id) for job_id in old if job_id not in live]
            if gone:
                freed += int(await self.redis.zrem(key, *gone))
        return freed

    async def refresh(self) -> None:
        """Re-read the counts this process ranks by (other replicas change them)."""
        ids = list(self._counts)
        if not ids:
            return
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            for counter_id in ids:
                rpm_key, running_key = self._keys(counter_id)
                pipe.zcount(running_key, now - self.max_job_s, "+inf")
                pipe.zcount(rpm_key, now - RPM_WINDOW_S, "+inf")
            counts = await pipe.execute()
        for index, counter_id in enumerate(ids):
            self._counts[counter_id] = (int(counts[2 * index]), int(counts[2 * index + 1]))

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a Redis counter update failed: %s", task.exception())

    async def flush(self) -> None:
        """Wait for releases sent in the background (shutdown, tests)."""
        await asyncio.gather(*list(self._pending), return_exceptions=True)


Handler = Callable[[dict[str, Any]], None]


class RedisLink:
    """One Redis connection pool, the shared counters' refresh and the event channel."""

    def __init__(self, url: str) -> None:
        self.redis: Redis = Redis.from_url(url, decode_responses=True)
        self.origin = secrets.token_hex(6)
        self.handlers: dict[str, Handler] = {}
        self.counters: list[RedisLimitCounters] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()

    def counters_for(self, namespace: str, max_job_s: float) -> RedisLimitCounters:
        counters = RedisLimitCounters(self.redis, namespace, max_job_s)
        self.counters.append(counters)
        return counters

    async def start(self) -> None:
        """Check the server answers, then listen for events and refresh counts."""
        await self.redis.ping()
        self._tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._refresh()),
        ]
        await asyncio.wait_for(self._subscribed.wait(), 10)

    def publish(self, kind: str, **data: Any) -> None:
        """Tell the other replicas (fire and forget; a lost event only costs a TTL)."""
        message = json.dumps({"kind": kind, "origin": self.origin, **data})
        task = asyncio.ensure_future(self.redis.publish(CHANNEL, message))
        task.add_done_callback(_log_failure)

    def sweep_every(
        self,
        live: Callable[[], Awaitable[Collection[str]]],
        every_s: float | None = None,
        grace_s: float | None = None,
    ) -> None:
        """From now until ``aclose``: every ``every_s`` (``SWEEP_EVERY_S``), ``sweep`` each
        counter set against the ids ``live`` returns (the jobs not yet ended, from the
        database), sparing slots younger than ``grace_s`` (``SWEEP_GRACE_S``)."""
        every = SWEEP_EVERY_S if every_s is None else every_s
        grace = SWEEP_GRACE_S if grace_s is None else grace_s
        self._tasks.append(asyncio.create_task(self._sweep(live, every, grace)))

    async def sweep_once(
        self, live: Callable[[], Awaitable[Collection[str]]], grace_s: float = SWEEP_GRACE_S
    ) -> int:
        """One sweep of every counter set; how many slots were freed."""
        taken_before = time.time() - grace_s  # before the read: a later take is younger
        alive = await live()
        freed = 0
        for counters in self.counters:
            freed += await counters.sweep(alive, taken_before)
        if freed:
            log.info("freed %d concurrency slot(s) of jobs no longer live", freed)
        return freed

    async def _sweep(
        self, live: Callable[[], Awaitable[Collection[str]]], every_s: float, grace_s: float
    ) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.sweep_once(live, grace_s)
            except Exception as exc:
                log.warning("freeing the slots of ended jobs failed: %s", exc)

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the Redis event channel failed; reconnecting")
                await asyncio.sleep(1.0)

    def _deliver(self, raw: str) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            return
        handler = self.handlers.get(event.get("kind", ""))
        if handler is not None and event.get("origin") != self.origin:
            try:
                handler(event)
            except Exception:
                log.exception("handling a %s event failed", event.get("kind"))

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            for counters in self.counters:
                try:
                    await counters.refresh()
                except Exception as exc:
                    log.warning("refreshing shared counts failed: %s", exc)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for counters in self.counters:
            with contextlib.suppress(Exception):
                await counters.flush()
        await self.redis.aclose()


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("publishing to Redis failed: %s", task.exception())
