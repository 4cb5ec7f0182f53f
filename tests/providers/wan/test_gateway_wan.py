"""The gateway in front of the DashScope simulator, over real HTTP on loopback.

The simulator plays dashscope-intl.aliyuncs.com; ``app.state.sim`` shows every task it got
(body, headers, endpoint) and every cancel. The gateway is driven with the official openai
SDK and raw httpx; no upstream task id, host or key may reach a client.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.support import Gateway, running_gateway, serve, video_shape, wait_for
from vidgate.providers.wan.simulator import SimState, SimTask, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "sk-" + "7e" * 16
BAD_KEY = "sk-" + "00" * 16


@dataclass
class Sim:
    url: str
    state: SimState

    def task(self, prompt: str) -> SimTask:
        (task,) = [t for t in self.state.tasks.values() if t.body["input"]["prompt"] == prompt]
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

    def leaks(self, sims: list[Sim]) -> list[str]:
        secrets = [KEY, BAD_KEY]
        for sim in sims:
            secrets += [sim.url.removeprefix("http://"), *sim.state.tasks]
        return [s for s in secrets for seen in self.seen if s in seen]


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=0.4, queued_seconds=0.05))
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def short_lived() -> Iterator[Sim]:
    """Tasks here are forgotten after 0.3 s (DashScope: 24 h), so polls answer UNKNOWN."""
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=30, task_ttl_s=0.3))
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def gw(sim: Sim, short_lived: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    common = {"provider": "wan", "api_base": f"{sim.url}/api/v1", "poll_interval_s": 0.1}
    good = {**common, "api_key": "os.environ/WAN_SIM_KEY"}
    config = {
        "model_list": [
            {**good, "model_name": "wan-t2v", "model": "wan2.5-t2v-preview"},
            {**good, "model_name": "wan-old", "model": "wan2.2-t2v-plus"},
            {**good, "model_name": "wan-i2v", "model": "wan2.2-i2v-flash"},
            {**good, "model_name": "wan-kf2v", "model": "wan2.2-kf2v-flash"},
            {**common, "model_name": "wan-badkey", "model": "wan2.6-t2v", "api_key": BAD_KEY},
            {
                **good,
                "model_name": "wan-expiring",
                "model": "wan2.6-t2v",
                "api_base": f"{short_lived.url}/api/v1",
            },
        ],
        "default_model": "wan-t2v",
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WAN_SIM_KEY", KEY)
        with running_gateway(tmp_path_factory.mktemp("gw-wan"), config) as gateway:
            yield gateway


@pytest.fixture
def recorder(sim: Sim, short_lived: Sim) -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    assert recorder.seen, "the test made no gateway calls through the recorded clients"
    assert recorder.leaks([sim, short_lived]) == [], "upstream ids, hosts or keys leaked"


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


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 200)).save(out, format="PNG")
    return out.getvalue()


def png_uri(width: int = 64, height: int = 36) -> str:
    return "data:image/png;base64," + base64.b64encode(png(width, height)).decode()


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/videos", json=body)


# --- create, poll, archive -----------------------------------------------------------------


def test_text_to_video_end_to_end(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "a tram crossing a snowy bridge"
    response = create(
        http,
        model="wan-t2v",
        prompt=prompt,
        size="480x832",
        seconds="5",
        seed=42,
        metadata={"negative_prompt": "blurry", "audio": False, "prompt_extend": False},
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
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
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    assert (video.size, video.seconds, video.progress) == ("480x832", "5", 100)
    width, height, seconds = video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (480, 832) and seconds == pytest.approx(5, abs=0.2)
    fetched = [e for e in sim.log() if e["path"] == f"/results/{task.id}.mp4"]
    assert fetched and all(e["status_code"] == 200 for e in fetched)
    polls = [e for e in sim.log() if e["path"] == f"/api/v1/tasks/{task.id}"]
    assert polls and all(e["method"] == "GET" for e in polls)


def test_audio_defaults_on_for_wan25_and_is_absent_for_older_models(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    loud = create(http, model="wan-t2v", prompt="with sound", size="1920x1080", seconds="10")
    assert loud.status_code == 200, loud.text
    assert sim.task("with sound").body["parameters"] == {
        "duration": 10,
        "size": "1920*1080",
        "audio": True,
    }
    plain = create(http, model="wan-old", prompt="plus default")
    assert plain.status_code == 200, plain.text
    assert sim.task("plus default").body["parameters"] == {"duration": 5, "size": "1920*1080"}
    for response in (loud, plain):  # not needed any further: spare rendering 1080p files
        assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200


def test_image_to_video_sends_img_url_and_resolution(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "the flag starts to wave"
    response = create(
        http,
        model="wan-i2v",
        prompt=prompt,
        size="480x832",
        input_reference={"image_url": png_uri(90, 160)},
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.body["input"]["img_url"].startswith("data:image/png;base64,")
    assert task.body["parameters"] == {"duration": 5, "resolution": "480P"}
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    width, height, _ = video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (480, 832)  # the image's portrait aspect at the 480P tier


def test_first_and_last_frame_go_to_image2video(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from dawn to dusk"
    form: Any = [
        ("prompt", (None, prompt)),
        ("model", (None, "wan-kf2v")),
        ("size", (None, "832x480")),
        ("input_reference", ("first.png", png(64, 112), "image/png")),
        ("metadata", (None, '{"last_frame": "https://img.example/last.png"}')),
    ]
    response = http.post("/v1/videos", files=form)
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.endpoint == "image2video"
    assert task.body["input"]["first_frame_url"].startswith("data:image/png;base64,")
    assert task.body["input"]["last_frame_url"] == "https://img.example/last.png"
    assert task.body["parameters"] == {"duration": 5, "resolution": "480P"}
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    width, height, _ = video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (480, 832)  # the first frame's aspect wins over the size


# --- requests refused before any upstream call -------------------------------------------


def test_requests_dashscope_cannot_take_are_400s_without_an_upstream_call(
    http: httpx.Client, sim: Sim
) -> None:
    before = len(sim.log())
    cases: list[tuple[dict[str, Any], str]] = [
        ({"model": "wan-i2v"}, "input_reference"),
        ({"model": "wan-old", "size": "1280x720"}, "size"),
        ({"model": "wan-t2v", "seconds": "8"}, "seconds"),
        ({"model": "wan-old", "metadata": {"audio": True}}, "metadata.audio"),
        ({"model": "wan-old", "metadata": {"audio_url": "https://a/x.mp3"}}, "metadata.audio_url"),
        ({"model": "wan-t2v", "metadata": {"style": "anime"}}, "metadata.style"),
        ({"model": "wan-t2v", "input_reference": {"image_url": png_uri()}}, "input_reference"),
        ({"model": "wan-t2v", "seed": 2**31}, "seed"),
        ({"model": "wan-old", "prompt": "x" * 801}, "prompt"),
    ]
    for body, param in cases:
        response = create(http, **({"prompt": "refused"} | body))
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param, (body, response.json())
    assert [e for e in sim.log()[before:] if e["method"] == "POST"] == []


def test_remix_is_unsupported(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    source = create(http, model="wan-t2v", prompt="source", size="480x832")
    assert done(client, source.json()["id"]).status == "completed"
    before = len(sim.log())
    remix = http.post(f"/v1/videos/{source.json()['id']}/remix", json={"prompt": "again"})
    assert remix.status_code == 400, remix.text
    assert remix.json()["error"]["code"] == "unsupported_operation"
    assert [e for e in sim.log()[before:] if e["method"] == "POST"] == []


# --- deletes, failures, auth, errors -------------------------------------------------------


def test_delete_cancels_a_pending_task(http: httpx.Client, sim: Sim) -> None:
    prompt = "[sim:slow] cancel me"
    response = create(http, model="wan-t2v", prompt=prompt, size="832x480")
    task_id = sim.task(prompt).id
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert wait_for(lambda: (task_id, 200) in sim.state.cancels)
    assert sim.state.status(sim.task(prompt)) == "CANCELED"


def test_delete_of_a_finished_video_tries_to_cancel_and_is_refused_quietly(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "delete when done"
    response = create(http, model="wan-t2v", prompt=prompt, size="480x832")
    task_id = sim.task(prompt).id
    assert done(client, response.json()["id"]).status == "completed"
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert wait_for(lambda: (task_id, 400) in sim.state.cancels)


def test_content_policy_failure(client: openai.OpenAI, http: httpx.Client) -> None:
    response = create(http, model="wan-t2v", prompt="[sim:fail] blocked", size="832x480")
    video = done(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked"
    assert "DataInspectionFailed" in video.error.message


def test_expired_task_fails_after_a_few_unknown_polls(
    client: openai.OpenAI, http: httpx.Client, short_lived: Sim
) -> None:
    response = create(http, model="wan-expiring", prompt="forgotten", size="1280x720", seconds="2")
    assert response.status_code == 200, response.text
    video = done(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert "UNKNOWN" in video.error.message
    task_id = short_lived.task("forgotten").id
    polls = [e for e in short_lived.log() if e["path"] == f"/api/v1/tasks/{task_id}"]
    assert len(polls) >= 3  # never failed on a single UNKNOWN


def test_bad_deployment_key_is_an_upstream_auth_error(http: httpx.Client, sim: Sim) -> None:
    response = create(http, model="wan-badkey", prompt="wrong key", size="1280x720")
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_auth_error"
    assert sim.log()[-1]["status_code"] == 401


def _gif_uri() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 64)).save(out, format="GIF")
    return "data:image/gif;base64," + base64.b64encode(out.getvalue()).decode()


def test_upstream_validation_error_keeps_its_parameter(http: httpx.Client) -> None:
    response = create(
        http,
        model="wan-i2v",
        prompt="a gif",
        input_reference={"image_url": _gif_uri()},  # an image, in a type DashScope refuses
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "input_reference" and "InvalidParameter" in error["message"]


def test_rate_limit_at_create_is_a_429_with_retry_after(http: httpx.Client) -> None:
    response = create(http, model="wan-t2v", prompt="[sim:429] busy", size="832x480")
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
