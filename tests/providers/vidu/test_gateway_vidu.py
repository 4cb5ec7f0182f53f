"""The gateway in front of the Vidu simulator, over real HTTP on loopback.

The simulator plays api.vidu.com/ent/v2; ``app.state.sim`` shows every task it got (body,
headers, endpoint) and whether it was cancelled. The gateway is driven with the official
openai SDK and raw httpx; no upstream task id, host or key may reach a client.
"""

from __future__ import annotations

import io

import httpx
import openai
import pytest
from PIL import Image

from tests import support
from tests.support import GatewaySetup, Sim
from vidgate.providers.vidu.simulator import SimTask, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "vda_" + "7e" * 24
SETUP = GatewaySetup(
    provider="vidu",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=KEY),
    path="/ent/v2",
    key=KEY,
    models={
        "vidu-q2": "viduq2",
        "vidu-q2-pro": "viduq2-pro",
        "vidu-q3": "viduq3-pro",
        "vidu-q1": "viduq1",
        "vidu-20": "vidu2.0",
    },
    upstream_ids=lambda state: state.tasks,
)


def task_for(sim: Sim, prompt: str) -> SimTask:
    task: SimTask = sim.find("tasks", lambda t: t.checked.prompt == prompt)
    return task


# --- create, poll, archive -----------------------------------------------------------------


def test_text_to_video_end_to_end(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "a lighthouse at dusk, text to video"
    response = support.post_video(
        http, model="vidu-q2", prompt=prompt, size="540x720", seconds="2", seed=7
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.checked.endpoint == "text2video"
    assert task.headers["authorization"] == f"Token {KEY}"
    assert task.body == {
        "model": "viduq2",
        "prompt": prompt,
        "aspect_ratio": "3:4",
        "resolution": "540p",
        "duration": 2,
        "seed": 7,
    }
    video = support.completed(client, response.json()["id"], "540x720", 2)
    thumb = client.videos.download_content(video.id, variant="thumbnail").content
    assert Image.open(io.BytesIO(thumb)).format in ("JPEG", "WEBP", "PNG")
    # Both signed URLs (video and cover) were fetched without the deployment's key.
    fetched = {e["path"] for e in sim.log() if e["path"].startswith(f"/media/{task.id}/")}
    assert fetched == {f"/media/{task.id}/video.mp4", f"/media/{task.id}/cover.jpg"}


def test_image_to_video_inlines_the_upload(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "the astronaut waves"
    response = support.post_form(
        http,
        prompt=prompt,
        model="vidu-q2-pro",
        size="960x540",
        seconds="1",
        input_reference=("f.png", support.png_bytes(96, 54), "image/png"),
        metadata={"movement_amplitude": "small", "audio": True},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.checked.endpoint == "img2video"
    (image,) = task.body["images"]
    assert image.startswith("data:image/png;base64,")
    assert "aspect_ratio" not in task.body
    assert (task.body["resolution"], task.body["duration"]) == ("540p", 1)
    assert (task.body["movement_amplitude"], task.body["audio"]) == ("small", True)
    video = support.finish(client, response.json()["id"])
    assert video.status == "completed", video.error


def test_first_and_last_frame_go_to_start_end(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from first to last frame"
    response = support.post_video(
        http,
        model="vidu-q3",
        prompt=prompt,
        size="960x540",
        seconds="1",
        input_reference={"image_url": support.png_uri(160, 90)},
        metadata={"last_frame": support.png_uri(160, 90), "audio": False, "off_peak": False},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.checked.endpoint == "start-end2video" and task.checked.model == "viduq3-pro"
    assert len(task.body["images"]) == 2 and task.body["audio"] is False
    assert task.body["off_peak"] is False
    assert support.finish(client, response.json()["id"]).status == "completed"


def test_reference_images_go_to_reference2video(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "@1 and @2 share hot pot"
    response = support.post_video(
        http,
        model="vidu-q2",
        prompt=prompt,
        size="540x540",
        seconds="1",
        metadata={
            "reference_images": [support.png_uri(160, 90), support.png_uri(90, 160)],
            "bgm": True,
        },
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.checked.endpoint == "reference2video"
    assert len(task.body["images"]) == 2 and task.body["bgm"] is True
    assert (task.body["aspect_ratio"], task.body["resolution"]) == ("1:1", "540p")
    video = support.finish(client, response.json()["id"])
    assert video.status == "completed" and video.size == "540x540"


# --- requests refused before any upstream call -------------------------------------------


def test_requests_vidu_cannot_take_are_400s_without_an_upstream_call(
    http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    image = {"image_url": support.png_uri(160, 90)}
    cases = [
        ({"model": "vidu-q2-pro"}, "input_reference"),
        ({"model": "vidu-20", "input_reference": image, "seconds": "8",
          "size": "1920x1080"}, "size"),
        ({"model": "vidu-q2", "seconds": "12"}, "seconds"),
        ({"model": "vidu-q1", "size": "1280x720"}, "size"),
        ({"model": "vidu-q2", "input_reference": image}, "input_reference"),
        ({"model": "vidu-q2", "metadata": {"audio": True}}, "metadata.audio"),
        ({"model": "vidu-q2", "metadata": {"callback_url": "https://x"}}, "metadata.callback_url"),
        ({"model": "vidu-q2", "metadata": {"style": "anime"}}, "metadata.style"),
        ({"model": "vidu-q2", "prompt": "x" * 1501}, "prompt"),
    ]  # fmt: skip
    for body, param in cases:
        error = support.refusal(support.post_video(http, **({"prompt": "refused"} | body)))
        assert error["param"] == param, (body, error)
    assert sim.posts_since(mark) == []


# --- cancel, upstream refusals, credits --------------------------------------------------------


def test_delete_cancels_the_running_task(http: httpx.Client, sim: Sim) -> None:
    prompt = "[sim:slow] cancel me"
    response = support.post_video(http, model="vidu-q2", prompt=prompt, seconds="2")
    task = task_for(sim, prompt)
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert support.wait_for(lambda: task.cancelled)
    cancels = [e for e in sim.log() if e["path"] == f"/ent/v2/tasks/{task.id}/cancel"]
    assert [e["status_code"] for e in cancels] == [200]


def test_create_answered_failed_with_http_200_is_a_400(http: httpx.Client) -> None:
    response = support.post_video(
        http, model="vidu-q2", prompt="[sim:create-failed] audit", seconds="2"
    )
    error = support.refusal(response)
    assert (error["code"], error["param"]) == ("moderation_blocked", "prompt")
    assert "AuditSubmitIllegal" in error["message"]


def test_out_of_credits_is_an_upstream_error(http: httpx.Client, sim: Sim) -> None:
    sim.state.config.credit_balance = sim.state.spent
    seen = len(sim.log())
    try:
        response = support.post_video(http, model="vidu-q2", prompt="no credits left", seconds="2")
    finally:
        sim.state.config.credit_balance = None
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_insufficient_credits"
    creates = [e for e in sim.log()[seen:] if e["method"] == "POST"]
    assert len(creates) == 1  # asking an empty account again cannot change its answer


def test_upstream_validation_error_keeps_its_parameter(http: httpx.Client) -> None:
    gif = {"image_url": support.gif_uri()}  # an image, in a format Vidu refuses
    response = support.post_video(http, model="vidu-q2-pro", prompt="a gif", input_reference=gif)
    error = support.refusal(response)
    assert error["param"] == "input_reference" and "ImageFormatInvalid" in error["message"]
