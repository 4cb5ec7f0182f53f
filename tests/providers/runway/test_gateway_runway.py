"""The gateway in front of the Runway simulator, over real HTTP on loopback.

The simulator plays api.dev.runwayml.com; ``app.state.sim`` shows every task it got (body,
headers, endpoint) and what DELETE did. The gateway is driven with the official openai SDK
and raw httpx; no upstream task id or secret may reach a client.
"""

from __future__ import annotations

import base64
import io
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.support import Gateway, running_gateway, serve, video_shape, wait_for
from vidgate.providers.runway.simulator import SimState, SimTask, SimulatorConfig, create_app
from vidgate.providers.simkit import mp4_bytes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "key_" + "7e" * 64
BAD_KEY = "key_" + "00" * 64
TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Sim:
    url: str
    state: SimState

    def task(self, prompt: str) -> SimTask:
        (task,) = [t for t in self.state.tasks.values() if t.body.get("promptText") == prompt]
        return task

    def log(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/__sim__/log").json())


@dataclass
class Recorder:
    """Everything the clients got from the gateway, checked for upstream ids and keys."""

    seen: list[str] = field(default_factory=list)

    def record(self, response: Any) -> None:
        response.read()
        text = response.text if "json" in response.headers.get("content-type", "") else ""
        self.seen.append(text + repr(dict(response.headers)) + str(response.url))

    def leaks(self, sim: Sim) -> list[str]:
        secrets = [KEY, BAD_KEY, sim.url, *sim.state.tasks, *sim.state.deleted]
        return [s for s in secrets for seen in self.seen if s in seen]


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=0.4, queued_seconds=0.05))
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    common = {"provider": "runway", "api_base": sim.url, "poll_interval_s": 0.1}
    good = {**common, "api_key": "os.environ/RUNWAY_SIM_SECRET"}
    config = {
        "model_list": [
            {**good, "model_name": "runway-gen45", "model": "gen4.5"},
            {**good, "model_name": "runway-turbo", "model": "gen4_turbo"},
            {**good, "model_name": "runway-veo31", "model": "veo3.1"},
            {**good, "model_name": "runway-aleph", "model": "aleph2"},
            {**common, "model_name": "runway-badkey", "model": "gen4.5", "api_key": BAD_KEY},
        ],
        "default_model": "runway-gen45",
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RUNWAY_SIM_SECRET", KEY)
        with running_gateway(tmp_path_factory.mktemp("gw-runway"), config) as gateway:
            yield gateway


@pytest.fixture
def recorder(sim: Sim) -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    assert recorder.seen, "the test made no gateway calls through the recorded clients"
    assert recorder.leaks(sim) == [], "upstream ids, hosts or keys leaked to a client"


@pytest.fixture
def http(gw: Gateway, recorder: Recorder) -> Iterator[httpx.Client]:
    with gw.http() as client:
        client.event_hooks = {"response": [recorder.record]}
        yield client


@pytest.fixture
def client(gw: Gateway, http: httpx.Client) -> openai.OpenAI:
    return gw.sdk().with_options(http_client=http)  # type: ignore[arg-type]


def done(client: openai.OpenAI, video_id: str) -> Any:
    return client.videos.poll(video_id, poll_interval_ms=50)


def png_uri(width: int = 64, height: int = 36) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 200)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/videos", json=body)


# --- create, poll, archive -----------------------------------------------------------------


def test_text_to_video_end_to_end(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "a lighthouse at dusk, text to video"
    response = create(http, model="runway-gen45", prompt=prompt, size="720x1280", seconds="3")
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
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
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    assert (video.size, video.seconds, video.progress) == ("720x1280", "3", 100)
    width, height, seconds = video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (720, 1280) and seconds == pytest.approx(3, abs=0.2)
    # The signed output URL was fetched without the deployment's credentials.
    fetched = [e for e in sim.log() if e["path"] == f"/outputs/{task.id}/output.mp4"]
    assert fetched and all(e["status_code"] == 200 for e in fetched)


def test_image_to_video_with_first_and_last_frame(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from first to last frame"
    response = create(
        http,
        model="runway-veo31",
        prompt=prompt,
        size="720x1280",
        seconds="4",
        input_reference={"image_url": png_uri()},
        metadata={"last_frame": png_uri(32, 32), "negative_prompt": "blur", "audio": False},
        seed=42,
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.endpoint == "image_to_video"
    images = task.body["promptImage"]
    assert [i["position"] for i in images] == ["first", "last"]
    assert all(i["uri"].startswith("data:image/png;base64,") for i in images)
    assert (task.body["ratio"], task.body["duration"], task.body["seed"]) == ("720:1280", 4, 42)
    assert (task.body["negativePrompt"], task.body["audio"]) == ("blur", False)
    assert done(client, response.json()["id"]).status == "completed"


def test_uploaded_first_frame_is_sent_as_a_data_uri(http: httpx.Client, sim: Sim) -> None:
    prompt = "turbo from an uploaded image"
    out = io.BytesIO()
    Image.new("RGB", (96, 54), (1, 2, 3)).save(out, format="PNG")
    form = [
        ("prompt", (None, prompt)),
        ("model", (None, "runway-turbo")),
        ("size", (None, "1584x672")),
        ("input_reference", ("f.png", out.getvalue(), "image/png")),
        ("metadata", (None, '{"content_moderation": {"public_figure_threshold": "low"}}')),
    ]
    response = http.post("/v1/videos", files=form)
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    (image,) = task.body["promptImage"]
    assert image["position"] == "first" and image["uri"].startswith("data:image/png;base64,")
    assert task.body["contentModeration"] == {"publicFigureThreshold": "low"}
    assert (task.body["ratio"], task.body["duration"]) == ("1584:672", 5)


# --- requests refused before any upstream call -------------------------------------------


def test_requests_runway_cannot_take_are_400s_without_an_upstream_call(
    http: httpx.Client, sim: Sim
) -> None:
    before = len(sim.log())
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
        response = create(http, **({"prompt": "refused"} | body))
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        if param is not None:
            assert error["param"] == param, (body, error)
        else:
            assert error["param"].startswith("metadata."), (body, error)
    message = create(http, prompt="x", model="runway-gen45", size="1104x832").json()["error"]
    assert "1280x720, 720x1280" in message["message"]
    assert [e for e in sim.log()[before:] if e["method"] == "POST"] == []


def test_remix_and_extend_are_unsupported(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    source = create(http, model="runway-gen45", prompt="source for follow-ups", seconds="2")
    video_id = source.json()["id"]
    assert done(client, video_id).status == "completed"
    before = len(sim.log())
    remix = http.post(f"/v1/videos/{video_id}/remix", json={"prompt": "again"})
    form = [
        ("prompt", (None, "more")),
        ("seconds", (None, "2")),
        ("model", (None, "runway-gen45")),
        ("video", ("in.mp4", mp4_bytes(320, 180, 2), "video/mp4")),
    ]
    extend = http.post("/v1/videos/extensions", files=form)
    for response in (remix, extend):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "unsupported_operation"
    assert [e for e in sim.log()[before:] if e["method"] == "POST"] == []


# --- edits -------------------------------------------------------------------------------


def test_edit_of_an_uploaded_video_goes_to_video_to_video(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "make it snow"
    form = [
        ("prompt", (None, prompt)),
        ("model", (None, "runway-aleph")),
        ("video", ("in.mp4", mp4_bytes(320, 180, 2), "video/mp4")),
    ]
    response = http.post("/v1/videos/edits", files=form)
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.endpoint == "video_to_video" and task.model == "aleph2"
    assert task.body["videoUri"].startswith("data:video/mp4;base64,")
    assert "ratio" not in task.body and "duration" not in task.body
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    width, height, seconds = video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (320, 180) and seconds == pytest.approx(2, abs=0.2)


def test_edit_of_a_gateway_video_sends_its_archived_bytes(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    source = create(http, model="runway-gen45", prompt="edit source", seconds="2")
    assert done(client, source.json()["id"]).status == "completed"
    edit = http.post(
        "/v1/videos/edits",
        json={
            "prompt": "edit by id",
            "model": "runway-aleph",
            "video": {"id": source.json()["id"]},
        },
    )
    assert edit.status_code == 200, edit.text
    task = sim.task("edit by id")
    assert task.body["videoUri"].startswith("data:video/mp4;base64,")
    assert (task.width, task.height, task.seconds) == (1280, 720, 2)
    assert done(client, edit.json()["id"]).status == "completed"


# --- deletes, failures, auth --------------------------------------------------------------


def test_delete_cancels_the_running_task(http: httpx.Client, sim: Sim) -> None:
    prompt = "[sim:slow] cancel me"
    response = create(http, model="runway-gen45", prompt=prompt, seconds="2")
    task_id = sim.task(prompt).id
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert wait_for(lambda: sim.state.deleted.get(task_id)) == "cancelled"


def test_delete_of_a_finished_video_deletes_the_task(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "delete when done"
    response = create(http, model="runway-gen45", prompt=prompt, seconds="2")
    task_id = sim.task(prompt).id
    assert done(client, response.json()["id"]).status == "completed"
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert wait_for(lambda: sim.state.deleted.get(task_id)) == "deleted"


def test_content_policy_failure(client: openai.OpenAI, http: httpx.Client) -> None:
    response = create(http, model="runway-gen45", prompt="[sim:fail] blocked", seconds="2")
    video = done(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked"
    assert "SAFETY.INPUT.TEXT" in video.error.message


def test_bad_deployment_key_is_an_upstream_auth_error(http: httpx.Client, sim: Sim) -> None:
    response = create(http, model="runway-badkey", prompt="wrong key", seconds="2")
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_auth_error"
    assert sim.log()[-1]["status_code"] == 401


def test_upstream_validation_error_keeps_its_parameter(http: httpx.Client) -> None:
    noise = Image.frombytes("RGB", (1600, 1600), random.Random(7).randbytes(1600 * 1600 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG", compress_level=0)  # ~7.7 MB: Runway takes 5 MB data URIs
    big = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()
    response = create(
        http, model="runway-turbo", prompt="huge image", input_reference={"image_url": big}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "input_reference" and "5MB" in error["message"]
