"""The gateway in front of the Seedance simulator, over real HTTP on loopback.

The simulator plays the Ark API (``/api/v3``); ``app.state.sim`` shows every task it got
(body as sent, headers) and what DELETE did. The gateway is driven with the official openai
SDK and raw httpx; no upstream task id, host or key may reach a client.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image

from tests.support import Gateway, running_gateway, serve, wait_for
from vidgate.providers.seedance.simulator import SimState, SimTask, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "ark-" + "7e57" * 8
BAD_KEY = "ark-" + "0000" * 8
LITE = "doubao-seedance-1-0-lite-t2v-250428"
V15 = "doubao-seedance-1-5-pro-251215"


@dataclass
class Sim:
    url: str
    state: SimState

    def task(self, prompt: str) -> SimTask:
        (task,) = [t for t in self.state.tasks.values() if t.checked.prompt == prompt]
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
        secrets = [KEY, BAD_KEY, sim.url, "cgt-", *sim.state.tasks, *sim.state.deleted]
        return [s for s in secrets for seen in self.seen if s in seen]


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=0.4, queued_seconds=0.3))
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    common = {"provider": "seedance", "api_base": f"{sim.url}/api/v3", "poll_interval_s": 0.1}
    good = {**common, "api_key": "os.environ/SEEDANCE_SIM_KEY"}
    config = {
        "model_list": [
            {**good, "model_name": "lite", "model": LITE},
            {**good, "model_name": "pro15", "model": V15},
            {**good, "model_name": "v20", "model": "doubao-seedance-2-0-260128"},
            {**good, "model_name": "v20-fast", "model": "doubao-seedance-2-0-fast-260128"},
            {**good, "model_name": "byteplus-v20", "model": "dreamina-seedance-2-0-260128"},
            {**common, "model_name": "badkey", "model": LITE, "api_key": BAD_KEY},
        ],
        "default_model": "lite",
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SEEDANCE_SIM_KEY", KEY)
        with running_gateway(tmp_path_factory.mktemp("gw-seedance"), config) as gateway:
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


def png_uri(width: int = 640, height: int = 360) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 200)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def decode(data: bytes) -> tuple[int, int, float]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.width, stream.codec_context.height, frames / 24


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/videos", json=body)


def test_legacy_model_gets_flags_end_to_end(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "a lighthouse at dusk"
    response = create(
        http,
        model="lite",
        prompt=prompt,
        size="640x640",
        seconds="3",
        seed=5,
        metadata={"watermark": False},
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.headers["authorization"] == f"Bearer {KEY}"
    assert task.body == {
        "model": LITE,
        "content": [
            {"type": "text", "text": f"{prompt} --rs 480p --rt 1:1 --dur 3 --seed 5 --wm false"}
        ],
    }
    assert (task.checked.width, task.checked.height, task.checked.seed) == (640, 640, 5)
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    assert (video.size, video.seconds, video.progress) == ("640x640", "3", 100)
    width, height, seconds = decode(client.videos.download_content(video.id).content)
    assert (width, height) == (640, 640) and seconds == pytest.approx(3, abs=0.1)
    # The signed TOS URL was fetched without the deployment's credentials.
    fetched = [e for e in sim.log() if e["path"] == f"/tos/{task.id}/video.mp4"]
    assert fetched and all(e["status_code"] == 200 for e in fetched)


def test_body_model_with_first_and_last_frame(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from first to last frame"
    response = create(
        http,
        model="pro15",
        prompt=prompt,
        size="480x864",
        seconds="4",
        seed=42,
        input_reference={"image_url": png_uri(360, 640)},
        metadata={
            "last_frame": png_uri(400, 700),
            "audio": False,
            "camera_fixed": True,
            "return_last_frame": True,
        },
    )
    assert response.status_code == 200, response.text
    body = sim.task(prompt).body
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
    video = done(client, response.json()["id"])
    assert video.status == "completed" and video.size == "480x864"


def test_audio_defaults_on_and_reference_images_on_byteplus_2_0(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "three references"
    response = create(
        http,
        model="byteplus-v20",
        prompt=prompt,
        size="864x480",
        seconds="4",
        metadata={"reference_images": [png_uri(), png_uri(500, 500), png_uri()]},
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.body["model"] == "dreamina-seedance-2-0-260128"
    assert task.body["generate_audio"] is True
    roles = [c.get("role") for c in task.body["content"]]
    assert roles == [None, "reference_image", "reference_image", "reference_image"]
    assert done(client, response.json()["id"]).status == "completed"


def test_requests_seedance_cannot_take_are_400s_without_an_upstream_call(
    http: httpx.Client, sim: Sim
) -> None:
    before = len(sim.log())
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"model": "v20-fast", "size": "1920x1080"}, "size"),
        ({"model": "lite", "size": "1280x721"}, "size"),
        ({"model": "lite", "seconds": "13"}, "seconds"),
        ({"model": "v20", "seconds": "3"}, "seconds"),
        ({"model": "lite", "input_reference": {"image_url": png_uri()}}, "input_reference"),
        ({"model": "pro15", "metadata": {"reference_images": [png_uri()]}}, None),
        ({"model": "pro15", "metadata": {"last_frame": png_uri()}}, "metadata.last_frame"),
        ({"model": "lite", "metadata": {"audio": True}}, "metadata.audio"),
        ({"model": "lite", "metadata": {"negative_prompt": "blur"}}, None),
        ({"model": "lite", "metadata": {"frames": 121}}, "metadata.frames"),
        ({"model": "v20", "metadata": {"service_tier": "flex"}}, "metadata.service_tier"),
        ({"model": "lite", "prompt": "a fox --dur 12"}, "prompt"),
    ]
    for body, param in cases:
        response = create(http, **({"prompt": "refused"} | body))
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        if param is not None:
            assert error["param"] == param, (body, error)
        else:
            assert error["param"].startswith("metadata."), (body, error)
    assert [e for e in sim.log()[before:] if e["method"] == "POST"] == []


def test_remix_is_unsupported(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    source = create(http, model="lite", prompt="source", size="864x480", seconds="3")
    video_id = source.json()["id"]
    assert done(client, video_id).status == "completed"
    before = len(sim.log())
    remix = http.post(f"/v1/videos/{video_id}/remix", json={"prompt": "again"})
    assert remix.status_code == 400, remix.text
    assert remix.json()["error"]["code"] == "unsupported_operation"
    assert [e for e in sim.log()[before:] if e["method"] == "POST"] == []


def test_delete_cancels_a_queued_task(http: httpx.Client, sim: Sim) -> None:
    prompt = "[sim:slow] cancel me"
    response = create(http, model="lite", prompt=prompt, size="864x480", seconds="3")
    assert response.status_code == 200, response.text
    task_id = sim.task(prompt).id
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert wait_for(lambda: sim.state.deleted.get(task_id)) == "cancelled"
    assert sim.state.status(sim.state.tasks[task_id]) == "cancelled"


def test_delete_of_a_finished_video_deletes_the_task(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "delete when done"
    response = create(http, model="lite", prompt=prompt, size="864x480", seconds="3")
    task_id = sim.task(prompt).id
    assert done(client, response.json()["id"]).status == "completed"
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert wait_for(lambda: sim.state.deleted.get(task_id)) == "deleted"


def test_content_policy_failures(client: openai.OpenAI, http: httpx.Client) -> None:
    response = create(http, model="lite", prompt="[sim:fail] blocked", size="864x480")
    video = done(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked"
    assert "OutputVideoSensitiveContentDetected" in video.error.message
    refused = create(http, model="lite", prompt="[sim:blocked] words", size="864x480")
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("moderation_blocked", "prompt")


def test_expired_task_is_a_failed_job(client: openai.OpenAI, http: httpx.Client) -> None:
    response = create(http, model="lite", prompt="[sim:expire] late", size="864x480")
    video = done(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "expired"


def test_bad_deployment_key_is_an_upstream_auth_error(http: httpx.Client, sim: Sim) -> None:
    response = create(http, model="badkey", prompt="wrong key", size="864x480")
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_auth_error"
    assert sim.log()[-1]["status_code"] == 401


def test_upstream_validation_error_keeps_its_parameter(http: httpx.Client) -> None:
    response = create(
        http,
        model="pro15",
        prompt="tiny image",
        size="1280x720",
        input_reference={"image_url": png_uri(64, 36)},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "input_reference" and "300-6000 px" in error["message"]
    assert "Request id" in error["message"]
