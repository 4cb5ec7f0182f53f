"""Events from job ends: ``video.completed`` and ``video.failed``, in OpenAI's event shape.

``queue_events`` is a ``JobStore.terminal_hooks`` function: it runs in the transaction that ends
the job, so a delivery row exists if and only if the job's end committed — never lost to a
crash between the two, never written twice by two writers racing to end the job. Jobs that
end hidden (refused at create, or deleted by their owner) produce no event.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, or_, select
from sqlalchemy.engine import Connection

from vidgate.accounting.keys import MASTER_ID
from vidgate.db.tables import webhook_deliveries, webhook_endpoints
from vidgate.jobs.store import Job
from vidgate.webhooks.config import EventType

_OWNER = webhook_endpoints.c.owner_key_id
_SUBSCRIBED = select(webhook_endpoints.c.id, webhook_endpoints.c.events).where(
    or_(bindparam("owner") == _OWNER, _OWNER == MASTER_ID),  # the job's key's, and global
    webhook_endpoints.c.disabled_at.is_(None),
)
_INSERT = insert(webhook_deliveries)


@dataclass(frozen=True)
class Event:
    """One event, serialised once: every endpoint and every retry gets the same bytes."""

    id: str
    type: EventType
    video_id: str
    created_at: int

    def body(self) -> str:
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "event",
            "created_at": self.created_at,
            "type": self.type,
            "data": {"id": self.video_id},
        }
        return json.dumps(payload, separators=(",", ":"))


def event_for(job: Job) -> Event | None:
    """The event a job's end announces, or ``None`` if it ended hidden or is not over."""
    if job.deleted_at is not None or not job.terminal:
        return None
    kind: EventType = "video.completed" if job.status == "completed" else "video.failed"
    created = int(job.completed_at or time.time())
    return Event("evt_" + secrets.token_hex(16), kind, job.id, created)


def queue_events(conn: Connection, job: Job) -> int:
    """Write a pending delivery per subscribed endpoint; returns how many (writer thread)."""
    event = event_for(job)
    if event is None:
        return 0
    subscribed = conn.execute(_SUBSCRIBED, {"owner": job.owner_key_id})
    targets = [row[0] for row in subscribed if event.type in row[1]]
    if not targets:
        return 0
    now = time.time()
    body = event.body()
    rows = [
        {
            "id": "whdel_" + secrets.token_hex(12),
            "endpoint_id": endpoint_id,
            "event_id": event.id,
            "event_type": event.type,
            "video_id": event.video_id,
            "payload": body,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint_id in targets
    ]
    conn.execute(_INSERT, rows)
    return len(rows)
