"""The gateway in front of the MiniMax simulator, over real HTTP on loopback.

The simulator plays api.minimax.io (v1 and v2); ``app.state.sim`` shows every task it got
(body, headers) and what DELETE did, and its request log shows the upstream calls in order.
No upstream task id, key or host may reach a client.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import openai
import pytest

from tests import support
from tests.support import Gateway, GatewaySetup, Sim
from vidgate.providers.minimax.simulator import SimTask, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "sk-api-" + "7e" * 32
SETUP = GatewaySetup(
    provider="minimax",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=KEY),
    key=KEY,
    models={
        "hailuo-23": "MiniMax-Hailuo-2.3",
        "hailuo-02": "MiniMax-Hailuo-02",
        "hailuo-fast": "MiniMax-Hailuo-2.3-Fast",
        "s2v": "S2V-01",
        "h3": "MiniMax-H3",
    },
    gateway_config={"router": {"retry_backoff_s": 0}},  # what is asked again, at once
    upstream_ids=lambda state: [
        *state.tasks,
        *state.deleted,
        *(str(t.file_id) for t in state.tasks.values()),
    ],
)


def task_for(sim: Sim, prompt: str) -> SimTask:
    task: SimTask = sim.find("tasks", lambda t: t.prompt == prompt)
    return task


def stored_upstream_id(gw: Gateway, job_id: str) -> str:
    with sqlite3.connect(gw.data_dir / "vidgate.db") as db:
        return str(db.execute("SELECT upstream_id FROM jobs WHERE id=?", (job_id,)).fetchone()[0])


# --- v1 ---------------------------------------------------------------------------------


def test_v1_text_to_video_end_to_end(
    client: openai.OpenAI, http: httpx.Client, sim: Sim, gw: Gateway
) -> None:
    prompt = "a paper boat on a rainy street [Push in]"
    response = support.post_video(
        http,
        model="hailuo-23",
        prompt=prompt,
        size="1366x768",
        seconds="6",
        metadata={"prompt_optimizer": False, "fast_pretreatment": True},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.headers["authorization"] == f"Bearer {KEY}"
    assert task.body == {
        "model": "MiniMax-Hailuo-2.3",
        "prompt": prompt,
        "duration": 6,
        "resolution": "768P",
        "prompt_optimizer": False,
        "fast_pretreatment": True,
    }
    video = support.completed(client, response.json()["id"], "1366x768", 6)
    # query until Success, then files/retrieve once, then the signed URL without auth.
    calls = [
        e for e in sim.log() if task.id in e["query"] or str(task.file_id) in e["path"] + e["query"]
    ]
    paths = [e["path"] for e in calls]
    assert paths[-2:] == ["/v1/files/retrieve", f"/download/{task.file_id}/output.mp4"]
    assert set(paths[:-2]) == {"/v1/query/video_generation"}
    assert all(e["status_code"] == 200 for e in calls)
    # The retrieve step travelled in the moved upstream id the poller saved on the job.
    assert stored_upstream_id(gw, video.id) == f"{task.id}|file:{task.file_id}"


def test_first_and_last_frame_on_hailuo_02(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from the first to the last frame"
    response = support.post_video(
        http,
        model="hailuo-02",
        prompt=prompt,
        size="912x512",
        seconds="10",
        input_reference={"image_url": support.png_uri()},
        metadata={"last_frame": "https://example.com/last.png"},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.body["first_frame_image"].startswith("data:image/png;base64,")
    assert task.body["last_frame_image"] == "https://example.com/last.png"
    assert (task.body["resolution"], task.body["duration"]) == ("512P", 10)
    assert support.finish(client, response.json()["id"]).status == "completed"


def test_uploaded_image_and_subject_reference(http: httpx.Client, sim: Sim) -> None:
    image = ("f.png", support.png_bytes(), "image/png")
    response = support.post_form(
        http, prompt="fast from an upload", model="hailuo-fast", input_reference=image
    )
    assert response.status_code == 200, response.text
    assert (
        task_for(sim, "fast from an upload").body["first_frame_image"].startswith("data:image/png")
    )
    response = support.post_video(
        http,
        model="s2v",
        prompt="the same character walks",
        metadata={"reference_images": ["https://example.com/face.png"]},
    )
    assert response.status_code == 200, response.text
    assert task_for(sim, "the same character walks").body["subject_reference"] == [
        {"type": "character", "image": ["https://example.com/face.png"]}
    ]
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200


def test_combinations_the_model_cannot_make_are_400_before_any_call(
    http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"model": "hailuo-23", "size": "1920x1080", "seconds": "10"}, "seconds"),
        ({"model": "hailuo-fast"}, "input_reference"),
        ({"model": "hailuo-23", "size": "912x512"}, "size"),
        ({"model": "hailuo-23", "metadata": {"last_frame": "https://x.test/l.png"}}, None),
        ({"model": "hailuo-23", "metadata": {"callback_url": "https://x.test/"}}, None),
    ]
    for body, param in cases:
        error = support.refusal(support.post_video(http, prompt="impossible", **body))
        if param is not None:
            assert error["param"] == param
    assert sim.posts_since(mark) == []


def test_business_errors_inside_http_200_are_mapped(http: httpx.Client) -> None:
    expected = {
        "code-2013": (400, "invalid_request"),
        "code-1026": (400, "moderation_blocked"),
        "code-1008": (502, "upstream_insufficient_balance"),
        "code-2061": (502, "upstream_model_not_in_plan"),
        "429": (429, "rate_limit_exceeded"),
    }
    for marker, (status, code) in expected.items():
        response = support.post_video(http, model="hailuo-23", prompt=f"[sim:{marker}] refused")
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        if status == 429:
            assert response.headers["retry-after"] == "10"


# --- v2 (MiniMax-H3) ------------------------------------------------------------------


def test_h3_content_array_end_to_end_and_delete(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "A paper boat drifting down a rainy street"
    response = support.post_video(
        http,
        model="h3",
        prompt=prompt,
        size="768x768",
        seconds="4",
        input_reference={"image_url": support.png_uri()},
        metadata={"reference_images": ["https://example.com/r1.png"], "aigc_watermark": False},
    )
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    assert task.headers["authorization"] == f"Bearer {KEY}"
    content = task.body["content"]
    assert content[0] == {"type": "text", "text": prompt}
    assert [(c["role"], c["image_url"]["url"][:22]) for c in content[1:]] == [
        ("first_frame", "data:image/png;base64,"),
        ("reference_image", "https://example.com/r1"),
    ]
    assert (task.body["ratio"], task.body["resolution"], task.body["duration"]) == (
        "1:1",
        "768P",
        4,
    )
    assert task.body["aigc_watermark"] is False
    video = support.completed(client, response.json()["id"], "768x768", 4)
    client.videos.delete(video.id)
    support.wait_for(lambda: sim.state.deleted.get(task.id) == "deleted")


def test_h3_delete_while_queued_cancels_upstream(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "[sim:slow] cancel me"
    response = support.post_video(http, model="h3", prompt=prompt, size="1366x768", seconds="4")
    assert response.status_code == 200, response.text
    task = task_for(sim, prompt)
    client.videos.delete(response.json()["id"])
    support.wait_for(lambda: sim.state.deleted.get(task.id) == "cancelled")
