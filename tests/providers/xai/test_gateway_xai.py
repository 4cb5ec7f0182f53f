"""The gateway in front of the xAI simulator, over real HTTP on loopback.

Clients are the official openai SDK and raw httpx; the simulator's state shows exactly what
reached "xAI" (the create body and the ``Authorization`` header of every request).
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import openai
import pytest

from tests import support
from tests.support import GatewaySetup, Sim
from vidgate.providers.registry import PROVIDERS
from vidgate.providers.xai.simulator import SimJob, SimulatorConfig, create_app
from vidgate.routing.config import env_entries

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SIM_KEY = "xai-upstream-key-0123"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SETUP = GatewaySetup(
    provider="xai",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=SIM_KEY),
    path="/v1",
    key=SIM_KEY,
    models={"grok": "grok-imagine-video", "grok-1.5": "grok-imagine-video-1.5"},
    upstream_ids=lambda state: [UUID],  # xAI's request ids
)


def create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = support.post_video(http, **({"model": "grok"} | body))
    assert response.status_code == 200, response.text
    video: dict[str, Any] = response.json()
    return video


def last_job(sim: Sim) -> SimJob:
    job: SimJob = list(sim.state.jobs.values())[-1]
    return job


def test_parameters_and_key_reach_xai_as_documented(
    http: httpx.Client, client: openai.OpenAI, sim: Sim
) -> None:
    video = create(
        http, prompt="a comet", size="1280x720", seconds="3", metadata={"user": "end-user-42"}
    )
    job = last_job(sim)
    assert job.body == {
        "prompt": "a comet",
        "model": "grok-imagine-video",
        "duration": 3,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "user": "end-user-42",
    }
    assert job.authorization == f"Bearer {SIM_KEY}"
    finished = support.finish(client, video["id"])
    assert finished.status == "completed", finished.error
    assert (finished.size, finished.seconds) == ("1280x720", "3")
    assert support.video_shape(client.videos.download_content(finished.id).content)[:2] == (
        1280,
        720,
    )
    polls = [e for e in sim.log() if e["path"] == f"/v1/videos/{job.request_id}"]
    assert polls and all(e["status_code"] == 200 for e in polls)


def test_default_is_8_seconds_at_854x480(http: httpx.Client, sim: Sim) -> None:
    video = create(http, prompt="defaults", model="grok-1.5")
    assert (video["seconds"], video["size"]) == ("8", "854x480")
    body = last_job(sim).body
    assert (body["model"], body["duration"], body["aspect_ratio"], body["resolution"]) == (
        "grok-imagine-video-1.5",
        8,
        "16:9",
        "480p",
    )


def test_uploaded_first_frame_is_sent_as_a_data_uri(client: openai.OpenAI, sim: Sim) -> None:
    image = support.png_bytes(96, 54)
    client.videos.create(
        prompt="animate this",
        model="grok",
        size="720x1280",
        seconds="1",  # type: ignore[arg-type]
        input_reference=("first.png", image, "image/png"),
    )
    body = last_job(sim).body
    assert body["image"] == {"url": "data:image/png;base64," + base64.b64encode(image).decode()}
    assert (body["aspect_ratio"], body["resolution"]) == ("9:16", "720p")


def test_image_url_is_passed_as_is(http: httpx.Client, sim: Sim) -> None:
    create(
        http,
        prompt="animate",
        seconds="1",
        input_reference={"image_url": "https://images.test/cat.png"},
    )
    assert last_job(sim).body["image"] == {"url": "https://images.test/cat.png"}


def test_unknown_metadata_is_rejected_before_any_upstream_call(
    http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    response = http.post(
        "/v1/videos",
        json={"model": "grok", "prompt": "p", "metadata": {"output": {"upload_url": "x"}}},
    )
    assert response.status_code == 400, response.text
    assert sim.writes_since(mark) == []


def test_expired_request_is_a_failed_video(http: httpx.Client, client: openai.OpenAI) -> None:
    video = support.finish(client, create(http, prompt="[sim:expired] x", seconds="1")["id"])
    assert video.status == "failed"
    assert video.error is not None and video.error.code == "expired" and video.error.message


def test_xai_api_key_in_the_environment_registers_the_auto_models() -> None:
    entries = env_entries({"xai": PROVIDERS["xai"]}, {"XAI_API_KEY": "xai-env-key"}, set())
    assert {(e.model_name, e.model, e.api_base, e.api_key) for e in entries} == {
        ("xai/grok-imagine-video", "grok-imagine-video", "https://api.x.ai/v1", "xai-env-key"),
        (
            "xai/grok-imagine-video-1.5",
            "grok-imagine-video-1.5",
            "https://api.x.ai/v1",
            "xai-env-key",
        ),
    }
