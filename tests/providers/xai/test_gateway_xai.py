"""The gateway in front of the xAI simulator, over real HTTP on loopback.

Clients are the official openai SDK and raw httpx; the simulator's state shows exactly what
reached "xAI" (the create body and the ``Authorization`` header of every request).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image

from tests.support import Gateway, running_gateway, serve
from vidgate.providers.registry import PROVIDERS
from vidgate.providers.xai.simulator import SimJob, SimState, SimulatorConfig, create_app
from vidgate.routing.config import env_entries

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SIM_KEY = "xai-upstream-key-0123"
BAD_KEY = "xai-not-the-key-98765"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Sim:
    url: str
    state: SimState

    def log(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/__sim__/log").json())

    def writes(self) -> list[dict[str, Any]]:
        """Every non-GET call (polls of earlier jobs keep running in the background)."""
        return [e for e in self.log() if e["method"] != "GET"]

    def last_job(self) -> SimJob:
        return list(self.state.jobs.values())[-1]


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    app = create_app(SimulatorConfig(api_key=SIM_KEY, job_seconds=0.3, queued_seconds=0.05))
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = {"provider": "xai", "api_base": f"{sim.url}/v1", "poll_interval_s": 0.1}
    config = {
        "model_list": [
            {**base, "model_name": "grok", "model": "grok-imagine-video", "api_key": SIM_KEY},
            {
                **base,
                "model_name": "grok-1.5",
                "model": "grok-imagine-video-1.5",
                "api_key": SIM_KEY,
            },
            {
                **base,
                "model_name": "grok-badkey",
                "model": "grok-imagine-video",
                "api_key": BAD_KEY,
            },
        ],
        "default_model": "grok",
    }
    with running_gateway(tmp_path_factory.mktemp("gw-xai"), config) as gateway:
        yield gateway


@pytest.fixture
def client(gw: Gateway) -> openai.OpenAI:
    return gw.sdk()


@pytest.fixture
def http(gw: Gateway) -> Iterator[httpx.Client]:
    with gw.http() as client:
        yield client


def create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/v1/videos", json={"model": "grok", **body})
    assert response.status_code == 200, response.text
    video: dict[str, Any] = response.json()
    return video


def done(client: openai.OpenAI, video_id: str) -> Any:
    return client.videos.poll(video_id, poll_interval_ms=50)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 54), (20, 120, 220)).save(out, "PNG")
    return out.getvalue()


def test_parameters_and_key_reach_xai_as_documented(
    http: httpx.Client, client: openai.OpenAI, sim: Sim
) -> None:
    video = create(
        http, prompt="a comet", size="1280x720", seconds="3", metadata={"user": "end-user-42"}
    )
    job = sim.last_job()
    assert job.body == {
        "prompt": "a comet",
        "model": "grok-imagine-video",
        "duration": 3,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "user": "end-user-42",
    }
    assert job.authorization == f"Bearer {SIM_KEY}"
    finished = done(client, video["id"])
    assert finished.status == "completed", finished.error
    assert (finished.size, finished.seconds) == ("1280x720", "3")
    data = client.videos.download_content(finished.id).content
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
    polls = [e for e in sim.log() if e["path"] == f"/v1/videos/{job.request_id}"]
    assert polls and all(e["status_code"] == 200 for e in polls)


def test_default_is_8_seconds_at_854x480(http: httpx.Client, sim: Sim) -> None:
    video = create(http, prompt="defaults", model="grok-1.5")
    assert (video["seconds"], video["size"]) == ("8", "854x480")
    body = sim.last_job().body
    assert (body["model"], body["duration"], body["aspect_ratio"], body["resolution"]) == (
        "grok-imagine-video-1.5",
        8,
        "16:9",
        "480p",
    )


def test_uploaded_first_frame_is_sent_as_a_data_uri(client: openai.OpenAI, sim: Sim) -> None:
    image = png()
    client.videos.create(
        prompt="animate this",
        model="grok",
        size="720x1280",
        seconds="1",  # type: ignore[arg-type]
        input_reference=("first.png", image, "image/png"),
    )
    body = sim.last_job().body
    assert body["image"] == {"url": "data:image/png;base64," + base64.b64encode(image).decode()}
    assert (body["aspect_ratio"], body["resolution"]) == ("9:16", "720p")


def test_image_url_is_passed_as_is(http: httpx.Client, sim: Sim) -> None:
    create(
        http,
        prompt="animate",
        seconds="1",
        input_reference={"image_url": "https://images.test/cat.png"},
    )
    assert sim.last_job().body["image"] == {"url": "https://images.test/cat.png"}


def test_unknown_metadata_is_rejected_before_any_upstream_call(
    http: httpx.Client, sim: Sim
) -> None:
    before = len(sim.writes())
    response = http.post(
        "/v1/videos",
        json={"model": "grok", "prompt": "p", "metadata": {"output": {"upload_url": "x"}}},
    )
    assert response.status_code == 400, response.text
    assert len(sim.writes()) == before


def test_bad_key_400_is_an_upstream_auth_error_without_leaks(http: httpx.Client) -> None:
    response = http.post("/v1/videos", json={"model": "grok-badkey", "prompt": "p"})
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "upstream_auth_error"
    assert BAD_KEY not in response.text and BAD_KEY[:2] + "***" not in response.text
    assert "console.x.ai" not in response.text


@pytest.mark.parametrize(
    ("marker", "code"), [("[sim:fail]", "content_moderated"), ("[sim:expired]", "expired")]
)
def test_upstream_failures_are_failed_videos(
    http: httpx.Client, client: openai.OpenAI, marker: str, code: str
) -> None:
    video = done(client, create(http, prompt=f"{marker} x", seconds="1")["id"])
    assert video.status == "failed"
    assert video.error is not None and video.error.code == code and video.error.message


def test_429_at_create_is_a_429_with_retry_after(http: httpx.Client) -> None:
    response = http.post("/v1/videos", json={"model": "grok", "prompt": "[sim:429]"})
    assert response.status_code == 429 and response.headers["retry-after"] == "1"


def test_follow_ups_without_an_xai_endpoint(
    http: httpx.Client, client: openai.OpenAI, sim: Sim
) -> None:
    video = done(client, create(http, prompt="source", seconds="1")["id"])
    assert video.status == "completed", video.error
    assert not UUID.search(video.model_dump_json())  # xAI request ids never reach clients
    before = len(sim.writes())
    for path, body in (
        (f"/v1/videos/{video.id}/remix", {"prompt": "again"}),
        ("/v1/videos/edits", {"prompt": "edit", "video": {"id": video.id}}),
        ("/v1/videos/extensions", {"prompt": "more", "seconds": "2", "video": {"id": video.id}}),
    ):
        response = http.post(path, json=body)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] == "unsupported_operation"
    client.videos.delete(video.id)  # no xAI delete endpoint: nothing is sent upstream
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    assert len(sim.writes()) == before


def test_xai_api_key_in_the_environment_registers_the_auto_models() -> None:
    entries = env_entries({"xai": PROVIDERS["xai"]}, {"XAI_API_KEY": "xai-env-key"}, set())
    assert {(e.model_name, e.model, e.api_base, e.api_key) for e in entries} == {
        ("xai/grok-imagine-video", "grok-imagine-video", "https://api.x.ai/v1", "xai-env-key"),
        (
            "xai/grok-imagine-video-1.5",
            "grok-imagine-video-1.5",
            "https://api.x.ai/v1",
            "xai-env-key",
        ),
    }
