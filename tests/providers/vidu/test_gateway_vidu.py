"""The gateway in front of the Vidu simulator, over real HTTP on loopback.

The simulator plays api.vidu.com/ent/v2; ``app.state.sim`` shows every task it got (body,
headers, endpoint) and whether it was cancelled. The gateway is driven with the official
openai SDK and raw httpx; no upstream task id, host or key may reach a client.
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
from vidgate.providers.vidu.simulator import SimState, SimTask, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "vda_" + "7e" * 24
BAD_KEY = "vda_" + "00" * 24


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
        secrets = [KEY, BAD_KEY, sim.url, *sim.state.tasks]
        return [s for s in secrets for seen in self.seen if s in seen]


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=0.4, queued_seconds=0.05))
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    common = {"provider": "vidu", "api_base": f"{sim.url}/ent/v2", "poll_interval_s": 0.1}
    good = {**common, "api_key": "os.environ/VIDU_SIM_KEY"}
    config = {
        "model_list": [
            {**good, "model_name": "vidu-q2", "model": "viduq2"},
            {**good, "model_name": "vidu-q2-pro", "model": "viduq2-pro"},
            {**good, "model_name": "vidu-q3", "model": "viduq3-pro"},
            {**good, "model_name": "vidu-q1", "model": "viduq1"},
            {**good, "model_name": "vidu-20", "model": "vidu2.0"},
            {**common, "model_name": "vidu-badkey", "model": "viduq2", "api_key": BAD_KEY},
        ],
        "default_model": "vidu-q2",
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VIDU_SIM_KEY", KEY)
        with running_gateway(tmp_path_factory.mktemp("gw-vidu"), config) as gateway:
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


def png_uri(width: int = 160, height: int = 90) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 200)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/videos", json=body)


# --- create, poll, archive -----------------------------------------------------------------


def test_text_to_video_end_to_end(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "a lighthouse at dusk, text to video"
    response = create(http, model="vidu-q2", prompt=prompt, size="540x720", seconds="2", seed=7)
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
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
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    assert (video.size, video.seconds, video.progress) == ("540x720", "2", 100)
    width, height, seconds = video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (540, 720) and seconds == pytest.approx(2, abs=0.2)
    thumb = client.videos.download_content(video.id, variant="thumbnail").content
    assert Image.open(io.BytesIO(thumb)).format in ("JPEG", "WEBP", "PNG")
    # Both signed URLs (video and cover) were fetched without the deployment's key.
    fetched = {e["path"] for e in sim.log() if e["path"].startswith(f"/media/{task.id}/")}
    assert fetched == {f"/media/{task.id}/video.mp4", f"/media/{task.id}/cover.jpg"}


def test_image_to_video_inlines_the_upload(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "the astronaut waves"
    out = io.BytesIO()
    Image.new("RGB", (96, 54), (1, 2, 3)).save(out, format="PNG")
    form = [
        ("prompt", (None, prompt)),
        ("model", (None, "vidu-q2-pro")),
        ("size", (None, "960x540")),
        ("seconds", (None, "1")),
        ("input_reference", ("f.png", out.getvalue(), "image/png")),
        ("metadata", (None, '{"movement_amplitude": "small", "audio": true}')),
    ]
    response = http.post("/v1/videos", files=form)
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.checked.endpoint == "img2video"
    (image,) = task.body["images"]
    assert image.startswith("data:image/png;base64,")
    assert "aspect_ratio" not in task.body
    assert (task.body["resolution"], task.body["duration"]) == ("540p", 1)
    assert (task.body["movement_amplitude"], task.body["audio"]) == ("small", True)
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error


def test_first_and_last_frame_go_to_start_end(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from first to last frame"
    response = create(
        http,
        model="vidu-q3",
        prompt=prompt,
        size="960x540",
        seconds="1",
        input_reference={"image_url": png_uri()},
        metadata={"last_frame": png_uri(), "audio": False, "off_peak": False},
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.checked.endpoint == "start-end2video" and task.checked.model == "viduq3-pro"
    assert len(task.body["images"]) == 2 and task.body["audio"] is False
    assert task.body["off_peak"] is False
    assert done(client, response.json()["id"]).status == "completed"


def test_reference_images_go_to_reference2video(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "@1 and @2 share hot pot"
    response = create(
        http,
        model="vidu-q2",
        prompt=prompt,
        size="540x540",
        seconds="1",
        metadata={"reference_images": [png_uri(), png_uri(90, 160)], "bgm": True},
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.checked.endpoint == "reference2video"
    assert len(task.body["images"]) == 2 and task.body["bgm"] is True
    assert (task.body["aspect_ratio"], task.body["resolution"]) == ("1:1", "540p")
    video = done(client, response.json()["id"])
    assert video.status == "completed" and video.size == "540x540"


# --- requests refused before any upstream call -------------------------------------------


def test_requests_vidu_cannot_take_are_400s_without_an_upstream_call(
    http: httpx.Client, sim: Sim
) -> None:
    before = len(sim.log())
    cases = [
        ({"model": "vidu-q2-pro"}, "input_reference"),
        ({"model": "vidu-20", "input_reference": {"image_url": png_uri()}, "seconds": "8",
          "size": "1920x1080"}, "size"),
        ({"model": "vidu-q2", "seconds": "12"}, "seconds"),
        ({"model": "vidu-q1", "size": "1280x720"}, "size"),
        ({"model": "vidu-q2", "input_reference": {"image_url": png_uri()}}, "input_reference"),
        ({"model": "vidu-q2", "metadata": {"audio": True}}, "metadata.audio"),
        ({"model": "vidu-q2", "metadata": {"callback_url": "https://x"}}, "metadata.callback_url"),
        ({"model": "vidu-q2", "metadata": {"style": "anime"}}, "metadata.style"),
        ({"model": "vidu-q2", "prompt": "x" * 1501}, "prompt"),
    ]  # fmt: skip
    for body, param in cases:
        response = create(http, **({"prompt": "refused"} | body))
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param, (body, response.json())
    assert [e for e in sim.log()[before:] if e["method"] == "POST"] == []


def test_remix_is_unsupported(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    source = create(http, model="vidu-q2", prompt="source for a remix", seconds="1", size="540x540")
    video_id = source.json()["id"]
    assert done(client, video_id).status == "completed"
    before = len(sim.log())
    remix = http.post(f"/v1/videos/{video_id}/remix", json={"prompt": "again"})
    assert remix.status_code == 400, remix.text
    assert remix.json()["error"]["code"] == "unsupported_operation"
    assert [e for e in sim.log()[before:] if e["method"] == "POST"] == []


# --- cancel, failures, auth, credits --------------------------------------------------------


def test_delete_cancels_the_running_task(http: httpx.Client, sim: Sim) -> None:
    prompt = "[sim:slow] cancel me"
    response = create(http, model="vidu-q2", prompt=prompt, seconds="2")
    task = sim.task(prompt)
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert wait_for(lambda: task.cancelled)
    cancels = [e for e in sim.log() if e["path"] == f"/ent/v2/tasks/{task.id}/cancel"]
    assert [e["status_code"] for e in cancels] == [200]


def test_content_policy_failure(client: openai.OpenAI, http: httpx.Client) -> None:
    response = create(http, model="vidu-q2", prompt="[sim:fail] blocked", seconds="2")
    video = done(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked"
    assert "CreationPolicyViolation" in video.error.message


def test_create_answered_failed_with_http_200_is_a_400(http: httpx.Client) -> None:
    response = create(http, model="vidu-q2", prompt="[sim:create-failed] audit", seconds="2")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("moderation_blocked", "prompt")
    assert "AuditSubmitIllegal" in error["message"]


def test_bad_deployment_key_is_an_upstream_auth_error(http: httpx.Client, sim: Sim) -> None:
    response = create(http, model="vidu-badkey", prompt="wrong key", seconds="2")
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_auth_error"
    assert sim.log()[-1]["status_code"] == 401


def test_out_of_credits_is_an_upstream_error(http: httpx.Client, sim: Sim) -> None:
    sim.state.config.credit_balance = sim.state.spent
    seen = len(sim.log())
    try:
        response = create(http, model="vidu-q2", prompt="no credits left", seconds="2")
    finally:
        sim.state.config.credit_balance = None
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_insufficient_credits"
    creates = [e for e in sim.log()[seen:] if e["method"] == "POST"]
    assert len(creates) == 1  # asking an empty account again cannot change its answer


def test_upstream_validation_error_keeps_its_parameter(http: httpx.Client) -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 64)).save(out, format="GIF")  # an image, in a format Vidu refuses
    gif = "data:image/gif;base64," + base64.b64encode(out.getvalue()).decode()
    response = create(http, model="vidu-q2-pro", prompt="a gif", input_reference={"image_url": gif})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "input_reference" and "ImageFormatInvalid" in error["message"]
