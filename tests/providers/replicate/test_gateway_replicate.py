"""The gateway in front of the Replicate simulator, over real HTTP on loopback.

The simulator plays api.replicate.com; ``app.state.sim`` shows every prediction it got
(path, input, headers). The gateway is driven with the official openai SDK and raw httpx;
no prediction id, token or upstream host may reach a client.
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
from vidgate.providers.replicate.simulator import (
    SimPrediction,
    SimState,
    SimulatorConfig,
    create_app,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "r8_" + "7e" * 20
BAD_KEY = "r8_" + "00" * 20
SHA = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


@dataclass
class Sim:
    url: str
    state: SimState

    def prediction(self, prompt: str) -> SimPrediction:
        (found,) = [p for p in self.state.predictions.values() if p.input.get("prompt") == prompt]
        return found

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
        secrets = [KEY, BAD_KEY, sim.url, *sim.state.predictions]
        return [s for s in secrets for seen in self.seen if s in seen]


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.4, queued_seconds=0.05, list_output=True)
    app = create_app(config)
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    common = {"provider": "replicate", "api_base": f"{sim.url}/v1", "poll_interval_s": 0.1}
    good = {**common, "api_key": "os.environ/REPLICATE_SIM_TOKEN"}
    config = {
        "model_list": [
            {**good, "model_name": "seedance", "model": "bytedance/seedance-2.0"},
            {**good, "model_name": "vidu", "model": "vidu/q3-turbo"},
            {
                **good,
                "model_name": "pinned",
                "model": f"acme/clouds:{SHA}",
                "options": {"cancel_after": "45m", "input_keys": {"first_frame": "start_image"}},
            },
            {**good, "model_name": "badversion", "model": "acme/clouds:nothex"},
            {**common, "model_name": "badkey", "model": "acme/video", "api_key": BAD_KEY},
        ],
        "default_model": "seedance",
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("REPLICATE_SIM_TOKEN", KEY)
        with running_gateway(tmp_path_factory.mktemp("gw-replicate"), config) as gateway:
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


def decode(data: bytes) -> tuple[int, int, float]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.width, stream.codec_context.height, frames / 24


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/videos", json=body)


def test_official_model_end_to_end(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "a lighthouse at dusk on replicate"
    response = create(http, model="seedance", prompt=prompt, size="720x1280", seconds="4", seed=9)
    assert response.status_code == 200, response.text
    prediction = sim.prediction(prompt)
    assert prediction.path == "/v1/models/bytedance/seedance-2.0/predictions"
    assert prediction.headers["authorization"] == f"Bearer {KEY}"
    assert "prefer" not in prediction.headers and "cancel-after" not in prediction.headers
    assert prediction.input == {
        "prompt": prompt,
        "duration": 4,
        "aspect_ratio": "9:16",
        "resolution": "720p",
        "seed": 9,
        "generate_audio": True,
    }
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    assert (video.size, video.seconds, video.progress) == ("720x1280", "4", 100)
    width, height, seconds = decode(client.videos.download_content(video.id).content)
    assert (width, height) == (720, 1280) and seconds == pytest.approx(4, abs=0.5)
    # The public delivery URL (output was a list here) was fetched without the token.
    fetched = [e for e in sim.log() if e["path"] == f"/delivery/{prediction.id}/output.mp4"]
    assert fetched and all(e["status_code"] == 200 for e in fetched)


def test_frames_audio_and_reference_images(http: httpx.Client, sim: Sim) -> None:
    prompt = "first and last frame on seedance"
    response = create(
        http,
        model="seedance",
        prompt=prompt,
        size="854x480",
        seconds="5",
        input_reference={"image_url": png_uri()},
        metadata={"last_frame": png_uri(32, 32), "audio": False},
    )
    assert response.status_code == 200, response.text
    data = sim.prediction(prompt).input
    assert data["image"].startswith("data:image/png;base64,")
    assert data["last_frame_image"].startswith("data:image/png;base64,")
    assert (data["generate_audio"], data["aspect_ratio"], data["resolution"]) == (
        False,
        "16:9",
        "480p",
    )
    vidu = create(
        http,
        model="vidu",
        prompt="vidu start image",
        size="1920x1080",
        seconds="3",
        input_reference={"image_url": png_uri()},
    )
    assert vidu.status_code == 200, vidu.text
    vidu_input = sim.prediction("vidu start image").input
    assert vidu_input["start_image"].startswith("data:image/png;base64,")
    assert (vidu_input["resolution"], vidu_input["duration"]) == ("1080p", 3)


def test_pinned_version_with_options_and_extras(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "a pinned community model"
    response = create(
        http,
        model="pinned",
        prompt=prompt,
        size="854x480",
        seconds="4",
        input_reference={"image_url": png_uri()},
        metadata={"negative_prompt": "blur", "num_inference_steps": 30, "loop": True},
    )
    assert response.status_code == 200, response.text
    prediction = sim.prediction(prompt)
    assert prediction.path == "/v1/predictions" and prediction.version == SHA
    assert prediction.model == "acme/clouds"
    assert prediction.headers["cancel-after"] == "45m"
    data = prediction.input
    assert data["start_image"].startswith("data:image/png;base64,") and "image" not in data
    assert (data["negative_prompt"], data["num_inference_steps"], data["loop"]) == (
        "blur",
        30,
        True,
    )
    assert (data["aspect_ratio"], data["resolution"], data["duration"]) == ("16:9", "480p", 4)
    assert done(client, response.json()["id"]).status == "completed"


def test_delete_while_running_cancels_the_prediction(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "[sim:slow] to be deleted"
    response = create(http, model="seedance", prompt=prompt, size="1280x720", seconds="4")
    assert response.status_code == 200, response.text
    prediction = sim.prediction(prompt)
    client.videos.delete(response.json()["id"])
    wait_for(lambda: prediction.canceled_at is not None)
    cancels = [e for e in sim.log() if e["path"] == f"/v1/predictions/{prediction.id}/cancel"]
    assert [e["method"] for e in cancels] == ["POST"]
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(response.json()["id"])


def test_failed_prediction_is_a_failed_video(client: openai.OpenAI, http: httpx.Client) -> None:
    response = create(http, model="seedance", prompt="[sim:fail] flagged", seconds="4")
    video = done(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked" and "E005" in video.error.message


def creates(sim: Sim) -> int:
    return sum(1 for e in sim.log() if e["method"] == "POST" and e["path"].endswith("/predictions"))


def test_capabilities_are_checked_before_any_call(http: httpx.Client, sim: Sim) -> None:
    before = creates(sim)
    too_long = create(http, model="seedance", prompt="x", seconds="20")
    assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "seconds"
    remix = http.post("/v1/videos/video_" + "0" * 32 + "/remix", json={"prompt": "again"})
    assert remix.status_code in (400, 404)
    no_extras = create(http, model="vidu", prompt="x", metadata={"movement_amplitude": "auto"})
    assert no_extras.status_code == 400
    assert no_extras.json()["error"]["param"] == "metadata.movement_amplitude"
    assert creates(sim) == before


def test_upstream_errors_are_mapped(http: httpx.Client) -> None:
    bad_key = create(http, model="badkey", prompt="who am I")
    assert bad_key.status_code == 502
    assert bad_key.json()["error"]["code"] == "upstream_auth_error"
    assert KEY not in bad_key.text and BAD_KEY not in bad_key.text
    bad_version = create(http, model="badversion", prompt="which version")
    assert bad_version.status_code == 400
    assert bad_version.json()["error"]["param"] == "model"
    throttled = create(http, model="seedance", prompt="[sim:429] busy", seconds="4")
    assert throttled.status_code == 429 and "retry-after" in throttled.headers
