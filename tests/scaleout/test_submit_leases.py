"""A replica never loses a job it is submitting while it lives; a dead one's are recovered.

Two gateways share one real PostgreSQL in front of an OpenAI-wire simulator that holds every
create (``submit_latency_ms``), with a submit lease of ``LEASE_S``. The first test starves
one gateway's event loop (a blocking call on it, as an overloaded replica's loop can be)
for several leases while its create is in flight: its job must complete, not be failed by
the other's recovery. The second SIGKILLs a replica mid-submit: the survivor re-submits the
job whose upstream deduplicates by key, and fails the other with a message that says what
is known.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.scaleout.replicas import start_replica
from tests.scaleout.services import Postgres, postgres_server
from tests.support import Gateway, serve, wait_for, write_config
from vidgate.app import create_app
from vidgate.providers.openai import simulator as openai_sim
from vidgate.settings import build_settings

pytestmark = pytest.mark.scaleout

MASTER = "sk-vg-master-submit-leases-0001"
UPSTREAM_KEY = "sk-upstream-submit-leases"
LEASE_S = 2.0
"""``submit_lease_s``: short, so that a lease lapses many times within one test."""
STARVED_S = 5 * LEASE_S
"""How long the starved gateway's event loop is blocked: its lease lapses (one lease) and
the other gateway's recovery, which runs every lease, looks at the job several times."""
DEADLINE_S = 120.0
"""For a job to end once nothing holds it back: a create, a few polls and an archive, on a
two-core machine that may be busy with other work."""


@dataclass
class Upstream:
    url: str
    sim: openai_sim.SimState

    def creates(self, prompt: str) -> int:
        """Upstream videos made for ``prompt`` (each create that made one)."""
        return sum(1 for job in self.sim.jobs.values() if job.prompt == prompt)


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    config = openai_sim.SimulatorConfig(
        api_key=UPSTREAM_KEY, job_seconds=0.5, queued_seconds=0.1, poll_after_ms=200
    )
    app = openai_sim.create_app(config)
    with serve(app) as url:
        yield Upstream(url, app.state.sim)


def gateway_config(pg: Postgres, database: str, upstream: Upstream) -> dict[str, Any]:
    deployment = {
        "provider": "openai",
        "model": "sora-2",
        "api_base": f"{upstream.url}/v1",
        "api_key": UPSTREAM_KEY,
        "poll_interval_s": 0.2,
    }
    return {
        "database_url": pg.url(database),
        "model_list": [
            {**deployment, "model_name": "sora"},  # the upstream cannot be asked twice
            {**deployment, "model_name": "sora-keyed", "idempotent_submit": True},
        ],
        "settings": {"submit_lease_s": LEASE_S, "poll_lease_s": 3.0, "stale_after_s": 60},
    }


class LoopOf:
    """An ASGI app that remembers the event loop it runs on (to starve it)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.loop = asyncio.get_running_loop()
        await self.app(scope, receive, send)


@contextmanager
def in_process_gateway(data_dir: Path, config: dict[str, Any]) -> Iterator[tuple[Gateway, LoopOf]]:
    """A gateway in a thread of this process (``running_gateway``), with its event loop."""
    settings = build_settings(data_dir=data_dir, config_path=write_config(data_dir, config))
    app = LoopOf(create_app(settings))
    with serve(app) as url:
        yield Gateway(url, settings.master_key, data_dir, app.app), app


def post_in_background(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/videos from a thread; the dict gets the response (or error) once done."""
    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            outcome["response"] = http.post("/v1/videos", json=body)
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    outcome["thread"] = thread
    return outcome


def phase_of(pg: Postgres, database: str, prompt: str) -> str:
    sql = f"SELECT phase FROM jobs WHERE prompt = '{prompt}'"
    return pg.psql(database, sql).strip()


def ended(http: httpx.Client, video_id: str) -> dict[str, Any] | None:
    video = http.get(f"/v1/videos/{video_id}").json()
    return dict(video) if video["status"] in ("completed", "failed") else None


def test_a_starved_replica_keeps_the_job_it_is_submitting(
    pg: Postgres, upstream: Upstream, tmp_path: Path
) -> None:
    database = "starved"
    config = gateway_config(pg, database, upstream)
    pg.create_database(database)
    upstream.sim.config.submit_latency_ms = 3000  # the loop is blocked while it waits
    prompt = "starved replica, slow create"
    with (
        in_process_gateway(tmp_path / "a", config) as (gw, app),
        in_process_gateway(tmp_path / "b", config),
        gw.http() as http,
    ):
        create = post_in_background(http, {"model": "sora", "prompt": prompt})
        wait_for(lambda: phase_of(pg, database, prompt) == "submitting", timeout=DEADLINE_S)
        assert app.loop is not None
        # Block the loop while the upstream holds the create: no task of that gateway
        # runs (renewals from the loop, the answer's handling), the other gateway's
        # recovery runs every lease.
        app.loop.call_soon_threadsafe(time.sleep, STARVED_S)
        create["thread"].join(timeout=STARVED_S + DEADLINE_S)
        response = create["response"]
        assert response.status_code == 200, response.text
        video_id = response.json()["id"]
        video = wait_for(lambda: ended(http, video_id), timeout=DEADLINE_S)
    assert video["status"] == "completed", video["error"]
    assert upstream.creates(prompt) == 1


def test_a_replica_killed_mid_submit_has_its_submits_recovered(
    pg: Postgres, upstream: Upstream, tmp_path: Path
) -> None:
    database = "killed"
    config = gateway_config(pg, database, upstream)
    pg.create_database(database)
    upstream.sim.config.submit_latency_ms = 20_000  # held until the submitter is gone
    env = {**os.environ, "VIDGATE_MASTER_KEY": MASTER}
    config_path = write_config(tmp_path, config)
    victim = start_replica(0, tmp_path, config_path, env)
    survivor = start_replica(1, tmp_path, config_path, env)
    try:
        with victim.http() as http:
            keyed = post_in_background(http, {"model": "sora-keyed", "prompt": "keyed"})
            unkeyed = post_in_background(http, {"model": "sora", "prompt": "unkeyed"})
            for prompt in ("keyed", "unkeyed"):
                wait_for(lambda p=prompt: phase_of(pg, database, p) == "submitting", DEADLINE_S)
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=30)
            upstream.sim.config.submit_latency_ms = 0
            for outcome in (keyed, unkeyed):
                outcome["thread"].join(timeout=DEADLINE_S)
                assert "error" in outcome  # the client saw the gateway go
        sql = "SELECT prompt, id FROM jobs WHERE prompt IN ('keyed', 'unkeyed')"
        ids = dict(line.split("|") for line in pg.psql(database, sql).split())
        with survivor.http() as http:
            done = {p: wait_for(lambda i=i: ended(http, i), DEADLINE_S) for p, i in ids.items()}
        assert done["keyed"]["status"] == "completed", done["keyed"]["error"]
        assert upstream.creates("keyed") == 1  # re-submitted under the same key
        error = done["unkeyed"]["error"]
        assert done["unkeyed"]["status"] == "failed" and error["code"] == "submit_interrupted"
        assert "replica that was submitting this job stopped responding" in error["message"]
        assert "not charged" in error["message"]
    finally:
        for replica in (victim, survivor):
            if replica.process.poll() is None:
                replica.process.terminate()
            replica.process.wait(timeout=120)
