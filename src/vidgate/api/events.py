"""``GET /v1/videos/events``: job changes as server-sent events, so clients need not poll.

The stream wakes on this process's job writes (``JobStore.changed``) and re-reads the
caller's jobs from the store at least once a second, so changes written by other replicas
show within about a second; it never calls an upstream. Parameters are checked, and a
``video_id`` looked up, before the stream starts, so bad ones get the usual 4xx envelope.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from starlette.responses import StreamingResponse

from vidgate.accounting.keys import Principal
from vidgate.api.objects import video_object
from vidgate.api.urls import base_url
from vidgate.errors import InvalidRequest, NotFound
from vidgate.jobs.service import JobService
from vidgate.jobs.store import Job

HEARTBEAT_S = 15.0
REREAD_S = 1.0
MAX_TIMEOUT_S = 86_400
WATCHED = 100
"""How many of the caller's newest jobs a stream without ``video_id`` watches."""


@dataclass(frozen=True)
class Watch:
    video_id: str | None
    until_terminal: bool
    timeout_s: int | None


def watch_params(request: Request) -> Watch:
    query = request.query_params
    video_id = query.get("video_id")
    if video_id is not None and not video_id:
        raise InvalidRequest("Invalid value for 'video_id': ''.", param="video_id")
    until = query.get("until")
    if until is not None and until != "terminal":
        raise InvalidRequest(
            f"Invalid value for 'until': '{until[:100]}'. Allowed: terminal.", param="until"
        )
    timeout = query.get("timeout_s")
    if timeout is not None and (
        not re.fullmatch("[0-9]{1,5}", timeout) or not 1 <= int(timeout) <= MAX_TIMEOUT_S
    ):
        raise InvalidRequest(
            f"Invalid value for 'timeout_s': '{timeout[:100]}'. "
            f"Allowed: an integer from 1 to {MAX_TIMEOUT_S}.",
            param="timeout_s",
        )
    return Watch(video_id, until is not None, int(timeout) if timeout is not None else None)


async def _jobs(jobs: JobService, caller: Principal, watch: Watch) -> list[Job]:
    if watch.video_id is not None:
        job = await jobs.visible(caller, watch.video_id)
        return [] if job is None else [job]
    return await jobs.store.recent(None if caller.is_admin else caller.key_id, WATCHED)


def _event(job: Job, base: str) -> bytes:
    data = json.dumps(video_object(job, base), separators=(",", ":"))
    marker = f"{job.seq}-{int(job.updated_at * 1000)}"
    return f"event: video.updated\nid: {marker}\ndata: {data}\n\n".encode()


async def video_events(request: Request, caller: Principal) -> StreamingResponse:
    watch = watch_params(request)
    jobs: JobService = request.app.state.jobs
    first = await _jobs(jobs, caller, watch)
    if watch.video_id is not None and not first:
        raise NotFound(f"No video found with id '{watch.video_id}'.", param="video_id")
    base = base_url(request.scope)
    return StreamingResponse(
        _stream(request, jobs, caller, watch, first, base),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request,
    service: JobService,
    caller: Principal,
    watch: Watch,
    jobs: list[Job],
    base: str,
) -> AsyncIterator[bytes]:
    started = time.monotonic()
    deadline = started + watch.timeout_s if watch.timeout_s is not None else None
    seen: dict[str, tuple[float, str, int]] = {}
    first, last_write = True, started
    yield b": watching\n\n"
    while True:
        for job in reversed(jobs):  # oldest first
            state = (job.updated_at, job.status, job.progress)
            if seen.get(job.id) == state or (first and job.terminal and not watch.video_id):
                seen[job.id] = state
                continue
            seen[job.id] = state
            yield _event(job, base)
            last_write = time.monotonic()
        first = False
        if watch.until_terminal and all(job.terminal for job in jobs):
            return
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return
        if now - last_write >= HEARTBEAT_S:
            yield b": heartbeat\n\n"
            last_write = now
        if await request.is_disconnected():
            return
        wait = REREAD_S if deadline is None else min(REREAD_S, max(0.0, deadline - now))
        await service.store.changed.wait(wait)
        jobs = await _jobs(service, caller, watch)
        if watch.video_id is not None and not jobs:  # deleted meanwhile
            return
