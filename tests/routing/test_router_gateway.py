"""Routing through real HTTP: two OpenAI-wire simulators and a Kling simulator as upstreams,
each behind a fault switch, and the gateway choosing, failing over, cooling down and pinning.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.routing.faults import Fault, Faults, openai_error
from tests.support import Gateway, running_gateway, serve, wait_for, write_config
from vidgate.providers.kling import simulator as kling_sim
from vidgate.providers.openai import simulator as openai_sim

AK, SK = "ak-router-test-1234", "sk-router-test-5678"


@dataclass
class Upstreams:
    a: Faults
    b: Faults
    kling: Faults
    urls: dict[str, str]

    def reset(self) -> None:
        for faults in (self.a, self.b, self.kling):
            faults.reset()


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    def sora(key: str) -> Faults:
        config = openai_sim.SimulatorConfig(
            api_key=key, job_seconds=0.3, queued_seconds=0.05, poll_after_ms=50
        )
        return Faults(openai_sim.create_app(config), r"/v1/videos(/[^/]+/remix)?")

    kling_config = kling_sim.SimulatorConfig(
        api_key=f"{AK}:{SK}", job_seconds=0.3, queued_seconds=0.05
    )
    a, b = sora("sk-upstream-a"), sora("sk-upstream-b")
    kling = Faults(kling_sim.create_app(kling_config), r"/v1/videos/(text2video|image2video)")
    with serve(a) as url_a, serve(b) as url_b, serve(kling) as url_k:
        yield Upstreams(a, b, kling, {"a": url_a, "b": url_b, "kling": url_k})


@pytest.fixture(autouse=True)
def clean(upstreams: Upstreams) -> None:
    upstreams.reset()


def config(up: Upstreams, **router: Any) -> dict[str, Any]:
    """sora = A (weight 1) + B (weight 0, a spare); kling is sora's fallback."""
    sora = {"provider": "openai", "model": "sora-2", "model_name": "sora", "poll_interval_s": 0.1}
    return {
        "model_list": [
            {**sora, "id": "sora-a", "api_base": f"{up.urls['a']}/v1", "api_key": "sk-upstream-a"},
            {
                **sora,
                "id": "sora-b",
                "api_base": f"{up.urls['b']}/v1",
                "api_key": "sk-upstream-b",
                "weight": 0,
            },
            {
                "model_name": "kling",
                "id": "kling-c",
                "provider": "kling",
                "model": "kling-v2-1",
                "api_base": up.urls["kling"],
                "api_key": AK,
                "options": {"secret_key": SK},
                "poll_interval_s": 0.1,
            },
        ],
        "router": {
            "retry_backoff_s": 0,
            "timeout_s": 2,
            "cooldown": {"min_requests": 2, "window_s": 60, "cooldown_s": 30},
            "fallbacks": [{"sora": ["kling"]}],
            **router,
        },
    }


@contextmanager
def gateway(tmp_path: Path, cfg: dict[str, Any]) -> Iterator[Gateway]:
    with running_gateway(tmp_path / "gw", cfg) as gw:
        yield gw


def create(gw: Gateway, key: str | None = None, **body: Any) -> httpx.Response:
    payload = {"model": "sora", "prompt": "a red kite", "size": "1280x720", **body}
    with gw.http(key) as http:
        return http.post("/v1/videos", json=payload)


def record(gw: Gateway, video_id: str) -> dict[str, Any]:
    with gw.http() as http:
        response = http.get(f"/jobs/{video_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


def health(gw: Gateway) -> dict[str, dict[str, Any]]:
    with gw.http() as http:
        response = http.get("/health/deployments")
        assert response.status_code == 200, response.text
        return {row["id"]: row for row in response.json()["deployments"]}


def completed(gw: Gateway, video_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        with gw.http() as http:
            video = http.get(f"/v1/videos/{video_id}").json()
        return video if video["status"] in ("completed", "failed") else None

    video: dict[str, Any] = wait_for(done)
    assert video["status"] == "completed", video
    return video


# --- load balancing -------------------------------------------------------------------------


def test_weighted_distribution_within_statistical_bounds(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    cfg = config(upstreams)
    cfg["model_list"][0]["weight"] = 3
    cfg["model_list"][1]["weight"] = 1
    with running_gateway(tmp_path / "gw", cfg, run_poller=False) as gw:
        served = Counter(create(gw).headers["x-vidgate-deployment"] for _ in range(300))
    # share of A ~ Binomial(300, 0.75): sd 0.025; 4 sd either side
    assert served["sora-a"] + served["sora-b"] == 300
    assert 0.65 <= served["sora-a"] / 300 <= 0.85, served
    assert upstreams.a.creates == served["sora-a"] and upstreams.b.creates == served["sora-b"]


# --- failover -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault(429, openai_error(429, "slow down", "rate_limit").body, {"Retry-After": "7"}), 429),
        (openai_error(503, "overloaded", "server_error"), 503),
        (openai_error(500, "internal", "server_error"), 500),
    ],
    ids=["429", "503", "500"],
)
def test_failover_to_the_next_deployment(
    upstreams: Upstreams, tmp_path: Path, fault: Fault, code: int
) -> None:
    upstreams.a.set(fault)
    with gateway(tmp_path, config(upstreams)) as gw:
        response = create(gw)
        assert response.status_code == 200, response.text
        assert response.headers["x-vidgate-deployment"] == "sora-b"
        video = response.json()
        assert video["model"] == "sora"
        attempts = record(gw, video["id"])["attempts"]
        assert [a["deployment"] for a in attempts] == ["sora-a", "sora-b"]
        assert attempts[0]["error"]["status"] in (429, 502) and attempts[1]["error"] is None
        assert attempts[0]["latency_ms"] >= 0
        assert upstreams.a.faulted == 1 and upstreams.b.creates == 1
        # the same job id was the idempotency key on both; one paid upstream job exists
        completed(gw, video["id"])
        if code == 429:  # Retry-After cooled A: the next create goes straight to B
            assert health(gw)["sora-a"]["state"] == "cooling_down"
            assert create(gw).headers["x-vidgate-deployment"] == "sora-b"
            assert upstreams.a.faulted == 1


def test_failover_on_connection_refused_and_connect_timeout(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    with closed_port() as refused, full_backlog() as blackhole:
        for dead in (refused, blackhole):
            cfg = config(upstreams)
            cfg["model_list"][0]["api_base"] = f"{dead}/v1"
            with running_gateway(tmp_path / dead.rsplit(":", 1)[1], cfg, run_poller=False) as gw:
                started = time.monotonic()
                response = create(gw)
                assert response.status_code == 200, response.text
                assert response.headers["x-vidgate-deployment"] == "sora-b"
                assert time.monotonic() - started < 20  # timeout_s (2 s), not the 60 s default
                error = record(gw, response.json()["id"])["attempts"][0]["error"]
                assert error["code"] in ("upstream_error", "upstream_timeout")
                assert dead.rsplit(":", 1)[1] not in error["message"]  # no upstream address


def test_unanswered_create_is_not_retried_elsewhere(upstreams: Upstreams, tmp_path: Path) -> None:
    """Sent but never answered: the upstream may have started a paid job, so no failover."""
    upstreams.a.set(Fault(status=0))
    with gateway(tmp_path, config(upstreams)) as gw:
        response = create(gw)
    assert response.status_code == 504, response.text
    assert "not billed twice" in response.json()["error"]["message"]
    assert upstreams.a.faulted == 1
    assert upstreams.b.creates == 0 and upstreams.kling.creates == 0


def test_unanswered_create_is_resent_to_an_idempotent_upstream(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    """With an upstream that deduplicates by Idempotency-Key, asking again is safe."""
    upstreams.a.set(Fault(status=0, times=1))
    cfg = config(upstreams)
    cfg["model_list"][0]["idempotent_submit"] = True
    with gateway(tmp_path, cfg) as gw:
        response = create(gw)
        assert response.status_code == 200, response.text
        assert response.headers["x-vidgate-deployment"] == "sora-a"
        attempts = record(gw, response.json()["id"])["attempts"]
        assert [a["deployment"] for a in attempts] == ["sora-a", "sora-a"]
        assert attempts[0]["error"]["code"] == "upstream_timeout"
        completed(gw, response.json()["id"])
    assert upstreams.a.creates == 2 and upstreams.b.creates == 0


def test_a_dropped_create_is_resent_to_its_idempotent_upstream_even_when_cooling(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    """The upstream started the task, the answer was lost, and that failure opened A's
    breaker: the same key goes to A again anyway (the only safe place), and gets that task."""
    upstreams.a.set(Fault(drop="after", times=1))
    cfg = config(upstreams, cooldown={"min_requests": 1})
    cfg["model_list"][0]["idempotent_submit"] = True
    sim = upstreams.a.app.state.sim
    tasks = len(sim.jobs)
    with gateway(tmp_path, cfg) as gw:
        response = create(gw)
        assert response.status_code == 200, response.text
        assert response.headers["x-vidgate-deployment"] == "sora-a"
        attempts = record(gw, response.json()["id"])["attempts"]
        assert [a["deployment"] for a in attempts] == ["sora-a", "sora-a"]
        assert attempts[0]["error"]["code"] == "upstream_error"
        assert health(gw)["sora-a"]["state"] == "ok"  # the answer closed the breaker
        completed(gw, response.json()["id"])
    assert upstreams.a.creates == 2 and upstreams.b.creates == 0
    assert len(sim.jobs) == tasks + 1 and response.json()["id"] in sim.idempotency


def test_an_unknown_outcome_stays_unknown_after_an_error_answer(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    """A dropped create (the task was started), then a 500 to the resend: the first may still
    have started a task, so the job stays on A rather than make a second on B."""
    upstreams.a.queue(Fault(drop="after"), openai_error(500, "internal", "server_error"))
    cfg = config(upstreams)
    cfg["model_list"][0]["idempotent_submit"] = True
    tasks = len(upstreams.a.app.state.sim.jobs)
    with gateway(tmp_path, cfg) as gw:
        response = create(gw)
        assert response.status_code == 200, response.text
        assert response.headers["x-vidgate-deployment"] == "sora-a"
        attempts = record(gw, response.json()["id"])["attempts"]
        assert [a["deployment"] for a in attempts] == ["sora-a"] * 3
    assert upstreams.a.creates == 3 and upstreams.b.creates == 0
    assert len(upstreams.a.app.state.sim.jobs) == tasks + 1  # the task of the dropped create


def test_retry_unknown_outcome_opts_into_failover(upstreams: Upstreams, tmp_path: Path) -> None:
    upstreams.a.set(Fault(status=0))
    with gateway(tmp_path, config(upstreams, retry_unknown_outcome=True)) as gw:
        response = create(gw)
    assert response.status_code == 200, response.text
    assert response.headers["x-vidgate-deployment"] == "sora-b"


# --- fallbacks ------------------------------------------------------------------------------


def test_fallback_to_another_provider_translates_parameters(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    upstreams.a.set(openai_error(503, "down", "server_error"))
    upstreams.b.set(openai_error(503, "down", "server_error"))
    with gateway(tmp_path, config(upstreams)) as gw:
        # not a sora length: the group cannot serve it, so the fallback that can is tried,
        # without an attempt (or a cent held) on sora
        response = create(gw, size="1280x720", seconds="10")
        assert response.status_code == 200, response.text
        assert [a["deployment"] for a in record(gw, response.json()["id"])["attempts"]] == [
            "kling-c"
        ]
        assert upstreams.kling.bodies[-1]["duration"] == "10"
        response = create(gw, size="720x1280")
        assert response.status_code == 200, response.text
        assert response.headers["x-vidgate-deployment"] == "kling-c"
        video = response.json()
        assert video["model"] == "kling"  # the group that served it
        assert video["size"] == "720x1280" and video["seconds"] == "5"
        # round the group until both breakers open (2 creates, all failed), then the fallback
        assert [a["deployment"] for a in record(gw, video["id"])["attempts"]] == [
            "sora-a",
            "sora-b",
            "sora-a",
            "sora-b",
            "kling-c",
        ]
        body = upstreams.kling.bodies[-1]
        assert body["model_name"] == "kling-v2-1"
        assert body["aspect_ratio"] == "9:16" and body["duration"] == "5"
        assert body["prompt"] == "a red kite"
        completed(gw, video["id"])


def test_a_request_no_group_can_serve_is_a_400_about_the_requested_model(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    with gateway(tmp_path, config(upstreams)) as gw:
        response = create(gw, seconds="7")  # sora: 4, 8, 12; the kling fallback: 5, 10
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "seconds" and "4, 8, 12" in error["message"]
    assert upstreams.a.creates == upstreams.b.creates == upstreams.kling.creates == 0


def test_fallback_skipped_when_its_model_cannot_serve_the_request(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    upstreams.a.set(openai_error(503, "down", "server_error"))
    upstreams.b.set(openai_error(503, "down", "server_error"))
    with gateway(tmp_path, config(upstreams)) as gw:
        response = create(gw, seconds="12")  # sora-2 can do 12 s, kling-v2-1 cannot
    assert response.status_code == 502, response.text
    assert upstreams.kling.creates == 0


def test_no_failover_or_fallback_on_a_400(upstreams: Upstreams, tmp_path: Path) -> None:
    upstreams.a.set(openai_error(400, "prompt refused", "moderation_blocked", "prompt"))
    with gateway(tmp_path, config(upstreams)) as gw:
        response = create(gw)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "moderation_blocked"
        assert health(gw)["sora-a"]["recent_failures"] == 0  # not the deployment's fault
    assert upstreams.b.creates == 0 and upstreams.kling.creates == 0


def test_auth_failure_returns_at_once(upstreams: Upstreams, tmp_path: Path) -> None:
    upstreams.a.set(openai_error(401, "bad key", "invalid_api_key"))
    with gateway(tmp_path, config(upstreams)) as gw:
        response = create(gw)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_auth_error"
    assert "sk-upstream" not in response.text
    assert upstreams.b.creates == 0


# --- cooldown -------------------------------------------------------------------------------


def test_cooldown_and_recovery(upstreams: Upstreams, tmp_path: Path) -> None:
    cfg = config(upstreams, cooldown={"min_requests": 2, "window_s": 60, "cooldown_s": 1})
    upstreams.a.set(openai_error(503, "down", "server_error"))
    with gateway(tmp_path, cfg) as gw:
        for _ in range(2):
            assert create(gw).headers["x-vidgate-deployment"] == "sora-b"
        state = health(gw)["sora-a"]
        assert state["state"] == "cooling_down" and state["cooling_down_until"] > time.time()
        assert state["healthy"] is False and state["last_error"]["code"] == "upstream_error"
        assert create(gw).headers["x-vidgate-deployment"] == "sora-b"
        assert upstreams.a.faulted == 2  # skipped while cooling: no third call
        upstreams.a.set(None)  # A recovers
        wait_for(lambda: health(gw)["sora-a"]["cooling_down_until"] is None)
        assert create(gw).headers["x-vidgate-deployment"] == "sora-a"  # the probe
        state = health(gw)["sora-a"]
        assert state["state"] == "ok" and state["healthy"] is True
        assert state["latency_ms"] is not None and state["successes"] == 1


def test_a_group_whose_breakers_are_all_open_is_still_tried(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    """Both breakers open: the create goes to the one whose cooldown ends first, not a 429."""
    cfg = config(upstreams, fallbacks=[], cooldown={"min_requests": 2, "cooldown_s": 30})
    upstreams.a.set(openai_error(503, "down", "server_error"))
    upstreams.b.set(openai_error(503, "down", "server_error"))
    with gateway(tmp_path, cfg) as gw:
        failed = create(gw)
        assert failed.status_code == 502, failed.text
        states = health(gw)
        assert {states[d]["state"] for d in ("sora-a", "sora-b")} == {"cooling_down"}
        # A opened first, but its last try (forced past the open breaker) pushed its end back
        assert states["sora-b"]["cooling_down_until"] < states["sora-a"]["cooling_down_until"]
        assert upstreams.a.faulted == 3 and upstreams.b.faulted == 2
        upstreams.a.set(None)
        upstreams.b.set(None)
        response = create(gw)
        assert response.status_code == 200, response.text
        assert response.headers["x-vidgate-deployment"] == "sora-b"
        states = health(gw)
        assert states["sora-b"]["state"] == "ok" and states["sora-a"]["state"] == "cooling_down"
        assert create(gw).headers["x-vidgate-deployment"] == "sora-b"  # A still skipped
    assert upstreams.a.creates == 3


def test_every_deployment_cooling_gives_429_with_retry_after(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    cfg = config(upstreams, fallbacks=[])
    limited = Fault(429, {"error": {"message": "slow", "code": "rate_limit"}}, {"Retry-After": "9"})
    upstreams.a.set(limited)
    upstreams.b.set(limited)
    with gateway(tmp_path, cfg) as gw:
        assert create(gw).status_code == 429
        response = create(gw)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "deployments_busy"
    assert 1 <= int(response.headers["retry-after"]) <= 9
    assert upstreams.a.faulted == 1 and upstreams.b.faulted == 1  # no upstream call the 2nd time


# --- pinning --------------------------------------------------------------------------------


def test_follow_ups_stay_on_the_creating_deployment_in_cooldown(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    with gateway(tmp_path, config(upstreams)) as gw:
        first = create(gw)
        assert first.headers["x-vidgate-deployment"] == "sora-a"
        video_id = first.json()["id"]
        completed(gw, video_id)
        upstreams.a.set(openai_error(503, "down", "server_error"))
        for _ in range(2):
            assert create(gw).headers["x-vidgate-deployment"] == "sora-b"
        assert health(gw)["sora-a"]["state"] == "cooling_down"
        upstreams.a.set(None)
        creates_on_b = upstreams.b.creates
        with gw.http() as http:
            remix = http.post(f"/v1/videos/{video_id}/remix", json={"prompt": "at night"})
            assert remix.status_code == 200, remix.text
            assert remix.headers["x-vidgate-deployment"] == "sora-a"
            assert http.get(f"/v1/videos/{video_id}").headers["x-vidgate-deployment"] == "sora-a"
            assert http.get(f"/v1/videos/{video_id}/content").status_code == 200
        assert upstreams.a.bodies[-1] == {"prompt": "at night"}  # the remix reached A
        assert upstreams.b.creates == creates_on_b
        completed(gw, remix.json()["id"])


def test_removed_deployment_fails_follow_ups_clearly_but_running_jobs_finish(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    cfg = config(upstreams)
    with gateway(tmp_path, cfg) as gw:
        done = create(gw).json()["id"]
        completed(gw, done)
        running = create(gw).json()["id"]
        cfg["model_list"] = cfg["model_list"][1:]  # A removed
        write_config(gw.data_dir, cfg)
        with gw.http() as http:
            reloaded = http.post("/config/reload")
            assert reloaded.status_code == 200, reloaded.text
            assert reloaded.json()["removed"] == ["sora-a"]
            completed(gw, running)  # still polled on A, with A's credentials
            remix = http.post(f"/v1/videos/{done}/remix", json={"prompt": "again"})
            assert remix.status_code == 400
            assert remix.json()["error"]["code"] == "deployment_removed"
        assert create(gw).headers["x-vidgate-deployment"] == "sora-b"


# --- limits ---------------------------------------------------------------------------------


def test_concurrency_limit_saturation_gives_429(upstreams: Upstreams, tmp_path: Path) -> None:
    cfg = config(upstreams, fallbacks=[])
    for entry in cfg["model_list"][:2]:
        entry["max_concurrent_jobs"] = 1
    with running_gateway(tmp_path / "gw", cfg, run_poller=False) as gw:
        assert create(gw).headers["x-vidgate-deployment"] == "sora-a"
        assert create(gw).headers["x-vidgate-deployment"] == "sora-b"
        response = create(gw)  # both hold a running job (nobody polls them to the end)
        assert response.status_code == 429, response.text
        assert response.json()["error"]["code"] == "deployments_busy"
        assert "retry-after" in response.headers
        assert {r["running_jobs"] for r in health(gw).values() if r["model_name"] == "sora"} == {1}
    assert upstreams.a.creates == 1 and upstreams.b.creates == 1


def test_rpm_limit_and_slot_freed_when_a_job_ends(upstreams: Upstreams, tmp_path: Path) -> None:
    cfg = config(upstreams, fallbacks=[])
    cfg["model_list"] = cfg["model_list"][:1]
    cfg["model_list"][0].update(rpm=2, max_concurrent_jobs=1)
    with gateway(tmp_path, cfg) as gw:
        first = create(gw).json()["id"]
        assert create(gw).status_code == 429  # one job in flight
        completed(gw, first)  # ending frees the concurrency slot
        assert create(gw).status_code == 200
        response = create(gw)
        assert response.status_code == 429  # 2 creates this minute
        assert 30 <= int(response.headers["retry-after"]) <= 60


# --- operator surfaces ----------------------------------------------------------------------


def test_health_deployments_needs_the_master_key_and_shows_no_secrets(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    with gateway(tmp_path, config(upstreams)) as gw:
        key = gw.new_key()
        with gw.http(key) as http:
            assert http.get("/health/deployments").status_code == 403
            assert http.post("/config/reload").status_code == 403
            assert http.get("/health").status_code == 200
        with gw.http() as http:
            body = http.get("/health/deployments").text
    assert "sora-a" in body and "kling-c" in body
    for secret in ("sk-upstream", AK, SK, "127.0.0.1"):
        assert secret not in body


def test_bad_reload_keeps_the_running_config(upstreams: Upstreams, tmp_path: Path) -> None:
    cfg = config(upstreams)
    with gateway(tmp_path, cfg) as gw:
        broken = {**cfg, "router": {**cfg["router"], "fallbacks": [{"sora": ["nope"]}]}}
        broken["model_list"] = [
            *cfg["model_list"],
            {"model_name": "x", "provider": "nope", "model": "m"},
        ]
        write_config(gw.data_dir, broken)
        with gw.http() as http:
            response = http.post("/config/reload")
            assert response.status_code == 400
            error = response.json()["error"]
            assert error["code"] == "invalid_config"
            assert "model_list[3].provider: unknown provider 'nope'" in error["message"]
            assert "router.fallbacks[0].sora[0]" in error["message"]
        assert create(gw).headers["x-vidgate-deployment"] == "sora-a"


@contextmanager
def closed_port() -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    yield f"http://127.0.0.1:{port}"


@contextmanager
def full_backlog() -> Iterator[str]:
    """A listener whose accept queue is full: new connections time out in the handshake."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def test_concurrent_creates_never_exceed_the_limits(upstreams: Upstreams, tmp_path: Path) -> None:
    cfg = config(upstreams, fallbacks=[])
    for entry in cfg["model_list"][:2]:
        entry["max_concurrent_jobs"] = 3
    with running_gateway(tmp_path / "gw", cfg, run_poller=False) as gw:

        def one(_: int) -> int:
            return create(gw).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            codes = Counter(pool.map(one, range(20)))
    assert codes == {200: 6, 429: 14}
    assert upstreams.a.creates == 3 and upstreams.b.creates == 3


def test_cost_strategy_prefers_the_cheaper_deployment(upstreams: Upstreams, tmp_path: Path) -> None:
    cfg = config(upstreams, strategy="cost")
    cfg["model_list"][0]["model"] = "sora-2-pro"  # A is dearer per second than B
    cfg["model_list"][1]["weight"] = 1
    with running_gateway(tmp_path / "gw", cfg, run_poller=False) as gw:
        served = {create(gw).headers["x-vidgate-deployment"] for _ in range(10)}
    assert served == {"sora-b"}


def test_least_busy_strategy_spreads_running_jobs(upstreams: Upstreams, tmp_path: Path) -> None:
    cfg = config(upstreams, strategy="least-busy")
    cfg["model_list"][1]["weight"] = 1
    with running_gateway(tmp_path / "gw", cfg, run_poller=False) as gw:
        served = Counter(create(gw).headers["x-vidgate-deployment"] for _ in range(10))
    assert served == {"sora-a": 5, "sora-b": 5}  # jobs never end here: they alternate


def test_fallbacks_respect_the_keys_allowed_models(upstreams: Upstreams, tmp_path: Path) -> None:
    upstreams.a.set(openai_error(503, "down", "server_error"))
    upstreams.b.set(openai_error(503, "down", "server_error"))
    with gateway(tmp_path, config(upstreams)) as gw:
        only_sora = gw.new_key(models=["sora"])
        response = create(gw, key=only_sora)
        assert response.status_code == 502, response.text  # kling is not this key's to use
        assert upstreams.kling.creates == 0
        assert create(gw, key=gw.new_key()).headers["x-vidgate-deployment"] == "kling-c"


def test_running_jobs_keep_their_credentials_across_a_reload(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    cfg = config(upstreams)
    with gateway(tmp_path, cfg) as gw:
        running = create(gw, prompt="[sim:slow] a long one").json()["id"]  # ~3 s upstream
        cfg["model_list"][0]["api_key"] = "sk-rotated-elsewhere"  # A's key changes
        write_config(gw.data_dir, cfg)
        with gw.http() as http:
            reloaded = http.post("/config/reload").json()
        assert reloaded["changed"] == ["sora-a"] and reloaded["removed"] == []
        assert completed(gw, running)["status"] == "completed"  # polled with the old key
        response = create(gw)  # new jobs use the new key, which A's upstream rejects
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_auth_error"
