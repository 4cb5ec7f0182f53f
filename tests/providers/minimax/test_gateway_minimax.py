"""The gateway in front of the MiniMax simulator, over real HTTP on loopback.

The simulator plays api.minimax.io (v1 and v2); ``app.state.sim`` shows every task it got
(body, headers) and what DELETE did, and its request log shows the upstream calls in order.
No upstream task id, key or host may reach a client.
"""

from __future__ import annotations

import base64
import io
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.support import Gateway, running_gateway, serve, video_shape, wait_for
from vidgate.providers.minimax.simulator import SimState, SimTask, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "sk-api-" + "7e" * 32
BAD_KEY = "sk-api-" + "00" * 32


@dataclass
class Sim:
    url: str
    state: SimState

    def task(self, prompt: str) -> SimTask:
        (task,) = [t for t in self.state.tasks.values() if t.prompt == prompt]
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
        files = [str(t.file_id) for t in sim.state.tasks.values()]
        secrets = [KEY, BAD_KEY, sim.url, *sim.state.tasks, *sim.state.deleted, *files]
        return [s for s in secrets for seen in self.seen if s in seen]


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=0.4, queued_seconds=0.05))
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    common = {"provider": "minimax", "api_base": sim.url, "poll_interval_s": 0.1}
    good = {**common, "api_key": "os.environ/MINIMAX_SIM_KEY"}
    config = {
        "model_list": [
            {**good, "model_name": "hailuo-23", "model": "MiniMax-Hailuo-2.3"},
            {**good, "model_name": "hailuo-02", "model": "MiniMax-Hailuo-02"},
            {**good, "model_name": "hailuo-fast", "model": "MiniMax-Hailuo-2.3-Fast"},
            {**good, "model_name": "s2v", "model": "S2V-01"},
            {**good, "model_name": "h3", "model": "MiniMax-H3"},
            {
                **common,
                "model_name": "hailuo-badkey",
                "model": "MiniMax-Hailuo-2.3",
                "api_key": BAD_KEY,
            },
        ],
        "default_model": "hailuo-23",
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MINIMAX_SIM_KEY", KEY)
        with running_gateway(tmp_path_factory.mktemp("gw-minimax"), config) as gateway:
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


def stored_upstream_id(gw: Gateway, job_id: str) -> str:
    with sqlite3.connect(gw.data_dir / "vidgate.db") as db:
        return str(db.execute("SELECT upstream_id FROM jobs WHERE id=?", (job_id,)).fetchone()[0])


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/videos", json=body)


# --- v1 ---------------------------------------------------------------------------------


def test_v1_text_to_video_end_to_end(
    client: openai.OpenAI, http: httpx.Client, sim: Sim, gw: Gateway
) -> None:
    prompt = "a paper boat on a rainy street [Push in]"
    response = create(
        http,
        model="hailuo-23",
        prompt=prompt,
        size="1366x768",
        seconds="6",
        metadata={"prompt_optimizer": False, "fast_pretreatment": True},
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.headers["authorization"] == f"Bearer {KEY}"
    assert task.body == {
        "model": "MiniMax-Hailuo-2.3",
        "prompt": prompt,
        "duration": 6,
        "resolution": "768P",
        "prompt_optimizer": False,
        "fast_pretreatment": True,
    }
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    assert (video.size, video.seconds, video.progress) == ("1366x768", "6", 100)
    width, height, seconds = video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (1366, 768) and seconds == pytest.approx(6, abs=0.3)
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
    response = create(
        http,
        model="hailuo-02",
        prompt=prompt,
        size="912x512",
        seconds="10",
        input_reference={"image_url": png_uri()},
        metadata={"last_frame": "https://example.com/last.png"},
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    assert task.body["first_frame_image"].startswith("data:image/png;base64,")
    assert task.body["last_frame_image"] == "https://example.com/last.png"
    assert (task.body["resolution"], task.body["duration"]) == ("512P", 10)
    assert done(client, response.json()["id"]).status == "completed"


def test_uploaded_image_and_subject_reference(http: httpx.Client, sim: Sim) -> None:
    out = io.BytesIO()
    Image.new("RGB", (640, 360), (1, 2, 3)).save(out, format="PNG")
    form: list[tuple[str, Any]] = [
        ("prompt", (None, "fast from an upload")),
        ("model", (None, "hailuo-fast")),
        ("input_reference", ("f.png", out.getvalue(), "image/png")),
    ]
    response = http.post("/v1/videos", files=form)
    assert response.status_code == 200, response.text
    assert sim.task("fast from an upload").body["first_frame_image"].startswith("data:image/png")
    response = create(
        http,
        model="s2v",
        prompt="the same character walks",
        metadata={"reference_images": ["https://example.com/face.png"]},
    )
    assert response.status_code == 200, response.text
    assert sim.task("the same character walks").body["subject_reference"] == [
        {"type": "character", "image": ["https://example.com/face.png"]}
    ]
    assert http.delete(f"/v1/videos/{response.json()['id']}").status_code == 200


def test_combinations_the_model_cannot_make_are_400_before_any_call(
    http: httpx.Client, sim: Sim
) -> None:
    def creates() -> int:
        return sum(1 for e in sim.log() if e["method"] == "POST")

    before = creates()
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"model": "hailuo-23", "size": "1920x1080", "seconds": "10"}, "seconds"),
        ({"model": "hailuo-fast"}, "input_reference"),
        ({"model": "hailuo-23", "size": "912x512"}, "size"),
        ({"model": "hailuo-23", "metadata": {"last_frame": "https://x.test/l.png"}}, None),
        ({"model": "hailuo-23", "metadata": {"callback_url": "https://x.test/"}}, None),
    ]
    for body, param in cases:
        response = create(http, prompt="impossible", **body)
        assert response.status_code == 400, response.text
        if param is not None:
            assert response.json()["error"]["param"] == param
    assert creates() == before


def test_business_errors_inside_http_200_are_mapped(http: httpx.Client) -> None:
    expected = {
        "code-2013": (400, "invalid_request"),
        "code-1026": (400, "moderation_blocked"),
        "code-1008": (502, "upstream_insufficient_balance"),
        "code-2061": (502, "upstream_model_not_in_plan"),
        "429": (429, "rate_limit_exceeded"),
    }
    for marker, (status, code) in expected.items():
        response = create(http, model="hailuo-23", prompt=f"[sim:{marker}] refused")
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        if status == 429:
            assert response.headers["retry-after"] == "10"


def test_bad_key_is_an_upstream_auth_error(http: httpx.Client) -> None:
    response = create(http, model="hailuo-badkey", prompt="wrong key")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_auth_error"


def test_content_policy_failure_is_a_failed_job(client: openai.OpenAI, http: httpx.Client) -> None:
    response = create(http, model="hailuo-23", prompt="[sim:fail] flagged output")
    video = done(client, response.json()["id"])
    assert video.status == "failed"
    assert video.error is not None and video.error.code == "moderation_blocked"


# --- v2 (MiniMax-H3) ------------------------------------------------------------------


def test_h3_content_array_end_to_end_and_delete(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "A paper boat drifting down a rainy street"
    response = create(
        http,
        model="h3",
        prompt=prompt,
        size="768x768",
        seconds="4",
        input_reference={"image_url": png_uri()},
        metadata={"reference_images": ["https://example.com/r1.png"], "aigc_watermark": False},
    )
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
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
    video = done(client, response.json()["id"])
    assert video.status == "completed", video.error
    width, height, seconds = video_shape(client.videos.download_content(video.id).content)
    assert (width, height) == (768, 768) and seconds == pytest.approx(4, abs=0.3)
    client.videos.delete(video.id)
    wait_for(lambda: sim.state.deleted.get(task.id) == "deleted")


def test_h3_delete_while_queued_cancels_upstream(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "[sim:slow] cancel me"
    response = create(http, model="h3", prompt=prompt, size="1366x768", seconds="4")
    assert response.status_code == 200, response.text
    task = sim.task(prompt)
    client.videos.delete(response.json()["id"])
    wait_for(lambda: sim.state.deleted.get(task.id) == "cancelled")
