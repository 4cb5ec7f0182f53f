"""The gateway in front of the Runway simulator, over real HTTP on loopback.

The simulator plays api.dev.runwayml.com; ``app.state.sim`` shows every task it got (body,
headers, endpoint) and what DELETE did. The gateway is driven with the official openai SDK
and raw httpx; no upstream task id or secret may reach a client.
"""

from __future__ import annotations

import base64
import io
import random

import httpx
import openai
import pytest
from PIL import Image

from tests import support
from tests.support import GatewaySetup, Sim
from vidgate.providers.runway.simulator import SimTask, SimulatorConfig, create_app
from vidgate.providers.simkit import mp4_bytes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "key_" + "7e" * 64
SETUP = GatewaySetup(
    provider="runway",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=KEY),
    key=KEY,
    models={
        "runway-gen45": "gen4.5",
        "runway-turbo": "gen4_turbo",
        "runway-veo31": "veo3.1",
        "runway-aleph": "aleph2",
    },
    upstream_ids=lambda state: [*state.tasks, *state.deleted],
)


def task_for(sim: Sim, prompt: str) -> SimTask:
    task: SimTask = sim.find("tasks", lambda t: t.body.get("promptText") == prompt)
    return task


# --- create, poll, archive -----------------------------------------------------------------


def test_text_to_video_end_to_end(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "a lighthouse at dusk, text to video"
    response = support.post_video(
        http, model="runway-gen45", prompt=prompt, size="720x1280", seconds="3"
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.endpoint == "text_to_video"
    assert task.headers["authorization"] == f"Bearer {KEY}"
    assert task.headers["x-runway-version"] == "2024-11-06"
    assert task.headers["content-type"] == "application/json"
    assert task.body == {
        "model": "gen4.5",
        "promptText": prompt,
        "ratio": "720:1280",
        "duration": 3,
    }
    support.completed(client, response.json()["id"], "720x1280", 3)
    # The signed output URL was fetched without the deployment's credentials.
    fetched = [e for e in sim.log() if e["path"] == f"/outputs/{task.id}/output.mp4"]
    assert fetched and all(e["status_code"] == 200 for e in fetched)


def test_image_to_video_with_first_and_last_frame(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from first to last frame"
    response = support.post_video(
        http,
        model="runway-veo31",
        prompt=prompt,
        size="720x1280",
        seconds="4",
        input_reference={"image_url": support.png_uri(64, 36)},
        metadata={"last_frame": support.png_uri(32, 32), "negative_prompt": "blur", "audio": False},
        seed=42,
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.endpoint == "image_to_video"
    images = task.body["promptImage"]
    assert [i["position"] for i in images] == ["first", "last"]
    assert all(i["uri"].startswith("data:image/png;base64,") for i in images)
    assert (task.body["ratio"], task.body["duration"], task.body["seed"]) == ("720:1280", 4, 42)
    assert (task.body["negativePrompt"], task.body["audio"]) == ("blur", False)
    assert support.finish(client, response.json()["id"]).status == "completed"


def test_uploaded_first_frame_is_sent_as_a_data_uri(http: httpx.Client, sim: Sim) -> None:
    prompt = "turbo from an uploaded image"
    response = support.post_form(
        http,
        prompt=prompt,
        model="runway-turbo",
        size="1584x672",
        input_reference=("f.png", support.png_bytes(96, 54), "image/png"),
        metadata={"content_moderation": {"public_figure_threshold": "low"}},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    (image,) = task.body["promptImage"]
    assert image["position"] == "first" and image["uri"].startswith("data:image/png;base64,")
    assert task.body["contentModeration"] == {"publicFigureThreshold": "low"}
    assert (task.body["ratio"], task.body["duration"]) == ("1584:672", 5)


# --- requests refused before any upstream call -------------------------------------------


def test_requests_runway_cannot_take_are_400s_without_an_upstream_call(
    http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    cases = [
        ({"model": "runway-gen45", "size": "1104x832"}, "size"),
        ({"model": "runway-gen45", "size": "1920x1080"}, "size"),
        ({"model": "runway-turbo"}, "input_reference"),
        ({"model": "runway-veo31", "seconds": "5"}, "seconds"),
        ({"model": "runway-gen45", "metadata": {"audio": True}}, "metadata.audio"),
        ({"model": "runway-gen45", "prompt": "x" * 1001}, "prompt"),
        ({"model": "runway-aleph"}, "model"),
        ({"model": "runway-veo31", "metadata": {"content_moderation": {}}}, None),
    ]
    for body, param in cases:
        error = support.refusal(support.post_video(http, **({"prompt": "refused"} | body)))
        if param is not None:
            assert error["param"] == param, (body, error)
        else:
            assert error["param"].startswith("metadata."), (body, error)
    message = support.post_video(http, prompt="x", model="runway-gen45", size="1104x832").json()[
        "error"
    ]
    assert "1280x720, 720x1280" in message["message"]
    assert sim.posts_since(mark) == []


# --- edits -------------------------------------------------------------------------------


def test_edit_of_an_uploaded_video_goes_to_video_to_video(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "make it snow"
    video = ("in.mp4", mp4_bytes(320, 180, 2), "video/mp4")
    response = support.post_form(
        http, "/v1/videos/edits", prompt=prompt, model="runway-aleph", video=video
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.endpoint == "video_to_video" and task.model == "aleph2"
    assert task.body["videoUri"].startswith("data:video/mp4;base64,")
    assert "ratio" not in task.body and "duration" not in task.body
    support.completed(client, response.json()["id"], "320x180", 2)


def test_edit_of_a_gateway_video_sends_its_archived_bytes(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    source = support.post_video(http, model="runway-gen45", prompt="edit source", seconds="2")
    assert support.finish(client, source.json()["id"]).status == "completed"
    edit = http.post(
        "/v1/videos/edits",
        json={
            "prompt": "edit by id",
            "model": "runway-aleph",
            "video": {"id": source.json()["id"]},
        },
    )
    assert edit.status_code == 200, edit.text
    task = task_for(sim, "edit by id")
    assert task.body["videoUri"].startswith("data:video/mp4;base64,")
    assert (task.width, task.height, task.seconds) == (1280, 720, 2)
    assert support.finish(client, edit.json()["id"]).status == "completed"


# --- deletes, upstream refusals --------------------------------------------------------------


def test_delete_cancels_the_running_task(http: httpx.Client, sim: Sim) -> None:
    prompt = "[sim:slow] cancel me"
    response = support.post_video(http, model="runway-gen45", prompt=prompt, seconds="2")
    task_id = task_for(sim, prompt).id
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert support.wait_for(lambda: sim.state.deleted.get(task_id)) == "cancelled"


def test_delete_of_a_finished_video_deletes_the_task(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "delete when done"
    response = support.post_video(http, model="runway-gen45", prompt=prompt, seconds="2")
    task_id = task_for(sim, prompt).id
    assert support.finish(client, response.json()["id"]).status == "completed"
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert support.wait_for(lambda: sim.state.deleted.get(task_id)) == "deleted"


def test_upstream_validation_error_keeps_its_parameter(http: httpx.Client) -> None:
    noise = Image.frombytes("RGB", (1600, 1600), random.Random(7).randbytes(1600 * 1600 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG", compress_level=0)  # ~7.7 MB: Runway takes 5 MB data URIs
    big = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()
    response = support.post_video(
        http, model="runway-turbo", prompt="huge image", input_reference={"image_url": big}
    )
    error = support.refusal(response)
    assert error["param"] == "input_reference" and "5MB" in error["message"]
