"""Three gateway processes on one PostgreSQL and one Redis, as a scale-out deployment runs.

Real servers on loopback (``services.py`` installs and starts them: PostgreSQL, Redis and
an S3-compatible store), the replicas started with ``vidgate serve`` as separate processes
sharing a master key and those three, and an OpenAI-wire simulator as the upstream whose
request log shows every create and poll. The last test SIGKILLs a replica mid-run.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml

from tests.scaleout.replicas import Replica, start_replica
from tests.scaleout.services import Postgres, postgres_server, redis_server, s3_server
from tests.support import serve, wait_for
from vidgate.db.engine import HEAD_REVISION
from vidgate.providers.openai import simulator as openai_sim

pytestmark = pytest.mark.scaleout

MASTER = "sk-vg-master-scaleout-test-0001"
UPSTREAM_KEY = "sk-upstream-scaleout"
POLL_S = 0.5
JOB_S = 2.0
LEASE_S = 10.0
"""The poll lease. A replica confirms it right before each poll, with at least half of it
left; a poll still in flight when it lapses (sent late by a replica starved of CPU, or
taken in late by the simulator, which shares the test process) can meet another replica's
poll of the same job: with 3 s, two polls 80 ms apart at a load of 10 on two cores."""
SUBMIT_LEASE_S = 3.0
"""Shorter than a create can take here, where three replicas, PostgreSQL, Redis, S3 and the
upstream share two cores (creates up to ~4 s): a live submitter must never look dead, its
heartbeat tells it from a dead one whatever its lease."""
BUCKET = "vidgate-scaleout"
STALL_S = 90.0
"""How long jobs may go without one of them ending before a wait fails: many times a job's
length, its poll interval and the poll lease, so only a job that is stuck for good (not one
on a machine short of CPU) reaches it."""


@dataclass
class Cluster:
    replicas: list[Replica]
    sim: openai_sim.SimState
    pg: Postgres
    database: str

    def new_key(self, **body: Any) -> str:
        with self.replicas[0].http() as http:
            response = http.post("/key/generate", json=body)
            assert response.status_code == 200, response.text
            return str(response.json()["key"])

    def polls(self) -> dict[str, list[float]]:
        """Upstream poll times per upstream video id, from the simulator's log."""
        times: dict[str, list[float]] = defaultdict(list)
        for entry in list(self.sim.log):
            if (
                entry["method"] == "GET"
                and entry.get("video_id")
                and "content" not in entry["path"]
            ):
                times[entry["video_id"]].append(entry["t"])
        return times

    def creates(self) -> int:
        return sum(1 for e in list(self.sim.log) if e["method"] == "POST")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    sim_config = openai_sim.SimulatorConfig(
        api_key=UPSTREAM_KEY,
        job_seconds=JOB_S,
        queued_seconds=0.2,
        poll_after_ms=int(POLL_S * 1000),
    )
    sim_app = openai_sim.create_app(sim_config)
    root = tmp_path_factory.mktemp("scaleout")
    servers = postgres_server(), redis_server(), s3_server(BUCKET), serve(sim_app)
    with servers[0] as pg, servers[1] as redis, servers[2] as s3, servers[3] as sim_url:
        database = "vidgate_scaleout"
        database_url = pg.create_database(database)
        config = root / "vidgate.yaml"
        deployment = {
            "model_name": "sora",
            "provider": "openai",
            "model": "sora-2",
            "api_base": f"{sim_url}/v1",
            "api_key": UPSTREAM_KEY,
            "poll_interval_s": POLL_S,
        }
        settings = {
            "poll_lease_s": LEASE_S,
            "submit_lease_s": SUBMIT_LEASE_S,
            "stale_after_s": 60,
            "local_workers": 1,
        }
        storage = {
            "endpoint_url": s3,
            "region": "us-east-1",
            "access_key_id": "testing",
            "secret_access_key": "testing",
            "addressing_style": "path",
        }
        body = {"model_list": [deployment], "settings": settings, "storage": storage}
        config.write_text(yaml.safe_dump(body))
        env = {
            **os.environ,
            "VIDGATE_MASTER_KEY": MASTER,
            "VIDGATE_DATABASE_URL": database_url,
            "VIDGATE_REDIS_URL": redis.url,
            "VIDGATE_STORAGE_URL": f"s3://{BUCKET}/videos",
        }
        with ThreadPoolExecutor(3) as pool:  # together: they race to migrate
            futures = [pool.submit(start_replica, i, root, config, env) for i in range(3)]
            replicas = [future.result() for future in futures]
        try:
            yield Cluster(replicas, sim_app.state.sim, pg, database)
        finally:
            for replica in replicas:
                if replica.process.poll() is None:
                    replica.process.terminate()
            for replica in replicas:
                replica.process.wait(timeout=120)


def create(replica: Replica, key: str, prompt: str, seconds: str = "4") -> httpx.Response:
    body = {"model": "sora", "prompt": prompt, "seconds": seconds, "size": "1280x720"}
    with replica.http(key) as http:
        return http.post("/v1/videos", json=body)


def all_ended(cluster: Cluster, key: str, ids: list[str], via: int = 0) -> dict[str, str]:
    """Wait until every job ended; their statuses (with the error, if failed), read through
    one replica.

    The deadline scales with the work: it runs from the last job seen ending, not from the
    start, so a busy machine that finishes jobs slowly passes and a job stuck for good (a
    lease nobody takes over, a job nobody polls) fails after ``STALL_S``."""
    videos: dict[str, dict[str, Any]] = {}
    pending = list(ids)
    progress_at = time.monotonic()
    with cluster.replicas[via].http(key) as http:
        while pending:
            for video_id in pending:
                videos[video_id] = http.get(f"/v1/videos/{video_id}").json()
            ended = [i for i in pending if videos[i]["status"] in ("completed", "failed")]
            if ended:
                progress_at = time.monotonic()
            pending = [i for i in pending if i not in set(ended)]
            stalled = time.monotonic() - progress_at
            assert stalled < STALL_S, f"{len(pending)} jobs, none ended in {stalled:.0f} s"
            if pending:
                time.sleep(0.25)
    return {
        i: v["status"] if v["status"] == "completed" else str(v["error"]) for i, v in videos.items()
    }


def test_replicas_migrated_once_and_share_one_schema(cluster: Cluster) -> None:
    version = cluster.pg.psql(cluster.database, "SELECT version_num FROM alembic_version")
    assert version.split() == [HEAD_REVISION]


def test_300_jobs_across_replicas_each_polled_by_one_replica_at_a_time(cluster: Cluster) -> None:
    key = cluster.new_key()
    creates_before = cluster.creates()

    def make(index: int) -> str:
        response = create(cluster.replicas[index % 3], key, f"job {index}")
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    with ThreadPoolExecutor(12) as pool:
        ids = list(pool.map(make, range(300)))
    statuses = all_ended(cluster, key, ids, via=1)
    assert Counter(statuses.values()) == {"completed": 300}
    assert cluster.creates() - creates_before == 300  # one upstream job per request
    polls = cluster.polls()
    gaps = []
    for times in polls.values():
        times.sort()
        gaps += [b - a for a, b in itertools.pairwise(times)]
    # Two replicas polling one job at once would show polls milliseconds apart; each poll
    # schedules the next one POLL_S later (the simulator's hint), so gaps are about POLL_S.
    assert gaps and min(gaps) > POLL_S * 0.5, sorted(gaps)[:5]
    per_job = [len(times) for times in polls.values()]
    assert max(per_job) <= (JOB_S + 0.2) / POLL_S + 4, max(per_job)


def test_budget_and_rpm_hold_across_replicas(cluster: Cluster) -> None:
    budget_key = cluster.new_key(max_budget=4.0)  # ten 4 s sora-2 jobs at $0.10/s
    creates_before = cluster.creates()

    def attempt(index: int) -> int:
        return create(cluster.replicas[index % 3], budget_key, f"budget {index}").status_code

    with ThreadPoolExecutor(50) as pool:
        codes = Counter(pool.map(attempt, range(50)))
    assert codes[200] == 10 and codes[429] == 40, codes
    assert cluster.creates() - creates_before == 10
    with cluster.replicas[1].http(budget_key) as http:
        info = http.get("/key/info").json()["info"]
    assert info["spend"] + info["reserved"] <= 4.0 + 1e-9

    rpm_key = cluster.new_key(rpm_limit=5)

    def rpm_attempt(index: int) -> int:
        return create(cluster.replicas[index % 3], rpm_key, f"rpm {index}").status_code

    with ThreadPoolExecutor(15) as pool:
        codes = Counter(pool.map(rpm_attempt, range(15)))
    assert codes[200] == 5 and codes[429] == 10, codes


def test_revoking_a_key_on_one_replica_blocks_it_on_the_others(cluster: Cluster) -> None:
    key = cluster.new_key()
    for replica in cluster.replicas:
        with replica.http(key) as http:
            assert http.get("/v1/videos").status_code == 200  # now cached everywhere
    with cluster.replicas[0].http() as admin:
        assert admin.post("/key/delete", json={"keys": [key]}).status_code == 200
    started = time.monotonic()
    for replica in cluster.replicas[1:]:
        with replica.http(key) as http:  # the event is immediate; a busy machine may lag
            wait_for(lambda h=http: h.get("/v1/videos").status_code == 401, timeout=60)
    print(f"revocation reached the other replicas in {time.monotonic() - started:.2f} s")


def test_content_is_served_by_any_replica(cluster: Cluster) -> None:
    key = cluster.new_key()
    response = create(cluster.replicas[0], key, "content anywhere")
    video_id = response.json()["id"]
    all_ended(cluster, key, [video_id], via=2)
    bodies = []
    for replica in cluster.replicas:
        with replica.http(key) as http:
            content = http.get(f"/v1/videos/{video_id}/content")
            assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
            bodies.append(content.content)
    assert bodies[0] == bodies[1] == bodies[2] and len(bodies[0]) > 1000


def test_a_replica_killed_mid_run_has_its_jobs_finished_by_the_others(cluster: Cluster) -> None:
    key = cluster.new_key()
    victim = cluster.replicas[0]

    def make(index: int) -> str:
        # [sim:slow]: ten times JOB_S, so that jobs are still running when the last create
        # returns, however long the creates took
        response = create(cluster.replicas[index % 3], key, f"kill {index} [sim:slow]")
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    with ThreadPoolExecutor(10) as pool:
        ids = list(pool.map(make, range(60)))
    before = sum(len(t) for t in cluster.polls().values())
    # mid-run: some polls done, and (each job takes several) not all of them
    wait_for(lambda: sum(len(t) for t in cluster.polls().values()) > before + 20, timeout=120)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=30)
    # The dead replica's leases lapse after LEASE_S and the others finish its jobs: a job
    # whose lease nobody took over would stall all_ended (no time bound on a busy machine).
    statuses = all_ended(cluster, key, ids, via=1)
    assert Counter(statuses.values()) == {"completed": 60}
