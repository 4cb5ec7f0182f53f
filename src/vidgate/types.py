"""Public wire shapes: the Video object, lists, deletions — exactly as the OpenAI SDK reads them.

Built as plain dicts from job rows (no model validation on the hot retrieve path); every key
is always present, with ``null`` where unset, as the OpenAI API does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vidgate.jobs.store import Job


def video_object(job: Job) -> dict[str, Any]:
    """The OpenAI ``Video`` object for a job, plus vidgate's ``usage``."""
    error = None
    if job.status == "failed":
        error = {"code": job.error_code or "failed", "message": job.error_message or ""}
    usage = job.usage or {}
    return {
        "id": job.id,
        "object": "video",
        "model": job.model,
        "status": job.status,
        "progress": job.progress,
        "created_at": int(job.created_at),
        "completed_at": int(job.completed_at) if job.completed_at else None,
        "expires_at": int(job.expires_at) if job.expires_at else None,
        "prompt": job.prompt,
        "size": job.size,
        "seconds": str(job.seconds),
        "remixed_from_video_id": job.remixed_from,
        "error": error,
        "usage": {"duration_seconds": usage.get("duration_seconds"), "cost_usd": job.cost_usd},
    }


def video_list(jobs: Sequence[Job], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [video_object(job) for job in jobs],
        "first_id": jobs[0].id if jobs else None,
        "last_id": jobs[-1].id if jobs else None,
        "has_more": has_more,
    }


def video_deleted(job_id: str) -> dict[str, Any]:
    return {"id": job_id, "object": "video.deleted", "deleted": True}
