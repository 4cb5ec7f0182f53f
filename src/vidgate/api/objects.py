"""Public wire shapes: the Video object, lists, deletions — exactly as the OpenAI SDK reads them.

Built as plain dicts from job rows (no model validation on the hot retrieve path); every key
is always present, with ``null`` where unset, as the OpenAI API does. Five keys are not
OpenAI's and the SDK ignores them: ``task_id`` (the id again, for clients of older gateways),
``url`` (the gateway's absolute content URL once completed; it needs the owner's key),
``user`` (the end user the create named) and ``provider`` (the provider serving the job, after
any failover), which the console's job list shows; and ``dropped_params``, the fields the
deployment that took the job dropped under ``drop_params`` (``[]`` when none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vidgate.jobs.store import Job


def content_url(base_url: str, job_id: str) -> str:
    return f"{base_url}/v1/videos/{job_id}/content"


def video_object(job: Job, base_url: str) -> dict[str, Any]:
    """The OpenAI ``Video`` object for a job, plus ``usage``, ``task_id`` and ``url``."""
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
        "task_id": job.id,
        "url": content_url(base_url, job.id) if job.status == "completed" else None,
        "user": job.end_user,
        "provider": job.provider,
        "provenance": provenance(job),
        "dropped_params": list((job.request or {}).get("dropped") or ()),
    }


def provenance(job: Job) -> dict[str, bool] | None:
    """What the archived video carries: ``{"c2pa": true}`` when it holds a C2PA manifest
    store (served byte for byte, so it still verifies); ``None`` until the video is archived
    (and for videos archived before vidgate looked)."""
    video = (job.assets or {}).get("video") or {}
    return {"c2pa": bool(video["c2pa"])} if "c2pa" in video else None


def video_list(jobs: Sequence[Job], has_more: bool, base_url: str) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [video_object(job, base_url) for job in jobs],
        "first_id": jobs[0].id if jobs else None,
        "last_id": jobs[-1].id if jobs else None,
        "has_more": has_more,
    }


def video_deleted(job_id: str) -> dict[str, Any]:
    return {"id": job_id, "object": "video.deleted", "deleted": True}
