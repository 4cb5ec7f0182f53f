"""The sender: delivers queued webhook events, retrying with backoff until they land.

One loop claims due deliveries (``store.claim_due``) up to ``concurrency`` in flight and
sleeps until the next is due or a job end wakes it. Each attempt is signed afresh (new
``webhook-timestamp``, same ``webhook-id``) and bounded by ``timeout_s`` in total. A 2xx
delivers; 410 Gone disables the endpoint; anything else (network error, timeout, other
status) retries after an exponential, jittered backoff until ``max_attempts``. Logs name
delivery and endpoint ids only: never URLs (they may carry tokens), secrets or signatures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine
from typing import Any

import httpx

from vidgate.webhooks.config import WebhookSettings
from vidgate.webhooks.signing import signed_headers
from vidgate.webhooks.store import Due, WebhookStore

log = logging.getLogger("vidgate.webhooks")
MAX_SLEEP_S = 2.0
"""Look for due rows at least this often (rows queued by another replica, expired leases)."""
LEASE_MARGIN_S = 30.0


def backoff_s(settings: WebhookSettings, attempts: int) -> float:
    """The wait after ``attempts`` failed attempts: doubling, capped, then jittered to 50-100%
    so endpoints recovering from an outage are not hit by every retry at once."""
    base = min(settings.max_backoff_s, settings.backoff_s * 2.0 ** max(attempts - 1, 0))
    return base * random.uniform(0.5, 1.0)


class Sender:
    """Delivers every pending webhook of this database."""

    def __init__(self, store: WebhookStore, http: httpx.AsyncClient, settings: WebhookSettings):
        self.store = store
        self.http = http
        self.settings = settings
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def lease_s(self) -> float:
        return self.settings.timeout_s + LEASE_MARGIN_S

    def wake(self) -> None:
        """Deliveries were queued: look now."""
        self._wake.set()

    async def run(self) -> None:
        """Loop until cancelled."""
        while True:
            self._wake.clear()
            delay = MAX_SLEEP_S
            try:
                delay = await self._step()
            except Exception:
                log.exception("claiming due webhook deliveries failed")
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(delay, MAX_SLEEP_S))

    async def _step(self) -> float:
        """Start what is due; returns how long to sleep (0: look again at once)."""
        free = self.settings.concurrency - len(self._tasks)
        if free <= 0:
            return MAX_SLEEP_S  # a finishing attempt wakes the loop
        now = time.time()
        next_due = await self.store.next_due_at(now)
        if next_due is None:
            return MAX_SLEEP_S
        if next_due > now:
            return max(next_due - now, 0.005)
        claimed = await self.store.claim_due(now, self.lease_s, free)
        for due in claimed:
            self._spawn(self.deliver(due))
        return 0 if claimed else 0.05

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.wake()  # a slot is free

    async def deliver(self, due: Due) -> None:
        """One attempt at one delivery, and its outcome recorded."""
        try:
            if due.attempts > self.settings.max_attempts:  # its last attempt was interrupted
                await self.store.give_up(due.id, None, "interrupted on its last attempt")
                return
            status, error = await self._post(due)
            await self._record(due, status, error)
        except asyncio.CancelledError:
            raise  # shutdown: the lease expires (or is released at start) and it is resent
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", due.id)

    async def _post(self, due: Due) -> tuple[int | None, str | None]:
        """``(status, None)`` on a 2xx, else ``(status or None, reason)``."""
        body = due.payload.encode()
        headers = signed_headers(due.secrets, due.event_id, int(time.time()), body)
        try:
            async with (
                asyncio.timeout(self.settings.timeout_s),
                self.http.stream("POST", due.url, content=body, headers=headers) as response,
            ):
                status = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            return None, f"timed out after {self.settings.timeout_s:g} s"
        except httpx.HTTPError as exc:
            return None, f"request failed ({type(exc).__name__})"
        if 200 <= status < 300:
            return status, None
        return status, f"HTTP {status}"

    async def _record(self, due: Due, status: int | None, error: str | None) -> None:
        now = time.time()
        if error is None:
            assert status is not None
            await self.store.delivered(due.id, status, now)
            log.debug("webhook %s delivered to %s", due.id, due.endpoint_id)
        elif status == 410:
            await self.store.endpoint_gone(due.id, due.endpoint_id, status, now)
            log.warning("webhook endpoint %s answered 410 Gone: disabled", due.endpoint_id)
        elif due.attempts >= self.settings.max_attempts:
            await self.store.give_up(due.id, status, error)
            log.warning(
                "webhook %s to %s failed after %d attempts: %s",
                due.id,
                due.endpoint_id,
                due.attempts,
                error,
            )
        else:
            at = now + backoff_s(self.settings, due.attempts)
            await self.store.retry_later(due.id, status, error, at)
            log.info("webhook %s to %s: %s; retrying", due.id, due.endpoint_id, error)

    async def aclose(self) -> None:
        """Stop attempts in flight (their rows are resent after a restart)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
