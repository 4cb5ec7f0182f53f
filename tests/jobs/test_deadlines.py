"""Job deadlines over real HTTP: from the provider's spec or the deployment's config, stored
when a deployment takes the job (a failover's too), enforced after a restart; a job past
its deadline fails uncharged, and an upstream that completes it later is recorded for the
operator and charged to nobody. Driven with the official openai SDK against the Kling and
Replicate simulators (Kling has no cancel; Replicate has one)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support import Gateway, free_port, running_gateway, serve, wait_for
from vidgate.providers.kling import simulator as kling_sim
from vidgate.providers.registry import PROVIDERS
from vidgate.providers.replicate import simulator as replicate_sim
from vidgate.routing.config import build_table
from vidgate.settings import DEFAULT_JOB_DEADLINE_S, FileConfig

AK, SK = "ak-deadline-0001", "sk-deadline-0002"
REPLICATE_KEY = "r8_" + "d1" * 20
DEADLINE_S = 2.0
MESSAGE = (
    "The job did not finish within its deadline of 2 s for kling/kling-v2-master; "
    "it was not charged."
)


@pytest.fixture(scope="module")
def held_sim() -> Iterator[tuple[str, kling_sim.SimState]]:
    """Kling whose tasks run until the test finishes them (``finish_upstream``), so no
    deadline or poll depends on how fast the machine is; its URL and its state."""
    config = kling_sim.SimulatorConfig(api_key=f"{AK}:{SK}", job_seconds=3600, queued_seconds=0.05)
    app = kling_sim.create_app(config)
    with serve(app) as url:
        yield url, app.state.sim


def finish_upstream(state: kling_sim.SimState, prompt: str) -> None:
    """The simulated upstream completes the task created with ``prompt`` now."""
    (task,) = [t for t in state.tasks.values() if t.body.get("prompt") == prompt]
    task.timeline.duration_s = 0.0


@pytest.fixture(scope="module")
def never_sim() -> Iterator[str]:
    """Kling whose jobs run for an hour: they never finish within a test."""
    config = kling_sim.SimulatorConfig(api_key=f"{AK}:{SK}", job_seconds=3600, queued_seconds=0.05)
    with serve(kling_sim.create_app(config)) as url:
        yield url


def kling(model_name: str, url: str, deployment_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "model_name": model_name,
        "provider": "kling",
        "model": "kling-v2-master",
        "api_base": url,
        "api_key": AK,
        "options": {"secret_key": SK},
        "id": deployment_id,
        "poll_interval_s": 0.1,
        **fields,
    }


def gateway_config(*entries: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {
        "model_list": list(entries),
        "router": {"retry_backoff_s": 0},
        "settings": {"overdue_poll_s": 0.3, **settings},
    }


def create(client: openai.OpenAI, model: str, prompt: str) -> str:
    video = client.videos.create(model=model, prompt=prompt, size="1280x720", seconds="5")  # type: ignore[arg-type]
    return video.id


def ended(client: openai.OpenAI, video_id: str) -> Any:
    """The video once it completed or failed (the SDK's retrieve, bounded by ``wait_for``)."""

    def done() -> Any:
        video = client.videos.retrieve(video_id)
        return video if video.status in ("completed", "failed") else None

    return wait_for(done)


def row(gw: Gateway, video_id: str) -> dict[str, Any]:
    with sqlite3.connect(gw.data_dir / "vidgate.db") as db:
        db.row_factory = sqlite3.Row
        found = db.execute("SELECT * FROM jobs WHERE id=?", (video_id,)).fetchone()
    values = dict(found)
    values["upstream"] = json.loads(values["upstream"] or "null")
    return values


def money(gw: Gateway, key: str) -> tuple[float, float]:
    with gw.http(key) as http:
        info = http.get("/key/info").json()["info"]
    return round(info["spend"], 6), round(info["reserved"], 6)


def spend_rows(gw: Gateway, video_id: str) -> list[tuple[str, float]]:
    with sqlite3.connect(gw.data_dir / "vidgate.db") as db:
        query = "SELECT status, cost_usd FROM spend_logs WHERE job_id=?"
        return [(r[0], r[1]) for r in db.execute(query, (video_id,))]


def counter(gw: Gateway, name: str, deployment: str) -> float:
    with gw.http() as http:
        text = http.get("/metrics").text
    pattern = rf'^{name}\{{[^}}]*deployment="{re.escape(deployment)}"[^}}]*\}} (\S+)$'
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0


# --- where a deadline comes from ------------------------------------------------------------


def test_deadline_precedence_deployment_then_config_then_spec() -> None:
    spec = PROVIDERS["kling"].spec
    assert spec.job_deadline_s is not None and 60 <= spec.job_deadline_s <= 3600
    entries = [
        kling("a", "http://127.0.0.1:9", "own", job_deadline_s=2),
        kling("b", "http://127.0.0.1:9", "spec"),
    ]
    table = build_table(FileConfig(model_list=entries), PROVIDERS, {})
    assert table.by_id["own"].job_deadline_s == 2
    assert table.by_id["spec"].job_deadline_s == spec.job_deadline_s
    config = FileConfig(model_list=entries, settings={"job_timeout_s": 90})
    table = build_table(config, PROVIDERS, {})
    assert table.by_id["own"].job_deadline_s == 2  # a deployment's own beats the config's
    assert table.by_id["spec"].job_deadline_s == 90  # the config's beats the provider's
    for name, provider in PROVIDERS.items():  # every built-in provider gives one
        assert provider.spec.job_deadline_s, name
    assert DEFAULT_JOB_DEADLINE_S == 3600.0


def test_a_job_takes_its_providers_deadline_unless_its_deployment_sets_one(
    never_sim: str, tmp_path: Path
) -> None:
    config = gateway_config(
        kling("kling", never_sim, "from-spec"),
        kling("kling-own", never_sim, "own", job_deadline_s=45),
    )
    with running_gateway(tmp_path / "gw", config) as gw:
        client = gw.sdk()
        with gw.http() as http:
            for model, seconds in (
                ("kling", PROVIDERS["kling"].spec.job_deadline_s),
                ("kling-own", 45),
            ):
                record = http.get(f"/jobs/{create(client, model, 'shown')}").json()
                assert record["deadline_at"] == pytest.approx(record["created_at"] + seconds, abs=5)


# --- past the deadline: failed, uncharged; the late completion recorded --------------------


def test_past_deadline_fails_uncharged_and_a_late_completion_is_recorded(
    held_sim: tuple[str, kling_sim.SimState], tmp_path: Path
) -> None:
    url, state = held_sim
    late, in_time = "too late", "in time"
    config = gateway_config(
        kling("kling", url, "kling-late", job_deadline_s=DEADLINE_S),
        kling("kling-long", url, "kling-long", job_deadline_s=600),
    )
    data = tmp_path / "gw"
    # no poller at first: nothing can fail the job before its hold is looked at
    with running_gateway(data, config, run_poller=False) as gw:
        key = gw.new_key(max_budget=100.0)
        video_id = create(gw.sdk(key), "kling", late)
        spent, held = money(gw, key)
        assert spent == 0.0 and held > 0  # the list price is held while it runs
        stored = row(gw, video_id)
        assert stored["deadline_at"] == pytest.approx(stored["created_at"] + DEADLINE_S, abs=1)
    wait_for(lambda: time.time() > stored["deadline_at"])  # its upstream task still runs
    with running_gateway(data, config) as gw:
        client = gw.sdk(key)
        reference_id = create(client, "kling-long", in_time)
        finish_upstream(state, in_time)
        reference = ended(client, reference_id)
        assert reference.status == "completed"
        list_price = reference.model_dump()["usage"]["cost_usd"]
        assert list_price == held  # what was held for the late job is its list price

        failed = ended(client, video_id)
        assert failed.status == "failed" and failed.error is not None
        assert (failed.error.code, failed.error.message) == ("timeout", MESSAGE)
        assert row(gw, video_id)["completed_at"] >= stored["deadline_at"]
        assert money(gw, key) == (list_price, 0.0)  # released, nothing charged
        assert spend_rows(gw, video_id) == [("failed", 0.0)]
        assert row(gw, video_id)["phase"] == "overdue"  # Kling cannot cancel: watched
        late_before = counter(gw, "vidgate_jobs_late_completions_total", "kling-late")

        finish_upstream(state, late)  # the upstream completes it after all

        def watched_to_the_end() -> dict[str, Any] | None:
            now = row(gw, video_id)
            return now if now["phase"] == "done" else None

        overdue = wait_for(watched_to_the_end)["upstream"]["overdue"]
        assert overdue["outcome"] == "completed" and overdue["cost_usd"] == list_price
        assert overdue["completed_at"] > stored["deadline_at"]
        # the client's job is as it was told: failed, uncharged, no video archived
        again = client.videos.retrieve(video_id)
        assert again.status == "failed" and again.error is not None
        assert again.error.message == MESSAGE
        assert again.model_dump()["usage"]["cost_usd"] == 0.0
        with gw.http(key) as http:
            assert http.get(f"/v1/videos/{video_id}/content").status_code in (400, 404)
        assert money(gw, key) == (list_price, 0.0)  # the hold was released once, never twice
        assert spend_rows(gw, video_id) == [("failed", 0.0)]
        late = counter(gw, "vidgate_jobs_late_completions_total", "kling-late")
        assert late == late_before + 1
        with gw.http() as http:  # the operator sees it on the job's record
            record = http.get(f"/jobs/{video_id}").json()
        assert record["deadline_at"] == stored["deadline_at"]
        assert record["after_deadline"] == overdue
        with gw.http(key) as http:  # the client does not
            record = http.get(f"/jobs/{video_id}").json()
        assert "after_deadline" not in record and record["status"] == "failed"


def test_a_replay_of_a_deleted_deadline_failure_is_refused_while_watched_and_after(
    held_sim: tuple[str, kling_sim.SimState], tmp_path: Path
) -> None:
    url, state = held_sim
    prompt = "replayed after its deadline"
    config = gateway_config(kling("kling", url, "kling-replay", job_deadline_s=DEADLINE_S))
    with running_gateway(tmp_path / "gw", config) as gw:
        client = gw.sdk()
        headers = {"Idempotency-Key": "deadline-replay-1"}

        def replay() -> Any:
            return client.videos.create(
                model="kling",  # type: ignore[arg-type]
                prompt=prompt,
                size="1280x720",
                seconds="5",
                extra_headers=headers,
            )

        video_id = replay().id
        assert ended(client, video_id).status == "failed"
        assert row(gw, video_id)["phase"] == "overdue"
        client.videos.delete(video_id)
        for watched in (True, False):
            with pytest.raises(openai.ConflictError) as refused:
                replay()
            assert refused.value.code == "idempotency_key_reused"
            assert "Idempotency-Key" in refused.value.message
            if watched:  # the watch ends (the upstream completes): the same answer
                finish_upstream(state, prompt)
                wait_for(lambda: row(gw, video_id)["phase"] == "done")
        # the delete could not stop a Kling task (no cancel): the watch still saw it finish
        assert row(gw, video_id)["upstream"]["overdue"]["outcome"] == "completed"


def test_failover_takes_the_deadline_of_the_deployment_that_accepted(
    never_sim: str, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # refuses connections: safe to fail over
    config = gateway_config(
        kling("kling", dead, "dead", job_deadline_s=600, weight=1),
        kling("kling", never_sim, "alive", job_deadline_s=DEADLINE_S, weight=0),
    )
    with running_gateway(tmp_path / "gw", config) as gw:
        client = gw.sdk()
        video_id = create(client, "kling", "failed over")
        stored = row(gw, video_id)
        assert stored["deployment_id"] == "alive"
        assert [a["deployment"] for a in json.loads(stored["attempts"])] == ["dead", "alive"]
        assert stored["deadline_at"] < stored["created_at"] + 60  # not the dead one's 600 s
        failed = ended(client, video_id)
        assert failed.error is not None and failed.error.message == MESSAGE
        assert row(gw, video_id)["completed_at"] >= stored["deadline_at"]


def test_a_restarted_gateway_enforces_the_stored_deadline(never_sim: str, tmp_path: Path) -> None:
    data = tmp_path / "gw"
    short = gateway_config(kling("kling", never_sim, "k", job_deadline_s=DEADLINE_S))
    with running_gateway(data, short, run_poller=False) as gw:
        key = gw.new_key(max_budget=100.0)
        video_id = create(gw.sdk(key), "kling", "outlives its gateway")
        deadline_at = row(gw, video_id)["deadline_at"]
        assert money(gw, key)[1] > 0
    wait_for(lambda: time.time() > deadline_at)  # it passes while no gateway runs
    long = gateway_config(kling("kling", never_sim, "k", job_deadline_s=3600))
    with running_gateway(data, long) as gw:
        failed = ended(gw.sdk(key), video_id)
        assert failed.error is not None and failed.error.message == MESSAGE  # the stored one
        assert money(gw, key) == (0.0, 0.0)
        with gw.http(key) as http:  # a job whose upstream is still watched can be deleted
            assert http.delete(f"/v1/videos/{video_id}").status_code == 200
            assert http.get(f"/v1/videos/{video_id}").status_code == 404


# --- cancelling where the upstream can ----------------------------------------------------


@pytest.fixture(scope="module")
def replicate_url() -> Iterator[str]:
    config = replicate_sim.SimulatorConfig(
        api_key=REPLICATE_KEY, job_seconds=3600, queued_seconds=0.05
    )
    with serve(replicate_sim.create_app(config)) as url:
        yield url


def test_the_upstream_is_asked_to_cancel_and_its_end_recorded(
    replicate_url: str, tmp_path: Path
) -> None:
    entry = {
        "model_name": "seedance",
        "provider": "replicate",
        "model": "bytedance/seedance-2.0",
        "api_base": f"{replicate_url}/v1",
        "api_key": REPLICATE_KEY,
        "id": "rep",
        "poll_interval_s": 0.1,
        "job_deadline_s": DEADLINE_S,
    }
    with running_gateway(tmp_path / "gw", gateway_config(entry)) as gw:
        client = gw.sdk()
        video = client.videos.create(model="seedance", prompt="cancelled at its deadline")
        failed = ended(client, video.id)
        assert failed.error is not None and failed.error.code == "timeout"
        assert "deadline of 2 s for replicate/" in failed.error.message

        def watched_to_the_end() -> dict[str, Any] | None:
            now = row(gw, video.id)
            return now if now["phase"] == "done" else None

        overdue = wait_for(watched_to_the_end)["upstream"]["overdue"]
        assert overdue["outcome"] == "failed" and overdue["code"] == "cancelled"
        log = httpx.get(f"{replicate_url}/__sim__/log").json()
        upstream = row(gw, video.id)["upstream_id"]
        cancels = [e for e in log if e["path"].endswith(f"/predictions/{upstream}/cancel")]
        assert len(cancels) == 1
