"""The gateway in front of the Azure simulator, both APIs, over real HTTP on loopback.

One simulated Azure resource holds a Sora 2 deployment (v1 API), a Sora 1 deployment (legacy
jobs API) and a custom-named Sora 2 deployment; the gateway serves each as its own model.
The simulator's state and request log show what reached the upstream.
"""

from __future__ import annotations

import io
from typing import Any

import openai
import pytest
from PIL import Image

from tests import support
from tests.support import Gateway, GatewaySetup, Sim
from vidgate.providers.azure.simulator import SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "azure-upstream-key-0123456789"
JOBS = "/openai/v1/video/generations"
SETUP = GatewaySetup(
    provider="azure",
    simulator=create_app,
    sim_config=SimulatorConfig(
        api_key=KEY, deployments={"sora-2": "sora-2", "sora": "sora", "video-prod": "sora-2"}
    ),
    key=KEY,
    models={
        "sora-2": {"model": "sora-2", "options": {"api": "v1"}},
        "sora-1": {"model": "sora", "options": {"api": "jobs"}},
        "custom": {"model": "video-prod", "options": {"base_model": "sora-2"}},
        "misconfigured": "sora",
    },
)


def finished(gw: Gateway, video_id: str) -> Any:
    return support.finish(gw.sdk(), video_id)


def upstream_job(sim: Sim, prompt: str) -> Any:
    return sim.find("jobs", lambda j: j.prompt == prompt)


def is_image(data: bytes) -> bool:
    return Image.open(io.BytesIO(data)).format in ("WEBP", "JPEG", "PNG")


# --- v1 API ----------------------------------------------------------------------------


def test_v1_create_uses_api_key_and_deployment_name(gw: Gateway, sim: Sim) -> None:
    mark = sim.mark()
    seen_before = len(sim.state.auth_seen)
    client = gw.sdk()
    video = finished(gw, client.videos.create(model="sora-2", prompt="v1 fox", size="1280x720").id)
    assert video.status == "completed" and video.progress == 100
    assert support.video_shape(client.videos.download_content(video.id).content)[:2] == (1280, 720)
    assert is_image(client.videos.download_content(video.id, variant="thumbnail").content)
    job = upstream_job(sim, "v1 fox")
    assert (job.api, job.deployment, job.seconds) == ("v1", "sora-2", 4)
    calls = sim.since(mark)
    assert calls[0]["method"] == "POST" and calls[0]["path"] == "/openai/v1/videos"
    assert calls[0]["query"] == ""  # the v1 API needs no api-version
    contents = [c for c in calls if c["path"].endswith("/content")]
    assert contents and all(c["query"] == "variant=video" for c in contents)
    auth = sim.state.auth_seen[seen_before:]
    assert auth and all(a["api-key"] == KEY and a["authorization"] is None for a in auth)


def test_v1_remix_and_delete_reach_the_upstream(gw: Gateway, sim: Sim) -> None:
    client = gw.sdk()
    source = finished(gw, client.videos.create(model="sora-2", prompt="v1 source").id)
    upstream_id = upstream_job(sim, "v1 source").id
    mark = sim.mark()
    remix = finished(gw, client.videos.remix(source.id, prompt="v1 remix").id)
    assert remix.status == "completed" and remix.remixed_from_video_id == source.id
    assert upstream_job(sim, "v1 remix").remixed_from == upstream_id
    assert any(c["path"] == f"/openai/v1/videos/{upstream_id}/remix" for c in sim.since(mark))
    client.videos.delete(source.id)
    support.wait_for(lambda: upstream_id not in sim.state.jobs)
    deletes = [c for c in sim.log() if c["method"] == "DELETE"]
    assert any(c["path"] == f"/openai/v1/videos/{upstream_id}" for c in deletes)


def test_custom_deployment_is_checked_against_its_base_model(gw: Gateway, sim: Sim) -> None:
    mark = sim.mark()
    with gw.http() as http:
        response = http.post(
            "/v1/videos", json={"model": "custom", "prompt": "too long", "seconds": "16"}
        )
    assert response.status_code == 400 and response.json()["error"]["param"] == "seconds"
    assert sim.since(mark) == []
    video = finished(gw, gw.sdk().videos.create(model="custom", prompt="custom ok").id)
    assert video.status == "completed"
    assert upstream_job(sim, "custom ok").deployment == "video-prod"


def test_misconfigured_deployment_says_how_to_fix_it(gw: Gateway, sim: Sim) -> None:
    mark = sim.mark()
    with gw.http() as http:
        response = http.post("/v1/videos", json={"model": "misconfigured", "prompt": "x"})
    assert response.status_code == 500 and "options.api: jobs" in response.text
    assert sim.since(mark) == []


# --- legacy jobs API -------------------------------------------------------------------


def test_jobs_end_to_end(gw: Gateway, sim: Sim) -> None:
    mark = sim.mark()
    client = gw.sdk()
    created = client.videos.create(
        model="sora-1",
        prompt="jobs rocket",
        size="480x854",  # type: ignore[arg-type]
        seconds="3",  # type: ignore[arg-type]
    )
    video = support.completed(client, created.id, "480x854", 3)
    assert is_image(client.videos.download_content(video.id, variant="thumbnail").content)
    job = upstream_job(sim, "jobs rocket")
    assert (job.api, job.deployment, job.width, job.height, job.seconds, job.n_variants) == (
        "jobs",
        "sora",
        480,
        854,
        3,
        1,
    )
    calls = sim.since(mark)
    create_call = calls[0]
    assert create_call["path"] == f"{JOBS}/jobs" and create_call["status_code"] == 201
    assert all(c["query"].startswith("api-version=preview") for c in calls)
    gen = job.generations[0]
    fetched = {c["path"] for c in calls}
    assert f"{JOBS}/{gen}/content/video" in fetched
    assert f"{JOBS}/{gen}/content/thumbnail" in fetched
    client.videos.delete(video.id)
    support.wait_for(lambda: job.id not in sim.state.jobs)
    assert any(
        c["method"] == "DELETE" and c["path"] == f"{JOBS}/jobs/{job.id}" and c["status_code"] == 204
        for c in sim.log()
    )


def test_jobs_image_to_video_is_multipart(gw: Gateway, sim: Sim) -> None:
    created = gw.sdk().videos.create(
        model="sora-1",
        prompt="jobs image",
        size="480x480",  # type: ignore[arg-type]
        seconds="1",  # type: ignore[arg-type]
        input_reference=("first.png", support.png_bytes(48, 48), "image/png"),
    )
    assert finished(gw, created.id).status == "completed"
    assert upstream_job(sim, "jobs image").width == 480


def test_jobs_failures_and_refusals(gw: Gateway) -> None:
    failed = finished(gw, gw.sdk().videos.create(model="sora-1", prompt="[sim:fail] jobs").id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "output_moderation"
    with gw.http() as http:
        refused = http.post("/v1/videos", json={"model": "sora-1", "prompt": "[sim:policy] x"})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "content_policy_violation"
        limited = http.post("/v1/videos", json={"model": "sora-1", "prompt": "[sim:429] x"})
        assert limited.status_code == 429 and "retry-after" in limited.headers


def test_jobs_poll_faults_do_not_fail(gw: Gateway) -> None:
    client = gw.sdk()
    prompts = ("[sim:malformed] j", "[sim:poll-429] j", "[sim:unknown-status] j")
    created = [
        client.videos.create(model="sora-1", prompt=p, size="480x480", seconds="1").id  # type: ignore[arg-type]
        for p in prompts
    ]
    assert [finished(gw, video_id).status for video_id in created] == ["completed"] * 3


def test_jobs_has_no_remix_and_sora_2_sizes_are_checked(gw: Gateway) -> None:
    client = gw.sdk()
    base = client.videos.create(model="sora-1", prompt="jobs base", size="480x480", seconds="1")  # type: ignore[arg-type]
    source = finished(gw, base.id)
    with pytest.raises(openai.BadRequestError):
        client.videos.remix(source.id, prompt="nope")
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(model="sora-2", prompt="square", size="720x720")  # type: ignore[arg-type]
    assert caught.value.param == "size"
