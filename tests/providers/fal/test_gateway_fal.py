"""The gateway in front of the fal simulator, over real HTTP on loopback.

The simulator plays queue.fal.run; ``app.state.sim`` shows every request it got (model path,
body, headers) and the request log shows which queue URLs the gateway used.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image

from tests.support import Gateway, running_gateway, serve, wait_for
from vidgate.providers.fal.simulator import SimRequest, SimState, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "fa1fa1fa-0000-4000-8000-000000000000:" + "7e" * 16
RAY = "fal-ai/luma-dream-machine/ray-2-flash"


@dataclass
class Sim:
    url: str
    state: SimState

    def request(self, prompt: str) -> SimRequest:
        (item,) = [r for r in self.state.requests.values() if r.body.get("prompt") == prompt]
        return item

    def paths(self, item: SimRequest) -> list[tuple[str, str]]:
        log = httpx.get(f"{self.url}/__sim__/log").json()
        return [(e["method"], e["path"]) for e in log if item.id in e["path"]]


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=0.3, queued_seconds=0.05))
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    common = {"provider": "fal", "api_base": sim.url, "api_key": KEY, "poll_interval_s": 0.1}
    config = {
        "model_list": [
            {**common, "model_name": "ray", "model": RAY},
            {
                **common,
                "model_name": "kling-i2v",
                "model": "fal-ai/kling-video/v2.1/standard/image-to-video",
            },
            {
                **common,
                "model_name": "any",
                "model": "fal-ai/some-app/v2/text-to-video",
                "options": {"duration_format": "int"},
            },
            {**common, "model_name": "badkey", "model": RAY, "api_key": "wrong:key"},
        ],
        "settings": {"stale_after_s": 1.0},
    }
    with running_gateway(tmp_path_factory.mktemp("fal"), config) as gateway:
        yield gateway


@pytest.fixture
def client(gw: Gateway) -> openai.OpenAI:
    return gw.sdk()


@pytest.fixture
def http(gw: Gateway) -> Iterator[httpx.Client]:
    with gw.http() as raw:
        yield raw


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/videos", json=body)


def done(client: openai.OpenAI, video_id: str) -> Any:
    return client.videos.poll(video_id, poll_interval_ms=50)


def test_create_maps_fields_and_uses_app_path_after_submit(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "a heron in reeds"
    response = create(
        http, model="ray", prompt=prompt, size="720x960", seconds="5", metadata={"loop": True}
    )
    assert response.status_code == 200, response.text
    item = sim.request(prompt)
    assert item.model == RAY and item.headers["authorization"] == f"Key {KEY}"
    assert item.body == {
        "prompt": prompt,
        "duration": "5s",
        "aspect_ratio": "3:4",
        "resolution": "720p",
        "loop": True,
    }
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    app = "/fal-ai/luma-dream-machine/requests"
    calls = sim.paths(item)
    assert ("GET", f"{app}/{item.id}/status") in calls
    assert ("GET", f"{app}/{item.id}") in calls  # the result was fetched and checked
    assert ("GET", f"/files/{item.id}/output.mp4") in calls
    assert not any("ray-2-flash" in path for _, path in calls)
    with av.open(io.BytesIO(client.videos.download_content(video.id).content)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (720, 960)
    text = http.get(f"/v1/videos/{video.id}").text
    assert item.id not in text and sim.url not in text and KEY not in text


def test_image_to_video_sends_a_data_uri(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "waves from a photo"
    out = io.BytesIO()
    Image.new("RGB", (160, 90), (1, 2, 3)).save(out, format="PNG")
    form = [
        ("prompt", (None, prompt)),
        ("model", (None, "kling-i2v")),
        ("size", (None, "1280x720")),
        ("input_reference", ("f.png", out.getvalue(), "image/png")),
        ("metadata", (None, '{"negative_prompt": "blur", "cfg_scale": 0.5}')),
    ]
    response = http.post("/v1/videos", files=form)
    assert response.status_code == 200, response.text
    body = sim.request(prompt).body
    assert body["image_url"].startswith("data:image/png;base64,")
    assert (body["duration"], body["negative_prompt"], body["cfg_scale"]) == ("5", "blur", 0.5)
    assert "aspect_ratio" not in body and "resolution" not in body
    missing = create(http, model="kling-i2v", prompt="no image", size="1280x720")
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "input_reference"


def test_any_model_forwards_metadata(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "any fal model"
    response = create(
        http, model="any", prompt=prompt, size="854x480", seconds="2", metadata={"fps": 16}
    )
    assert response.status_code == 200, response.text
    seeded = create(http, model="ray", prompt="no seed here", size="960x540", seed=7)
    assert seeded.status_code == 400 and seeded.json()["error"]["param"] == "seed"
    item = sim.request(prompt)
    assert item.model == "fal-ai/some-app/v2/text-to-video" and item.app == "fal-ai/some-app"
    assert item.body == {
        "prompt": prompt,
        "duration": 2,
        "aspect_ratio": "16:9",
        "resolution": "480p",
        "fps": 16,
    }
    assert done(client, response.json()["id"]).status == "completed"


def test_upstream_422_names_the_parameter(http: httpx.Client) -> None:
    response = create(http, model="any", prompt="bad seed", metadata={"seed": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "seed"
    assert "fal rejected the request" in response.json()["error"]["message"]


def test_completed_with_refused_result_is_a_failed_job(
    client: openai.OpenAI, http: httpx.Client
) -> None:
    response = create(http, model="ray", prompt="[sim:fail] blocked", size="960x540")
    video = done(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked" and "content checker" in video.error.message


def test_completed_with_error_on_status(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    sim.state.config.status_errors = True
    try:
        response = create(http, model="ray", prompt="[sim:fail] status says", size="960x540")
        video = done(client, response.json()["id"])
    finally:
        sim.state.config.status_errors = False
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked"
    item = sim.request("[sim:fail] status says")
    assert ("GET", f"/fal-ai/luma-dream-machine/requests/{item.id}") not in sim.paths(item)


def test_completed_without_video_is_a_failed_job(client: openai.OpenAI, http: httpx.Client) -> None:
    response = create(http, model="ray", prompt="[sim:no-video] empty", size="960x540")
    video = done(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "upstream_no_output"


def test_delete_while_running_cancels_upstream(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "[sim:slow] cancel me"
    response = create(http, model="ray", prompt=prompt, size="960x540")
    assert response.status_code == 200
    client.videos.delete(response.json()["id"])
    item = sim.request(prompt)
    wait_for(lambda: item.cancelled)
    assert ("PUT", f"/fal-ai/luma-dream-machine/requests/{item.id}/cancel") in sim.paths(item)


def test_bad_key_is_an_upstream_auth_error(http: httpx.Client) -> None:
    response = create(http, model="badkey", prompt="x", size="960x540")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_auth_error"
    assert "wrong" not in response.text


def test_remix_is_refused_before_any_call(http: httpx.Client, sim: Sim) -> None:
    before = len(httpx.get(f"{sim.url}/__sim__/log").json())
    response = http.post("/v1/videos/video_" + "0" * 32 + "/remix", json={"prompt": "again"})
    assert response.status_code in (400, 404)
    assert len(httpx.get(f"{sim.url}/__sim__/log").json()) == before
