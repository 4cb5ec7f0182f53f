"""The gateway in front of the Kling simulator, over real HTTP on loopback.

The simulator plays api-singapore.klingai.com and checks every JWT the gateway signs;
``app.state.sim`` shows each task it got (body, headers, family). The gateway is driven
with the official openai SDK and raw httpx; no upstream task id, host or key may reach a
client.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import openai
import pytest

from tests import support
from tests.support import GatewaySetup, Sim
from vidgate.providers.kling.simulator import SimTask, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AK, SK = "ak-gateway-test-0001", "sk-gateway-test-0002"
SETUP = GatewaySetup(
    provider="kling",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=f"{AK}:{SK}"),
    key=AK,
    common={"options": {"secret_key": "os.environ/KLING_SIM_SECRET"}},
    env={"KLING_SIM_SECRET": SK},
    models={"kling-16": "kling-v1-6", "kling-26": "kling-v2-6", "kling-3": "kling-v3"},
    upstream_ids=lambda state: [SK, *state.tasks],
)


def task_for(sim: Sim, prompt: str) -> SimTask:
    task: SimTask = sim.find("tasks", lambda t: t.body.get("prompt") == prompt)
    return task


def claims(authorization: str) -> dict[str, Any]:
    scheme, token = authorization.split(" ")
    assert scheme == "Bearer"
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


# --- create, poll, archive -------------------------------------------------------------


def test_text2video_end_to_end(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "a paper boat in the rain, text to video"
    response = support.post_video(
        http,
        model="kling-16",
        prompt=prompt,
        size="720x1280",
        seconds="5",
        metadata={"negative_prompt": "blurry", "cfg_scale": 0.7},
    )
    assert response.status_code == 200, response.text
    video_id = response.json()["id"]
    task = task_for(sim, prompt)
    assert task.family == "text2video"
    assert claims(task.headers["authorization"]).keys() == {"iss", "exp", "nbf"}
    assert claims(task.headers["authorization"])["iss"] == AK
    assert task.body == {
        "model_name": "kling-v1-6",
        "model": "kling-v1-6",
        "prompt": prompt,
        "mode": "std",
        "duration": "5",
        "aspect_ratio": "9:16",
        "negative_prompt": "blurry",
        "cfg_scale": 0.7,
        "external_task_id": f"text2video-{video_id}",
    }
    support.completed(client, video_id, "720x1280", 5)
    polls = [e for e in sim.log() if e["path"] == f"/v1/videos/text2video/{task.id}"]
    assert polls and all(e["status_code"] == 200 for e in polls)
    fetched = [e for e in sim.log() if e["path"] == f"/cdn/videos/{task.id}.mp4"]
    assert fetched and all(e["status_code"] == 200 for e in fetched)


def test_image2video_sends_raw_base64_and_polls_its_family(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from the first frame to the last"
    response = support.post_video(
        http,
        model="kling-3",
        prompt=prompt,
        size="1280x720",
        seconds="3",
        input_reference={"image_url": support.png_uri()},
        metadata={"last_frame": "https://cdn.example.com/last.png", "audio": True},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.family == "image2video" and "aspect_ratio" not in task.body
    assert not task.body["image"].startswith("data:")  # raw base64, validated by the sim
    assert task.body["image_tail"] == "https://cdn.example.com/last.png"
    assert (task.body["sound"], task.body["duration"], task.body["mode"]) == ("on", "3", "std")
    video = support.finish(client, response.json()["id"])
    assert video.status == "completed", video.error
    paths = {e["path"] for e in sim.log()}
    assert f"/v1/videos/image2video/{task.id}" in paths
    assert f"/v1/videos/text2video/{task.id}" not in paths


def test_pro_mode_follows_the_size(http: httpx.Client, sim: Sim) -> None:
    prompt = "a full hd lighthouse"
    response = support.post_video(
        http, model="kling-26", prompt=prompt, size="1920x1080", metadata={"mode": "pro"}
    )
    assert response.status_code == 200, response.text
    body = task_for(sim, prompt).body
    assert (body["mode"], body["aspect_ratio"], body["duration"]) == ("pro", "16:9", "5")
    assert body["sound"] == "off"  # kling-v2-6 audio defaults to off
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "kling-16", "seconds": "8"}, "seconds"),
        ({"model": "kling-16", "size": "1024x1024"}, "size"),
        ({"model": "kling-16", "metadata": {"mode": "pro"}}, "metadata.mode"),
        ({"model": "kling-16", "metadata": {"mode": "fast"}}, "metadata.mode"),
        ({"model": "kling-3", "metadata": {"cfg_scale": 0.5}}, "metadata"),
        ({"model": "kling-16", "metadata": {"cfg_scale": 2}}, "metadata.cfg_scale"),
        ({"model": "kling-16", "seed": 7}, "seed"),
        ({"model": "kling-16", "metadata": {"last_frame": "https://a.example/x.png"}}, None),
    ],
)
def test_requests_kling_cannot_take_are_400s_without_an_upstream_call(
    http: httpx.Client, sim: Sim, body: dict[str, Any], param: str | None
) -> None:
    mark = sim.mark()
    error = support.refusal(support.post_video(http, prompt="never sent", **body))
    if param is not None:
        assert error["param"] is not None and error["param"].startswith(param)
    assert sim.posts_since(mark) == []


# --- upstream refusals -------------------------------------------------------------------


def test_upstream_400_keeps_its_parameter(http: httpx.Client, sim: Sim) -> None:
    mark = sim.mark()
    tiny = support.png_uri(120, 120)  # Kling needs at least 300 px
    response = support.post_video(
        http, model="kling-16", prompt="tiny image", input_reference={"image_url": tiny}
    )
    error = support.refusal(response)
    assert error["param"] == "input_reference" and "300px" in error["message"]
    assert sim.posts_since(mark) == [400]
