"""The gateway in front of the Seedance simulator, over real HTTP on loopback.

The simulator plays the Ark API (``/api/v3``); ``app.state.sim`` shows every task it got
(body as sent, headers) and what DELETE did. The gateway is driven with the official openai
SDK and raw httpx; no upstream task id, host or key may reach a client.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests import support
from tests.support import GatewaySetup, Sim
from vidgate.providers.seedance.simulator import SimTask, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "ark-" + "7e57" * 8
LITE = "doubao-seedance-1-0-lite-t2v-250428"
V15 = "doubao-seedance-1-5-pro-251215"
SETUP = GatewaySetup(
    provider="seedance",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=KEY),
    timing={"queued_seconds": 0.3},  # long enough to cancel a queued task
    path="/api/v3",
    key=KEY,
    models={
        "lite": LITE,
        "pro15": V15,
        "v20": "doubao-seedance-2-0-260128",
        "v20-fast": "doubao-seedance-2-0-fast-260128",
        "byteplus-v20": "dreamina-seedance-2-0-260128",
    },
    upstream_ids=lambda state: ["cgt-", *state.tasks, *state.deleted],
)


def task_for(sim: Sim, prompt: str) -> SimTask:
    task: SimTask = sim.find("tasks", lambda t: t.checked.prompt == prompt)
    return task


def test_legacy_model_gets_flags_end_to_end(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "a lighthouse at dusk"
    response = support.post_video(
        http,
        model="lite",
        prompt=prompt,
        size="640x640",
        seconds="3",
        seed=5,
        metadata={"watermark": False},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.headers["authorization"] == f"Bearer {KEY}"
    assert task.body == {
        "model": LITE,
        "content": [
            {"type": "text", "text": f"{prompt} --rs 480p --rt 1:1 --dur 3 --seed 5 --wm false"}
        ],
    }
    assert (task.checked.width, task.checked.height, task.checked.seed) == (640, 640, 5)
    support.completed(client, response.json()["id"], "640x640", 3, tolerance=0.1)
    # The signed TOS URL was fetched without the deployment's credentials.
    fetched = [e for e in sim.log() if e["path"] == f"/tos/{task.id}/video.mp4"]
    assert fetched and all(e["status_code"] == 200 for e in fetched)


def test_body_model_with_first_and_last_frame(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from first to last frame"
    response = support.post_video(
        http,
        model="pro15",
        prompt=prompt,
        size="480x864",
        seconds="4",
        seed=42,
        input_reference={"image_url": support.png_uri(360, 640)},
        metadata={
            "last_frame": support.png_uri(400, 700),
            "audio": False,
            "camera_fixed": True,
            "return_last_frame": True,
        },
    )
    assert response.status_code == 200, response.text
    body = task_for(sim, prompt).body
    content = body.pop("content")
    assert body == {
        "model": V15,
        "resolution": "480p",
        "ratio": "9:16",
        "duration": 4,
        "seed": 42,
        "camera_fixed": True,
        "generate_audio": False,
        "return_last_frame": True,
    }
    assert content[0] == {"type": "text", "text": prompt}
    assert [(c["type"], c["role"]) for c in content[1:]] == [
        ("image_url", "first_frame"),
        ("image_url", "last_frame"),
    ]
    assert all(c["image_url"]["url"].startswith("data:image/png;base64,") for c in content[1:])
    video = support.finish(client, response.json()["id"])
    assert video.status == "completed" and video.size == "480x864"


def test_audio_defaults_on_and_reference_images_on_byteplus_2_0(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "three references"
    response = support.post_video(
        http,
        model="byteplus-v20",
        prompt=prompt,
        size="864x480",
        seconds="4",
        metadata={
            "reference_images": [support.png_uri(), support.png_uri(500, 500), support.png_uri()]
        },
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.body["model"] == "dreamina-seedance-2-0-260128"
    assert task.body["generate_audio"] is True
    roles = [c.get("role") for c in task.body["content"]]
    assert roles == [None, "reference_image", "reference_image", "reference_image"]
    assert support.finish(client, response.json()["id"]).status == "completed"


def test_requests_seedance_cannot_take_are_400s_without_an_upstream_call(
    http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"model": "v20-fast", "size": "1920x1080"}, "size"),
        ({"model": "lite", "size": "1280x721"}, "size"),
        ({"model": "lite", "seconds": "13"}, "seconds"),
        ({"model": "v20", "seconds": "3"}, "seconds"),
        ({"model": "lite", "input_reference": {"image_url": support.png_uri()}}, "input_reference"),
        ({"model": "pro15", "metadata": {"reference_images": [support.png_uri()]}}, None),
        ({"model": "pro15", "metadata": {"last_frame": support.png_uri()}}, "metadata.last_frame"),
        ({"model": "lite", "metadata": {"audio": True}}, "metadata.audio"),
        ({"model": "lite", "metadata": {"negative_prompt": "blur"}}, None),
        ({"model": "lite", "metadata": {"frames": 121}}, "metadata.frames"),
        ({"model": "v20", "metadata": {"service_tier": "flex"}}, "metadata.service_tier"),
        ({"model": "lite", "prompt": "a fox --dur 12"}, "prompt"),
    ]
    for body, param in cases:
        error = support.refusal(support.post_video(http, **({"prompt": "refused"} | body)))
        if param is not None:
            assert error["param"] == param, (body, error)
        else:
            assert error["param"].startswith("metadata."), (body, error)
    assert sim.posts_since(mark) == []


def test_delete_cancels_a_queued_task(http: httpx.Client, sim: Sim) -> None:
    prompt = "[sim:slow] cancel me"
    response = support.post_video(http, model="lite", prompt=prompt, size="864x480", seconds="3")
    assert response.status_code == 200, response.text
    task_id = task_for(sim, prompt).id
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert support.wait_for(lambda: sim.state.deleted.get(task_id)) == "cancelled"
    assert sim.state.status(sim.state.tasks[task_id]) == "cancelled"


def test_delete_of_a_finished_video_deletes_the_task(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "delete when done"
    response = support.post_video(http, model="lite", prompt=prompt, size="864x480", seconds="3")
    task_id = task_for(sim, prompt).id
    assert support.finish(client, response.json()["id"]).status == "completed"
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert support.wait_for(lambda: sim.state.deleted.get(task_id)) == "deleted"


def test_a_prompt_refused_at_create_is_a_400(http: httpx.Client) -> None:
    error = support.refusal(
        support.post_video(http, model="lite", prompt="[sim:blocked] words", size="864x480")
    )
    assert (error["code"], error["param"]) == ("moderation_blocked", "prompt")


def test_expired_task_is_a_failed_job(client: openai.OpenAI, http: httpx.Client) -> None:
    response = support.post_video(http, model="lite", prompt="[sim:expire] late", size="864x480")
    video = support.finish(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "expired"


def test_upstream_validation_error_keeps_its_parameter(http: httpx.Client) -> None:
    response = support.post_video(
        http,
        model="pro15",
        prompt="tiny image",
        size="1280x720",
        input_reference={"image_url": support.png_uri(64, 36)},
    )
    error = support.refusal(response)
    assert error["param"] == "input_reference" and "300-6000 px" in error["message"]
    assert "Request id" in error["message"]
