"""This process's heartbeat, and the leases on the jobs it is submitting, kept from a thread.

A submit holds its job row under a lease (``submit_lease_s``) so that another replica can
recover it when the submitter dies. Renewed from the event loop over the shared connection
pool, a live replica's lease could lapse while it was only slow: a loop with a long queue of
ready tasks, a pool drained by polls, a machine out of CPU. In the scale-out test another
replica then failed such a job as ``submit_interrupted`` although no gateway stopped.

So both are written here, in a thread of their own with a connection of their own, every
third of the lease, whatever the event loop and the pool are doing: the row's
``replicas.last_seen`` and the leases of the jobs being submitted. Recovery takes over a
lapsed submit only when its owner's heartbeat is also older than ``stale_after`` (twice the
lease), which a live process does not let happen; a dead one (SIGKILL, a crash) falls
silent, and a clean stop deletes its row so that others need not wait out the grace.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy import delete, insert, update
from sqlalchemy.engine import Connection

from vidgate.db.engine import Database, open_database
from vidgate.db.tables import replicas
from vidgate.jobs.store import JobStore

log = logging.getLogger("vidgate.jobs")

GRACE_LEASES = 2.0
"""A replica is silent after this many submit leases without a heartbeat."""


FORGET_AFTER_S = 86_400.0
"""Rows of replicas silent this long are deleted (by a replica starting)."""


def stale_after(lease_s: float) -> float:
    """How long a replica may go without a heartbeat before its submits may be taken."""
    return GRACE_LEASES * lease_s


class Heartbeat:
    """Beats for ``owner`` and renews its submit leases until ``stop``."""

    def __init__(
        self, url: str, owner: str, lease_s: float, submitting: Callable[[], Sequence[str]]
    ) -> None:
        self.url = url
        self.owner = owner
        self.lease_s = lease_s
        self.submitting = submitting
        """The ids of the jobs this process is submitting (read from the thread)."""
        self.started_at = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vidgate-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop beating, delete this replica's row, and wait for the thread (blocking)."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        db = open_database(self.url)  # its own connection: never queued behind polls
        try:
            while True:
                await self._beat(db)
                if self._stop.wait(self.lease_s / 3):  # this thread's own loop waits alone
                    break
            await db.write(self._forget)
        except Exception:
            log.exception("the heartbeat could not delete this replica's row")
        finally:
            await db.dispose()

    async def _beat(self, db: Database) -> None:
        try:
            await db.write(self._seen)
            job_ids = self.submitting()
            if job_ids:
                until = time.time() + self.lease_s
                await JobStore(db).renew_leases(self.owner, job_ids, until)
        except Exception:  # the database is away: the next beat tries again
            log.exception("heartbeat or submit lease renewal failed")

    def _seen(self, conn: Connection) -> None:
        now = time.time()
        query = update(replicas).where(replicas.c.id == self.owner).values(last_seen=now)
        if not conn.execute(query).rowcount:
            row = {"id": self.owner, "started_at": self.started_at, "last_seen": now}
            conn.execute(insert(replicas).values(row))
            # a missing row reads as silent too: rows of long-dead replicas can go
            conn.execute(delete(replicas).where(replicas.c.last_seen < now - FORGET_AFTER_S))

    def _forget(self, conn: Connection) -> None:
        conn.execute(delete(replicas).where(replicas.c.id == self.owner))
