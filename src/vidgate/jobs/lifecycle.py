"""The only ways a job ends: ``complete`` and ``fail``, both compare-and-set.

Every path into a terminal state (upstream failure, deadline, removed deployment, interrupted
submit, delete) goes through here, so whatever must happen exactly once at the end of a job
(releasing or settling money, webhooks) has one place to live, and only the writer that wins
the transition does it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from vidgate.errors import client_text
from vidgate.jobs.store import ENDED_PHASES, LIVE_PHASES, Job, JobStore

__all__ = ["ENDED_PHASES", "LIVE_PHASES", "complete", "fail"]


async def fail(
    store: JobStore,
    job_id: str,
    code: str,
    message: str,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Job | None:
    """Fail a live job; ``None`` if another writer already ended it."""
    now = time.time()
    values = {
        "status": "failed",
        "phase": "done",
        "error_code": client_text(code),  # both may quote an upstream's text
        "error_message": client_text(message),
        "completed_at": now,
        "updated_at": now,
        "next_poll_at": None,
        "lease_owner": None,
        "lease_until": None,
        **(extra or {}),
    }
    return _notify_if_won(store, await store.finish(job_id, values, phase=LIVE_PHASES))


async def complete(
    store: JobStore, job_id: str, assets: Mapping[str, Any], usage: Mapping[str, Any]
) -> Job | None:
    """Mark an archived job completed; ``None`` if it was deleted or ended meanwhile."""
    now = time.time()
    values = {
        "status": "completed",
        "phase": "done",
        "progress": 100,
        "completed_at": now,
        "updated_at": now,
        "assets": dict(assets),
        "usage": dict(usage),
        "next_poll_at": None,
        "lease_owner": None,
        "lease_until": None,
    }
    return _notify_if_won(store, await store.finish(job_id, values, phase="archiving"))


def _notify_if_won(store: JobStore, job: Job | None) -> Job | None:
    """Run the after-end callbacks for the writer that won the transition."""
    if job is not None:
        store.notify_ended(job)
    return job
