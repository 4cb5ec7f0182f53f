"""A backlog of archives never stops the polling of running jobs.

Finished jobs wait for one of the archiver's slots (``archive_concurrency``); while they
wait, they must hold neither a deployment's poll slot nor room under
``max_inflight_polls``. Here the upstream's video downloads wait on a gate the test opens:
with one archive slot and room for three jobs in work, four finished jobs queue for
archiving while a long-running job must still be polled at its (fast) hint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from tests.support import Gateway, running_gateway, serve, wait_for
from vidgate.providers.openai.simulator import SimulatorConfig, create_app

UPSTREAM_KEY = "sk-upstream-backlog-0123456789"


class GatedContent:
    """The simulator, with every ``/content`` request held until ``POST /__open__``;
    ``GET /__held__`` says how many are held."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.gate: asyncio.Event | None = None
        self.held = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.gate = self.gate or asyncio.Event()
            if scope["path"] in ("/__open__", "/__held__"):
                if scope["path"] == "/__open__":
                    self.gate.set()
                body = str(self.held).encode()
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": body})
                return
            if scope["path"].endswith("/content") and not self.gate.is_set():
                self.held += 1
                await self.gate.wait()
        await self.app(scope, receive, send)


@pytest.fixture
def upstream() -> Iterator[str]:
    config = SimulatorConfig(api_key=UPSTREAM_KEY, job_seconds=0.3, poll_after_ms=100)
    with serve(GatedContent(create_app(config))) as url:
        yield url


@pytest.fixture
def gw(upstream: str, tmp_path: Path) -> Iterator[Gateway]:
    model = {
        "model_name": "sora",
        "provider": "openai",
        "model": "sora-2",
        "api_base": f"{upstream}/v1",
        "api_key": UPSTREAM_KEY,
    }
    settings = {"max_inflight_polls": 3, "archive_concurrency": 1, "poll_hint_floor_s": 0}
    config = {"model_list": [model], "settings": settings}
    with running_gateway(tmp_path / "gw", config) as gateway:
        yield gateway


def upstream_log(upstream: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{upstream}/__sim__/log", timeout=30).json())


def upstream_id(upstream: str, prompt: str) -> str:
    """The upstream's id of the job whose prompt starts with ``prompt``."""
    headers = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
    listed = httpx.get(f"{upstream}/v1/videos?limit=100", headers=headers, timeout=30).json()
    return str(next(v["id"] for v in listed["data"] if v["prompt"].startswith(prompt)))


def test_running_jobs_are_polled_while_finished_ones_wait_to_archive(
    gw: Gateway, upstream: str
) -> None:
    sdk = gw.sdk(gw.new_key())
    sdk.videos.create(model="sora", prompt="a long one [sim:slow]")  # runs 3 s upstream
    quick = [sdk.videos.create(model="sora", prompt=f"quick {n}") for n in range(4)]
    ids = {job.id for job in quick}

    wait_for(lambda: httpx.get(f"{upstream}/__held__", timeout=30).text != "0")  # at its gate
    for job in quick:  # every quick job finished upstream: they all wait on archiving now
        wait_for(lambda job=job: sdk.videos.retrieve(job.id).progress == 99)
    backlog_since = max(e["t"] for e in upstream_log(upstream))
    path = f"/v1/videos/{upstream_id(upstream, 'a long one')}"

    def watched_polls_since() -> int | None:
        polls = [
            e
            for e in upstream_log(upstream)
            if e["method"] == "GET" and e["path"] == path and e["t"] > backlog_since
        ]
        return len(polls) if len(polls) >= 3 else None

    wait_for(watched_polls_since)  # polled at its hint although no archive can progress
    httpx.post(f"{upstream}/__open__", timeout=30)
    for video_id in ids:
        wait_for(lambda video_id=video_id: sdk.videos.retrieve(video_id).status == "completed")
