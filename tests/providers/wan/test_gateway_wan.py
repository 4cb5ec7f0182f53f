"""The gateway in front of the DashScope simulator, over real HTTP on loopback.

The simulator plays dashscope-intl.aliyuncs.com; ``app.state.sim`` shows every task it got
(body, headers, endpoint) and every cancel. The gateway is driven with the official openai
SDK and raw httpx; no upstream task id, host or key may reach a client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests import support
from tests.support import Gateway, GatewaySetup, Secrets, Sim
from vidgate.providers.wan.simulator import SimTask, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "sk-" + "7e" * 16
SETUP = GatewaySetup(
    provider="wan",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=KEY),
    path="/api/v1",
    key=KEY,
    models={
        "wan-t2v": "wan2.5-t2v-preview",
        "wan-old": "wan2.2-t2v-plus",
        "wan-i2v": "wan2.2-i2v-flash",
        "wan-kf2v": "wan2.2-kf2v-flash",
    },
    upstream_ids=lambda state: state.tasks,
)


@pytest.fixture(scope="module")
def short_lived() -> Iterator[Sim]:
    """Tasks here are forgotten after 0.3 s (DashScope: 24 h), so polls answer UNKNOWN."""
    with support.serve_sim(
        create_app(SimulatorConfig(api_key=KEY, job_seconds=30, task_ttl_s=0.3))
    ) as sim:
        yield sim


@pytest.fixture(scope="module")
def gw(sim: Sim, short_lived: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The shared gateway, plus ``wan-expiring`` on the short-lived simulator."""
    expiring = {"model": "wan2.6-t2v", "api_base": f"{short_lived.url}/api/v1"}
    data_dir = tmp_path_factory.mktemp("gw-wan")
    with SETUP.gateway(sim.url, data_dir, **{"wan-expiring": expiring}) as gateway:
        yield gateway


@pytest.fixture
def leak_secrets(sim: Sim, short_lived: Sim) -> Secrets:
    secrets, more = SETUP.secrets(sim), SETUP.secrets(short_lived)
    return lambda: [*secrets(), *more()]


def task_for(sim: Sim, prompt: str) -> SimTask:
    task: SimTask = sim.find("tasks", lambda t: t.body["input"]["prompt"] == prompt)
    return task


# --- create, poll, archive -----------------------------------------------------------------


def test_text_to_video_end_to_end(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "a tram crossing a snowy bridge"
    response = support.post_video(
        http,
        model="wan-t2v",
        prompt=prompt,
        size="480x832",
        seconds="5",
        seed=42,
        metadata={"negative_prompt": "blurry", "audio": False, "prompt_extend": False},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.endpoint == "video-generation"
    assert task.headers["authorization"] == f"Bearer {KEY}"
    assert task.headers["x-dashscope-async"] == "enable"
    assert task.body == {
        "model": "wan2.5-t2v-preview",
        "input": {"prompt": prompt, "negative_prompt": "blurry"},
        "parameters": {
            "duration": 5,
            "size": "480*832",
            "seed": 42,
            "audio": False,
            "prompt_extend": False,
        },
    }
    support.completed(client, response.json()["id"], "480x832", 5)
    fetched = [e for e in sim.log() if e["path"] == f"/results/{task.id}.mp4"]
    assert fetched and all(e["status_code"] == 200 for e in fetched)
    polls = [e for e in sim.log() if e["path"] == f"/api/v1/tasks/{task.id}"]
    assert polls and all(e["method"] == "GET" for e in polls)


def test_audio_defaults_on_for_wan25_and_is_absent_for_older_models(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    loud = support.post_video(
        http, model="wan-t2v", prompt="with sound", size="1920x1080", seconds="10"
    )
    assert loud.status_code == 200, loud.text
    assert task_for(sim, "with sound").body["parameters"] == {
        "duration": 10,
        "size": "1920*1080",
        "audio": True,
    }
    plain = support.post_video(http, model="wan-old", prompt="plus default")
    assert plain.status_code == 200, plain.text
    assert task_for(sim, "plus default").body["parameters"] == {"duration": 5, "size": "1920*1080"}
    for response in (loud, plain):  # not needed any further: spare rendering 1080p files
        assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200


def test_image_to_video_sends_img_url_and_resolution(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "the flag starts to wave"
    response = support.post_video(
        http,
        model="wan-i2v",
        prompt=prompt,
        size="480x832",
        input_reference={"image_url": support.png_uri(90, 160)},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.body["input"]["img_url"].startswith("data:image/png;base64,")
    assert task.body["parameters"] == {"duration": 5, "resolution": "480P"}
    video = support.finish(client, response.json()["id"])
    assert video.status == "completed", video.error
    width, height, _ = support.video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (480, 832)  # the image's portrait aspect at the 480P tier


def test_first_and_last_frame_go_to_image2video(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from dawn to dusk"
    response = support.post_form(
        http,
        prompt=prompt,
        model="wan-kf2v",
        size="832x480",
        input_reference=("first.png", support.png_bytes(64, 112), "image/png"),
        metadata={"last_frame": "https://img.example/last.png"},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.endpoint == "image2video"
    assert task.body["input"]["first_frame_url"].startswith("data:image/png;base64,")
    assert task.body["input"]["last_frame_url"] == "https://img.example/last.png"
    assert task.body["parameters"] == {"duration": 5, "resolution": "480P"}
    video = support.finish(client, response.json()["id"])
    assert video.status == "completed", video.error
    width, height, _ = support.video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (480, 832)  # the first frame's aspect wins over the size


# --- requests refused before any upstream call -------------------------------------------


def test_requests_dashscope_cannot_take_are_400s_without_an_upstream_call(
    http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"model": "wan-i2v"}, "input_reference"),
        ({"model": "wan-old", "size": "1280x720"}, "size"),
        ({"model": "wan-t2v", "seconds": "8"}, "seconds"),
        ({"model": "wan-old", "metadata": {"audio": True}}, "metadata.audio"),
        ({"model": "wan-old", "metadata": {"audio_url": "https://a/x.mp3"}}, "metadata.audio_url"),
        ({"model": "wan-t2v", "metadata": {"style": "anime"}}, "metadata.style"),
        (
            {"model": "wan-t2v", "input_reference": {"image_url": support.png_uri(64, 36)}},
            "input_reference",
        ),
        ({"model": "wan-t2v", "seed": 2**31}, "seed"),
        ({"model": "wan-old", "prompt": "x" * 801}, "prompt"),
    ]
    for body, param in cases:
        error = support.refusal(support.post_video(http, **({"prompt": "refused"} | body)))
        assert error["param"] == param, (body, error)
    assert sim.posts_since(mark) == []


# --- deletes, expiry, upstream refusals -------------------------------------------------------


def test_delete_cancels_a_pending_task(http: httpx.Client, sim: Sim) -> None:
    prompt = "[sim:slow] cancel me"
    response = support.post_video(http, model="wan-t2v", prompt=prompt, size="832x480")
    task_id = task_for(sim, prompt).id
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert support.wait_for(lambda: (task_id, 200) in sim.state.cancels)
    assert sim.state.status(task_for(sim, prompt)) == "CANCELED"


def test_delete_of_a_finished_video_tries_to_cancel_and_is_refused_quietly(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "delete when done"
    response = support.post_video(http, model="wan-t2v", prompt=prompt, size="480x832")
    task_id = task_for(sim, prompt).id
    assert support.finish(client, response.json()["id"]).status == "completed"
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert support.wait_for(lambda: (task_id, 400) in sim.state.cancels)


def test_expired_task_fails_after_a_few_unknown_polls(
    client: openai.OpenAI, http: httpx.Client, short_lived: Sim
) -> None:
    response = support.post_video(
        http, model="wan-expiring", prompt="forgotten", size="1280x720", seconds="2"
    )
    assert response.status_code == 200, response.text
    video = support.finish(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert "UNKNOWN" in video.error.message
    task_id = task_for(short_lived, "forgotten").id
    polls = [e for e in short_lived.log() if e["path"] == f"/api/v1/tasks/{task_id}"]
    assert len(polls) >= 3  # never failed on a single UNKNOWN


def test_upstream_validation_error_keeps_its_parameter(http: httpx.Client) -> None:
    response = support.post_video(
        http,
        model="wan-i2v",
        prompt="a gif",
        input_reference={"image_url": support.gif_uri()},  # an image, in a type DashScope refuses
    )
    error = support.refusal(response)
    assert error["param"] == "input_reference" and "InvalidParameter" in error["message"]
