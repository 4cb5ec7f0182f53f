"""Poll pacing against the openai simulator: the hint floor, spread due times, bounded work.

Bounds come from the settings (the floor, ``SPREAD``, ``max_inflight_polls``), never from
how fast this machine is: a poll may always come later than planned, never sooner.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.support import running_gateway, serve, wait_for
from vidgate.jobs.poller import SPREAD
from vidgate.providers.openai.simulator import SimulatorConfig, create_app

NEVER = 3600.0  # upstream jobs that run for the whole test


def config(sim_url: str, **settings: Any) -> dict[str, Any]:
    deployment = {
        "model_name": "sora-2",
        "provider": "openai",
        "model": "sora-2",
        "api_base": f"{sim_url}/v1",
        "api_key": "sk-up",
    }
    return {"model_list": [deployment], "settings": settings}


def poll_times(sim_url: str) -> dict[str, list[float]]:
    """When the simulator saw each upstream job polled, in order."""
    times: dict[str, list[float]] = defaultdict(list)
    for entry in httpx.get(f"{sim_url}/__sim__/log").json():
        if entry["method"] == "GET" and entry.get("video_id"):
            times[entry["video_id"]].append(entry["t"])
    return {video: sorted(ts) for video, ts in times.items()}


def rows(data_dir: Path) -> list[tuple[float, float, float]]:
    """(started_at, last_polled_at, next_poll_at) of every running job."""
    with sqlite3.connect(data_dir / "vidgate.db") as db:
        query = "SELECT started_at, last_polled_at, next_poll_at FROM jobs WHERE phase='running'"
        return [(float(a), float(b), float(c)) for a, b, c in db.execute(query)]


def create(gw: Any, count: int) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: gw.sdk().videos.create(prompt="paced"), range(count)))


@pytest.fixture
def fast_hints() -> Iterator[str]:
    """An upstream whose hint asks for a poll every 20 ms."""
    sim = SimulatorConfig(api_key="sk-up", job_seconds=NEVER, queued_seconds=0, poll_after_ms=20)
    with serve(create_app(sim)) as url:
        yield url


def test_hints_are_honoured_down_to_the_floor(fast_hints: str, tmp_path: Path) -> None:
    floor = 0.3
    with running_gateway(tmp_path / "gw", config(fast_hints, poll_hint_floor_s=floor)) as gw:
        create(gw, 2)
        wait_for(lambda: (t := poll_times(fast_hints)) and min(map(len, t.values())) >= 4)
    gaps = [b - a for ts in poll_times(fast_hints).values() for a, b in itertools.pairwise(ts)]
    assert gaps and min(gaps) >= floor, min(gaps)  # the hint alone asked for 20 ms


def test_a_burst_of_jobs_is_spread_over_a_share_of_the_interval(tmp_path: Path) -> None:
    interval = 2.0  # the hint; above the floor
    sim = SimulatorConfig(
        api_key="sk-up", job_seconds=NEVER, queued_seconds=0, poll_after_ms=int(interval * 1000)
    )
    with serve(create_app(sim)) as url, running_gateway(tmp_path / "gw", config(url)) as gw:
        create(gw, 24)  # created together: due together, had nothing spread them
        polled = wait_for(
            lambda: (r := rows(gw.data_dir)) and all(last > start for start, last, _ in r) and r
        )
    waits = [due - last for _start, last, due in polled]
    # every next poll after a first one: no sooner than the hint, at most SPREAD later
    assert all(interval <= w <= interval * (1 + SPREAD) + 1e-6 for w in waits), waits
    # spread at random over that share: 24 draws do not all land in a twentieth of it
    assert max(waits) - min(waits) > interval * SPREAD / 20, waits


class HeldPolls:
    """ASGI wrapper of an upstream: its poll answers wait until ``release``; counts how many
    wait at once (each one is a job the gateway is working on)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.waiting = 0
        self.most = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and "/videos/" in scope["path"]:
            with self.lock:
                self.waiting += 1
                self.most = max(self.most, self.waiting)
            try:
                await anyio.to_thread.run_sync(self.gate.wait)
            finally:
                with self.lock:
                    self.waiting -= 1
        await self.app(scope, receive, send)


def test_due_jobs_beyond_max_inflight_polls_wait_unclaimed(tmp_path: Path) -> None:
    sim = SimulatorConfig(api_key="sk-up", job_seconds=NEVER, queued_seconds=0, poll_after_ms=50)
    upstream = HeldPolls(create_app(sim))
    settings = {"max_inflight_polls": 3, "poll_hint_floor_s": 0}
    with serve(upstream) as url, running_gateway(tmp_path / "gw", config(url, **settings)) as gw:
        create(gw, 8)
        try:
            # every job is due, three are being polled: the others are not even leased
            wait_for(lambda: upstream.waiting == 3 and len(rows(gw.data_dir)) == 8)
            with sqlite3.connect(gw.data_dir / "vidgate.db") as db:
                last_due = float(db.execute("SELECT max(next_poll_at) FROM jobs").fetchone()[0])
            wait_for(lambda: time.time() > last_due + 1.0)  # any poller has had time to claim them
            with sqlite3.connect(gw.data_dir / "vidgate.db") as db:
                leased = db.execute("SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL")
                assert leased.fetchone()[0] == 3
        finally:
            upstream.gate.set()
        wait_for(lambda: len(poll_times(url)) == 8)  # and then all of them are
        with gw.http() as http:  # the API answered throughout
            assert http.get("/v1/videos").status_code == 200
    assert upstream.most == 3
