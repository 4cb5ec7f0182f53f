"""A fault storm must not take every deployment out: a soak through real HTTP.

Two deployments of one group, each a real OpenAI-wire simulator behind a fault switch that
fails 30% of creates at random (500s; then a third of the faults as dropped connections,
some after the upstream had started the task). The creates must still succeed (the breaker
judges an error *rate*, a group whose deployments are all cooling is still tried, and a
request retries around the group), and no job may leave two upstream tasks.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.routing.faults import Faults, Storm
from tests.support import Gateway, running_gateway, serve
from vidgate.providers.openai import simulator as openai_sim

CREATES = 300
CONCURRENCY = 8


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, tuple[Faults, str]]]:
    def sora(key: str) -> Faults:
        config = openai_sim.SimulatorConfig(api_key=key, job_seconds=60)
        return Faults(openai_sim.create_app(config), r"/v1/videos")

    a, b = sora("sk-storm-a"), sora("sk-storm-b")
    with serve(a) as url_a, serve(b) as url_b:
        yield {"a": (a, url_a), "b": (b, url_b)}


def config(upstreams: dict[str, tuple[Faults, str]]) -> dict[str, Any]:
    """Router defaults, but for a timeout no storm needs (its faults answer at once)."""
    deployments = [
        {
            "model_name": "sora",
            "id": f"sora-{name}",
            "provider": "openai",
            "model": "sora-2",
            "api_base": f"{url}/v1",
            "api_key": f"sk-storm-{name}",
            "idempotent_submit": True,  # the simulator returns the same task for a key
        }
        for name, (_, url) in upstreams.items()
    ]
    return {"model_list": deployments, "router": {"timeout_s": 10}}


@dataclass
class Outcome:
    status: int
    deployment: str | None
    video_id: str | None
    code: str | None


def storm_creates(gw: Gateway, count: int, workers: int) -> list[Outcome]:
    def one(i: int) -> Outcome:
        body = {"model": "sora", "prompt": f"storm {i}", "size": "1280x720", "seconds": "4"}
        with gw.http() as http:
            response = http.post("/v1/videos", json=body)
        data = response.json()
        ok = response.status_code == 200
        return Outcome(
            response.status_code,
            response.headers.get("x-vidgate-deployment"),
            data["id"] if ok else None,
            None if ok else data["error"]["code"],
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, i) for i in range(count)]
        # a create costs a few upstream round trips and at most ~2 s of backoff
        done, pending = wait(futures, timeout=60 + count * 0.5)
        assert not pending, f"{len(pending)} creates still running at the deadline"
        return [future.result() for future in done]


@pytest.mark.parametrize(
    ("drops", "seed", "floor"),
    [(0.0, 1301, 0.99), (1 / 3, 1302, 0.95)],
    ids=["500s", "with-dropped-connections"],
)
def test_creates_succeed_through_a_fault_storm(
    upstreams: dict[str, tuple[Faults, str]],
    tmp_path: Path,
    drops: float,
    seed: int,
    floor: float,
) -> None:
    storm = Storm(rate=0.3, drops=drops, seed=seed)
    for faults, _ in upstreams.values():
        faults.reset()
        faults.app.state.sim.reset()
        faults.storm = storm
    started = time.monotonic()
    with running_gateway(tmp_path / "gw", config(upstreams), run_poller=False) as gw:
        outcomes = storm_creates(gw, CREATES, CONCURRENCY)
    elapsed = time.monotonic() - started

    served = Counter(o.deployment for o in outcomes if o.status == 200)
    refused = Counter(f"{o.status} {o.code}" for o in outcomes if o.status != 200)
    successes = sum(served.values())
    sims = {f"sora-{name}": faults.app.state.sim for name, (faults, _) in upstreams.items()}
    tasks = {name: dict(sim.idempotency) for name, sim in sims.items()}  # job id -> task
    upstream_creates = sum(faults.creates for faults, _ in upstreams.values())
    orphans = sum(1 for keys in tasks.values() for key in keys) - successes
    print(
        f"\nstorm (30% faults, drops {drops:.0%} of them): {successes}/{CREATES} creates "
        f"succeeded ({successes / CREATES:.1%}) in {elapsed:.1f} s; served {dict(served)}; "
        f"refused {dict(refused)}; {upstream_creates} upstream create requests "
        f"({upstream_creates / CREATES:.2f} per create), outcomes {dict(storm.counts)}; "
        f"upstream tasks of failed jobs {orphans}"
    )

    assert successes >= floor * CREATES, refused
    if drops:  # the storm did drop connections, on both sides of the upstream's work
        assert storm.counts["drop-before"] > 0 and storm.counts["drop-after"] > 0
    # one upstream task per job: no key has tasks on both upstreams, none made two tasks
    assert not set(tasks["sora-a"]) & set(tasks["sora-b"])
    for name, sim in sims.items():
        assert len(sim.jobs) == len(tasks[name])
    for outcome in outcomes:
        if outcome.status == 200:
            assert outcome.video_id in tasks[str(outcome.deployment)]
