"""The gateway in front of the fal simulator, over real HTTP on loopback.

The simulator plays queue.fal.run; ``app.state.sim`` shows every request it got (model path,
body, headers) and the request log shows which queue URLs the gateway used.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from tests import support
from tests.support import GatewaySetup, Sim
from vidgate.providers.fal.simulator import SimRequest, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "fa1fa1fa-0000-4000-8000-000000000000:" + "7e" * 16
RAY = "fal-ai/luma-dream-machine/ray-2-flash"
SETUP = GatewaySetup(
    provider="fal",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=KEY),
    key=KEY,
    models={
        "ray": RAY,
        "kling-i2v": "fal-ai/kling-video/v2.1/standard/image-to-video",
        "any": {"model": "fal-ai/some-app/v2/text-to-video", "options": {"duration_format": "int"}},
    },
    gateway_config={"settings": {"stale_after_s": 1.0}},
    upstream_ids=lambda state: state.requests,
)


def request_for(sim: Sim, prompt: str) -> SimRequest:
    found: SimRequest = sim.find("requests", lambda r: r.body.get("prompt") == prompt)
    return found


def paths(sim: Sim, item: SimRequest) -> list[tuple[str, str]]:
    """The calls about one request: (method, path)."""
    return [(e["method"], e["path"]) for e in sim.log() if item.id in e["path"]]


def test_create_maps_fields_and_uses_app_path_after_submit(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "a heron in reeds"
    response = support.post_video(
        http, model="ray", prompt=prompt, size="720x960", seconds="5", metadata={"loop": True}
    )
    assert response.status_code == 200, response.text
    item = request_for(sim, prompt)
    assert item.model == RAY and item.headers["authorization"] == f"Key {KEY}"
    assert item.body == {
        "prompt": prompt,
        "duration": "5s",
        "aspect_ratio": "3:4",
        "resolution": "720p",
        "loop": True,
    }
    video = support.finish(client, response.json()["id"])
    assert video.status == "completed", video.error
    app = "/fal-ai/luma-dream-machine/requests"
    calls = paths(sim, item)
    assert ("GET", f"{app}/{item.id}/status") in calls
    assert ("GET", f"{app}/{item.id}") in calls  # the result was fetched and checked
    assert ("GET", f"/files/{item.id}/output.mp4") in calls
    assert not any("ray-2-flash" in path for _, path in calls)
    assert support.video_shape(client.videos.download_content(video.id).content)[:2] == (720, 960)
    assert http.get(f"/v1/videos/{video.id}").status_code == 200  # no upstream id, host, key


def test_a_refused_result_ends_the_job_at_once(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    """fal's COMPLETED with a result answered 422 (its content checker): the job fails with
    fal's reason on the first result fetch, not after repeated failed polls."""
    prompt = "[sim:fail] a refused heron"
    response = support.post_video(http, model="ray", prompt=prompt, size="720x960", seconds="5")
    assert response.status_code == 200, response.text
    video = support.finish(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked" and "content checker" in video.error.message
    item = request_for(sim, prompt)
    result = ("GET", f"/fal-ai/luma-dream-machine/requests/{item.id}")
    assert paths(sim, item).count(result) == 1


def test_image_to_video_sends_a_data_uri(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "waves from a photo"
    response = support.post_form(
        http,
        prompt=prompt,
        model="kling-i2v",
        size="1280x720",
        input_reference=("f.png", support.png_bytes(160, 90), "image/png"),
        metadata={"negative_prompt": "blur", "cfg_scale": 0.5},
    )
    assert response.status_code == 200, response.text
    body = request_for(sim, prompt).body
    assert body["image_url"].startswith("data:image/png;base64,")
    assert (body["duration"], body["negative_prompt"], body["cfg_scale"]) == ("5", "blur", 0.5)
    assert "aspect_ratio" not in body and "resolution" not in body
    missing = support.post_video(http, model="kling-i2v", prompt="no image", size="1280x720")
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "input_reference"


def test_any_model_forwards_metadata(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "any fal model"
    response = support.post_video(
        http, model="any", prompt=prompt, size="854x480", seconds="2", metadata={"fps": 16}
    )
    assert response.status_code == 200, response.text
    seeded = support.post_video(http, model="ray", prompt="no seed here", size="960x540", seed=7)
    assert seeded.status_code == 400 and seeded.json()["error"]["param"] == "seed"
    item = request_for(sim, prompt)
    assert item.model == "fal-ai/some-app/v2/text-to-video" and item.app == "fal-ai/some-app"
    assert item.body == {
        "prompt": prompt,
        "duration": 2,
        "aspect_ratio": "16:9",
        "resolution": "480p",
        "fps": 16,
    }
    assert support.finish(client, response.json()["id"]).status == "completed"


def test_upstream_422_names_the_parameter(http: httpx.Client) -> None:
    response = support.post_video(http, model="any", prompt="bad seed", metadata={"seed": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "seed"
    assert "fal rejected the request" in response.json()["error"]["message"]


def test_completed_with_error_on_status(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    sim.state.config.status_errors = True
    try:
        response = support.post_video(
            http, model="ray", prompt="[sim:fail] status says", size="960x540"
        )
        video = support.finish(client, response.json()["id"])
    finally:
        sim.state.config.status_errors = False
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked"
    item = request_for(sim, "[sim:fail] status says")
    assert ("GET", f"/fal-ai/luma-dream-machine/requests/{item.id}") not in paths(sim, item)


def test_completed_without_video_is_a_failed_job(client: openai.OpenAI, http: httpx.Client) -> None:
    response = support.post_video(http, model="ray", prompt="[sim:no-video] empty", size="960x540")
    video = support.finish(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "upstream_no_output"


def test_delete_while_running_cancels_upstream(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "[sim:slow] cancel me"
    response = support.post_video(http, model="ray", prompt=prompt, size="960x540")
    assert response.status_code == 200
    client.videos.delete(response.json()["id"])
    item = request_for(sim, prompt)
    support.wait_for(lambda: item.cancelled)
    assert ("PUT", f"/fal-ai/luma-dream-machine/requests/{item.id}/cancel") in paths(sim, item)
