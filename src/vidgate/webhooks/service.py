"""Webhooks wired into the gateway: the store, the sender task and the job-end hooks.

``app.py`` builds one ``Webhooks`` in its lifespan, ``start``s it with the job store before
anything can end a job (crash recovery may), and ``aclose``s it on shutdown. The sender has
its own HTTP client: endpoints are arbitrary user URLs, so they share no connection pool or
cookie jar with upstream provider calls, and nothing they set is ever sent elsewhere. Its
every connection passes the outbound address policy (``vidgate.outbound``), at each attempt:
a name that resolves to a private address later is refused then, like a failed connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
from sqlalchemy.engine import Connection

from vidgate.db.engine import Database
from vidgate.jobs.store import Job, JobStore
from vidgate.netpolicy import OutboundPolicy
from vidgate.outbound import guarded_client
from vidgate.webhooks.config import WebhookEndpointConfig, WebhookSettings
from vidgate.webhooks.events import queue_events
from vidgate.webhooks.sender import Sender
from vidgate.webhooks.store import WebhookStore


class Webhooks:
    """Endpoints, the delivery outbox and the sender, for one gateway process."""

    def __init__(
        self,
        db: Database,
        settings: WebhookSettings,
        configured: Sequence[WebhookEndpointConfig],
        *,
        sole_writer: bool = False,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.store = WebhookStore(db)
        self.settings = settings
        self.configured = list(configured)
        self.sole_writer = sole_writer
        self.policy = policy or OutboundPolicy()
        """Where endpoints may point (checked at registration too, for literal addresses)."""
        self.http = guarded_client(  # no redirects, no cookies, no proxy from the environment
            self.policy,
            timeout=httpx.Timeout(settings.timeout_s),  # the sender also bounds the total
            max_connections=settings.concurrency * 2,
        )
        self.sender = Sender(self.store, self.http, settings)
        self._queued = False
        self._task: asyncio.Task[None] | None = None

    async def start(self, jobs: JobStore) -> None:
        """Apply the config's endpoints, hook into job ends and start sending."""
        await self.store.sync_config(self.configured)
        if self.sole_writer:  # one process owns a SQLite file: nobody else holds a claim
            await self.store.release_all_leases()
        jobs.terminal_hooks.append(self._queue)
        jobs.after_end.append(self._wake_sender)
        self._task = asyncio.create_task(self.sender.run())

    def _queue(self, conn: Connection, job: Job) -> None:
        if queue_events(conn, job):
            self._queued = True

    def _wake_sender(self, _job: Job) -> None:
        if self._queued:
            self._queued = False
            self.sender.wake()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.sender.aclose()
        await self.http.aclose()
