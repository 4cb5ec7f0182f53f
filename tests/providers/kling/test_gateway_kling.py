"""The gateway in front of the Kling simulator, over real HTTP on loopback.

The simulator plays api-singapore.klingai.com and checks every JWT the gateway signs;
``app.state.sim`` shows each task it got (body, headers, family). The gateway is driven
with the official openai SDK and raw httpx; no upstream task id, host or key may reach a
client.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.support import Gateway, running_gateway, serve, video_shape
from vidgate.providers.kling.simulator import SimState, SimTask, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AK, SK = "ak-gateway-test-0001", "sk-gateway-test-0002"


@dataclass
class Sim:
    url: str
    state: SimState

    def task(self, prompt: str) -> SimTask:
        (task,) = [t for t in self.state.tasks.values() if t.body.get("prompt") == prompt]
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
        secrets = [AK, SK, sim.url, *sim.state.tasks]
        return [s for s in secrets for seen in self.seen if s in seen]


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    app = create_app(SimulatorConfig(api_key=f"{AK}:{SK}", job_seconds=0.4, queued_seconds=0.05))
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    common = {"provider": "kling", "api_base": sim.url, "poll_interval_s": 0.1}
    good = {**common, "api_key": AK, "options": {"secret_key": "os.environ/KLING_SIM_SECRET"}}
    bad = {**common, "api_key": AK, "options": {"secret_key": "not-the-secret"}}
    config = {
        "model_list": [
            {**good, "model_name": "kling-16", "model": "kling-v1-6"},
            {**good, "model_name": "kling-26", "model": "kling-v2-6"},
            {**good, "model_name": "kling-3", "model": "kling-v3"},
            {**bad, "model_name": "kling-badkey", "model": "kling-v1-6"},
        ],
        "default_model": "kling-16",
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KLING_SIM_SECRET", SK)
        with running_gateway(tmp_path_factory.mktemp("gw-kling"), config) as gateway:
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


def png_uri(width: int, height: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 200)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/videos", json=body)


def posts(sim: Sim, since: int) -> list[int]:
    """Statuses of the creates the simulator answered since log entry ``since``."""
    return [e["status_code"] for e in sim.log()[since:] if e["method"] == "POST"]


def claims(authorization: str) -> dict[str, Any]:
    scheme, token = authorization.split(" ")
    assert scheme == "Bearer"
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


# --- create, poll, archive -------------------------------------------------------------


def test_text2video_end_to_end(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "a paper boat in the rain, text to video"
    response = create(
        http,
        model="kling-16",
        prompt=prompt,
        size="720x1280",
        seconds="5",
        metadata={"negative_prompt": "blurry", "cfg_scale": 0.7},
    )
    assert response.status_code == 200, response.text
    video_id = response.json()["id"]
    task = sim.task(prompt)
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
    video = done(client, video_id)
    assert video.status == "completed", video.error
    assert (video.size, video.seconds, video.progress) == ("720x1280", "5", 100)
    width, height, seconds = video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (720, 1280) and seconds == pytest.approx(5, abs=0.2)
    polls = [e for e in sim.log() if e["path"] == f"/v1/videos/text2video/{task.id}"]
    assert polls and all(e["status_code"] == 200 for e in polls)
    fetched = [e for e in sim.log() if e["path"] == f"/cdn/videos/{task.id}.mp4"]
    assert fetched and all(e["status_code"] == 200 for e in fetched)


def test_image2video_sends_raw_base64_and_polls_its_family(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "from the first frame to the last"
    response = create(
        http,
        model="kling-3",
        prompt=prompt,
        size="1280x720",
        seconds="3",
        input_reference={"image_url": png_uri(640, 360)},
        metadata={"last_frame": "https://cdn.example.com/last.png", "audio": True},
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.family == "image2video" and "aspect_ratio" not in task.body
    assert not task.body["image"].startswith("data:")  # raw base64, validated by the sim
    assert task.body["image_tail"] == "https://cdn.example.com/last.png"
    assert (task.body["sound"], task.body["duration"], task.body["mode"]) == ("on", "3", "std")
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    paths = {e["path"] for e in sim.log()}
    assert f"/v1/videos/image2video/{task.id}" in paths
    assert f"/v1/videos/text2video/{task.id}" not in paths


def test_pro_mode_follows_the_size(http: httpx.Client, sim: Sim) -> None:
    prompt = "a full hd lighthouse"
    response = create(
        http, model="kling-26", prompt=prompt, size="1920x1080", metadata={"mode": "pro"}
    )
    assert response.status_code == 200, response.text
    body = sim.task(prompt).body
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
    before = len(sim.log())
    response = create(http, prompt="never sent", **body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    if param is not None:
        assert error["param"] is not None and error["param"].startswith(param)
    assert [e for e in sim.log()[before:] if e["method"] == "POST"] == []


def test_remix_is_unsupported(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    source = create(http, model="kling-3", prompt="source for a remix", seconds="3")
    video_id = source.json()["id"]
    assert done(client, video_id).status == "completed"
    before = len(sim.log())
    remix = http.post(f"/v1/videos/{video_id}/remix", json={"prompt": "again"})
    assert remix.status_code == 400, remix.text
    assert remix.json()["error"]["code"] == "unsupported_operation"
    assert [e for e in sim.log()[before:] if e["method"] == "POST"] == []


def test_delete_makes_no_upstream_call(http: httpx.Client, sim: Sim) -> None:
    response = create(http, model="kling-16", prompt="delete me")
    before = len(sim.log())
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200
    assert all(e["method"] == "GET" for e in sim.log()[before:])


# --- failures and auth -------------------------------------------------------------------


def test_failed_task_reports_task_status_msg(client: openai.OpenAI, http: httpx.Client) -> None:
    response = create(http, model="kling-16", prompt="[sim:fail] blocked")
    video = done(client, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked"
    assert "risk control" in video.error.message and "SUCCEED" not in video.error.message


def test_wrong_secret_key_is_an_upstream_auth_error(http: httpx.Client, sim: Sim) -> None:
    before = len(sim.log())
    response = create(http, model="kling-badkey", prompt="wrong secret")
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_auth_error"
    assert posts(sim, before) == [401]


def test_rate_limit_at_create_is_a_429_with_retry_after(http: httpx.Client) -> None:
    response = create(http, model="kling-16", prompt="[sim:429] busy")
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "1"


def test_upstream_400_keeps_its_parameter(http: httpx.Client, sim: Sim) -> None:
    before = len(sim.log())
    tiny = png_uri(120, 120)  # Kling needs at least 300 px
    response = create(
        http, model="kling-16", prompt="tiny image", input_reference={"image_url": tiny}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "input_reference" and "300px" in error["message"]
    assert posts(sim, before) == [400]
