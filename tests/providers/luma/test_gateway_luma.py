"""The gateway in front of the Luma simulator, over real HTTP on loopback.

The official openai SDK and raw httpx drive the gateway; the simulator's state shows what
reached Luma (each generation keeps the request body it was created with) and its log
shows every call, including the unauthenticated CDN downloads.
"""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests import support
from tests.support import Gateway, GatewaySetup, Sim
from vidgate.providers.luma.simulator import SimGeneration, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SIM_KEY = "luma-upstream-key"
API = "/dream-machine/v1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SETUP = GatewaySetup(
    provider="luma",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=SIM_KEY),
    path=API,
    key=SIM_KEY,
    models={"flash": "ray-flash-2", "legacy": "ray-1-6"},
    upstream_ids=lambda state: [UUID],  # Luma's generation ids
)


@pytest.fixture(scope="module")
def finished(gw: Gateway) -> Any:
    """One completed 960x540, 5 s video (shared: rendering takes a moment)."""
    video = gw.sdk().videos.create_and_poll(
        prompt="shared source", size="960x540", seconds="5", poll_interval_ms=50
    )
    assert video.status == "completed", video.error
    return video


def generation(sim: Sim, prompt: str) -> SimGeneration:
    found: SimGeneration = sim.find("generations", lambda g: g.request["prompt"] == prompt)
    return found


def unique(prompt: str) -> str:
    return f"{prompt} {uuid.uuid4().hex[:8]}"


def test_parameters_reach_luma_converted(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = unique("tall loop")
    body = {
        "model": "flash",
        "prompt": prompt,
        "size": "720x1280",
        "seconds": "9",
        "input_reference": {"image_url": "https://img.example/first.jpg"},
        "metadata": {
            "loop": True,
            "concepts": ["dolly_zoom"],
            "last_frame": "https://img.example/last.jpg",
        },
    }
    response = http.post("/v1/videos", json=body)
    assert response.status_code == 200, response.text
    sent = generation(sim, prompt).request
    assert sent == {
        "generation_type": "video",
        "model": "ray-flash-2",
        "prompt": prompt,
        "aspect_ratio": "9:16",
        "resolution": "720p",
        "duration": "9s",
        "loop": True,
        "concepts": [{"key": "dolly_zoom"}],
        "keyframes": {
            "frame0": {"type": "image", "url": "https://img.example/first.jpg"},
            "frame1": {"type": "image", "url": "https://img.example/last.jpg"},
        },
    }
    client.videos.delete(response.json()["id"])


def test_legacy_model_gets_no_duration_or_resolution(client: openai.OpenAI, sim: Sim) -> None:
    prompt = unique("old model")
    video = client.videos.create(model="legacy", prompt=prompt, size="720x720")
    sent = generation(sim, prompt).request
    assert sent["model"] == "ray-1-6" and sent["aspect_ratio"] == "1:1"
    assert "duration" not in sent and "resolution" not in sent
    client.videos.delete(video.id)


def test_video_and_thumbnail_come_from_the_cdn(
    client: openai.OpenAI, sim: Sim, finished: Any
) -> None:
    assert finished.size == "960x540" and finished.seconds == "5" and finished.progress == 100
    width, height, seconds = support.video_shape(
        client.videos.download_content(finished.id).content
    )
    assert (width, height) == (960, 540) and abs(seconds - 5) <= 0.5
    thumbnail = client.videos.download_content(finished.id, variant="thumbnail").content
    image = Image.open(io.BytesIO(thumbnail))
    assert image.format == "JPEG" and image.size == (960, 540)  # Luma's own, not vidgate's
    upstream = generation(sim, "shared source").id
    cdn = {(e["path"], e["status_code"]) for e in sim.log() if e["path"].startswith("/cdn/")}
    assert {(f"/cdn/{upstream}/video.mp4", 200), (f"/cdn/{upstream}/thumbnail.jpg", 200)} <= cdn


def test_extend_uses_the_generation_keyframe(
    client: openai.OpenAI, http: httpx.Client, sim: Sim, finished: Any
) -> None:
    prompt = unique("and onwards")
    body = {"prompt": prompt, "seconds": "5", "video": {"id": finished.id}}
    response = http.post("/v1/videos/extensions", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["seconds"] == "10" and response.json()["size"] == "960x540"
    source = generation(sim, "shared source").id
    sent = generation(sim, prompt).request
    assert sent["keyframes"] == {"frame0": {"type": "generation", "id": source}}
    assert (sent["aspect_ratio"], sent["resolution"], sent["duration"]) == ("16:9", "540p", "5s")
    video = support.finish(client, response.json()["id"])
    assert video.status == "completed", video.error
    width, height, seconds = support.video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (960, 540) and abs(seconds - 10) <= 0.5


def test_extending_an_upload_is_a_clear_400(client: openai.OpenAI, sim: Sim, finished: Any) -> None:
    data = client.videos.download_content(finished.id).content
    before = len(sim.log())
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.videos.extend(prompt="more", seconds="5", video=("in.mp4", data, "video/mp4"))
    error = excinfo.value.body
    assert isinstance(error, dict) and error["param"] == "video"
    assert "same Luma deployment" in error["message"]
    assert not [e for e in sim.log()[before:] if e["method"] == "POST"]


def test_image_uploads_and_data_urls_are_refused(http: httpx.Client, sim: Sim) -> None:
    before = len(sim.log())
    upload = http.post(
        "/v1/videos",
        files=[
            ("prompt", (None, "from a file")),
            (
                "input_reference",
                ("first.png", support.png_bytes(64, 64), "image/png"),
            ),  # a real image
        ],
    )
    data_url = {"image_url": support.png_uri(64, 64)}
    inline = http.post("/v1/videos", json={"prompt": "inline", "input_reference": data_url})
    for response in (upload, inline):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == "input_reference" and "https image URL" in error["message"]
    assert not [e for e in sim.log()[before:] if e["method"] == "POST"]


def test_upstream_400_keeps_the_message_but_masks_ids(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    source = client.videos.create_and_poll(
        prompt="gone upstream", size="960x540", poll_interval_ms=50
    )
    assert source.status == "completed"
    del sim.state.generations[generation(sim, "gone upstream").id]
    body = {"prompt": unique("extend the gone"), "seconds": "5", "video": {"id": source.id}}
    response = http.post("/v1/videos/extensions", json=body)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "not found" in message and "<upstream id>" in message
    assert not UUID.search(response.text) and sim.url not in response.text


def test_delete_deletes_the_generation(client: openai.OpenAI, sim: Sim) -> None:
    prompt = unique("to delete")
    video = client.videos.create(prompt=prompt, size="960x540")
    upstream = generation(sim, prompt).id
    client.videos.delete(video.id)
    call = ("DELETE", f"{API}/generations/{upstream}", 204)
    support.wait_for(
        lambda: call in [(e["method"], e["path"], e["status_code"]) for e in sim.log()]
    )
    assert upstream not in sim.state.generations
