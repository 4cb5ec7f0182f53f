"""The gateway in front of the Gemini Veo simulator, over real HTTP on loopback.

The simulator plays the Gemini API (its state shows every create body it accepted, and how
each call was authenticated); the gateway is driven with the official openai SDK and httpx.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.support import Gateway, running_gateway, serve
from vidgate.providers.gemini.simulator import SimJob, SimState, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "AIza-sim-upstream-key"
BAD_KEY = "AIza-not-the-upstream-key"


@dataclass
class Sim:
    url: str
    state: SimState

    def log(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/__sim__/log").json())

    def creates(self) -> int:
        return sum(1 for e in self.log() if e["method"] == "POST")

    def job(self, prompt: str) -> SimJob:
        (job,) = [j for j in self.state.jobs.values() if j.prompt == prompt]
        return job


def png_data_url(width: int = 32, height: int = 18) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=0.3, queued_seconds=0.05, fps=8))
    with serve(app) as url:
        yield Sim(url, app.state.sim)


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = {"provider": "gemini", "api_base": f"{sim.url}/v1beta", "poll_interval_s": 0.1}
    veo = "veo-3.1-generate-preview"
    config = {
        "model_list": [
            {**base, "model_name": "veo", "model": veo, "api_key": KEY, "id": "veo-a"},
            {**base, "model_name": "veo-b", "model": veo, "api_key": KEY, "id": "veo-b"},
            {**base, "model_name": "veo2", "model": "veo-2.0-generate-001", "api_key": KEY},
            {**base, "model_name": "veo-badkey", "model": veo, "api_key": BAD_KEY},
        ],
        "settings": {"stale_after_s": 1.0},
    }
    with running_gateway(tmp_path_factory.mktemp("gemini"), config) as gateway:
        yield gateway


def create(gw: Gateway, **body: Any) -> httpx.Response:
    with gw.http() as http:
        return http.post("/v1/videos", json={"model": "veo", **body})


def finished(gw: Gateway, video_id: str) -> Any:
    return gw.sdk().videos.poll(video_id, poll_interval_ms=50)


def test_text_to_video_parameters_and_auth(gw: Gateway, sim: Sim) -> None:
    prompt = "a red kite over dunes"
    response = create(
        gw,
        prompt=prompt,
        size="720x1280",
        seconds="6",
        metadata={
            "negative_prompt": "text, watermark",
            "person_generation": "allow_all",
            "enhance_prompt": False,
        },
    )
    assert response.status_code == 200, response.text
    job = sim.job(prompt)
    assert job.request == {
        "instances": [{"prompt": prompt}],
        "parameters": {
            "aspectRatio": "9:16",
            "resolution": "720p",
            "durationSeconds": 6,
            "sampleCount": 1,
            "negativePrompt": "text, watermark",
            "personGeneration": "allow_all",
            "enhancePrompt": False,
        },
    }
    assert (
        "/v1beta/models/veo-3.1-generate-preview:predictLongRunning",
        "header",
    ) in sim.state.auth
    assert KEY not in response.text and "operations/" not in response.text
    video = finished(gw, response.json()["id"])
    assert video.status == "completed", video.error
    assert (video.size, video.seconds) == ("720x1280", "6")
    polls = [p for p, via in sim.state.auth if p == f"/v1beta/{job.name}"]
    assert polls and all(via == "header" for p, via in sim.state.auth)


def test_download_follows_the_redirect_with_the_key(gw: Gateway, sim: Sim) -> None:
    prompt = "a paper boat in rain"
    video = finished(gw, create(gw, prompt=prompt, seconds="4").json()["id"])
    assert video.status == "completed", video.error
    (file_id,) = sim.job(prompt).file_ids
    paths = [(e["path"], e["status_code"]) for e in sim.log()]
    assert (f"/v1beta/files/{file_id}:download", 302) in paths
    assert (f"/sim-storage/{file_id}", 200) in paths
    assert (f"/v1beta/files/{file_id}:download", "header") in sim.state.auth
    content = gw.sdk().videos.download_content(video.id).content
    assert content[4:8] == b"ftyp"


def test_first_and_last_frame_are_inlined(gw: Gateway, sim: Sim) -> None:
    prompt = "a flower opens"
    first, last = png_data_url(), png_data_url(16, 9)
    response = create(
        gw,
        prompt=prompt,
        seconds="4",
        input_reference={"image_url": first},
        metadata={"last_frame": last, "person_generation": "allow_adult"},
    )
    assert response.status_code == 200, response.text
    instance = sim.job(prompt).request["instances"][0]
    assert instance["image"] == {
        "bytesBase64Encoded": first.split(",", 1)[1],
        "mimeType": "image/png",
    }
    assert instance["lastFrame"]["bytesBase64Encoded"] == last.split(",", 1)[1]


def test_reference_images(gw: Gateway, sim: Sim) -> None:
    prompt = "this mug on a desk"
    refs = [png_data_url(), png_data_url(20, 20)]
    response = create(gw, prompt=prompt, metadata={"reference_images": refs})
    assert response.status_code == 200, response.text
    instance = sim.job(prompt).request["instances"][0]
    assert [r["referenceType"] for r in instance["referenceImages"]] == ["asset", "asset"]
    too_short = create(gw, prompt="x", seconds="4", metadata={"reference_images": refs})
    assert too_short.status_code == 400 and too_short.json()["error"]["param"] == "seconds"


def test_upstream_person_generation_400_names_the_parameter(gw: Gateway, sim: Sim) -> None:
    before = len(sim.state.jobs)
    response = create(
        gw,
        prompt="a crowd cheering",
        input_reference={"image_url": png_data_url()},
        metadata={"person_generation": "allow_all"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "metadata.person_generation"
    assert "allow_all for personGeneration is currently not supported" in error["message"]
    assert len(sim.state.jobs) == before


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"seed": 7}, "seed"),
        ({"metadata": {"seed": 7}}, "metadata.seed"),
        ({"metadata": {"generate_audio": False}}, "metadata.generate_audio"),
        ({"metadata": {"storage_uri": "gs://b"}}, "metadata.storage_uri"),
        ({"metadata": {"audio": False}}, "metadata.audio"),
        ({"metadata": {"person_generation": "kids"}}, "metadata.person_generation"),
        ({"size": "1920x1080", "seconds": "4"}, "seconds"),
        ({"size": "1024x1024"}, "size"),
        ({"seconds": "5"}, "seconds"),
    ],
)
def test_rejected_before_any_upstream_call(
    gw: Gateway, sim: Sim, body: dict[str, Any], param: str
) -> None:
    creates = sim.creates()
    response = create(gw, prompt="never sent", **body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert sim.creates() == creates


def test_veo2_has_its_own_durations(gw: Gateway, sim: Sim) -> None:
    response = create(gw, model="veo2", prompt="an old film reel", seconds="5")
    assert response.status_code == 200, response.text
    params = sim.job("an old film reel").request["parameters"]
    assert params == {"aspectRatio": "16:9", "durationSeconds": 5, "sampleCount": 1}
    assert create(gw, model="veo2", prompt="x", seconds="4").status_code == 400


def test_failures_keep_their_codes(gw: Gateway) -> None:
    filtered = finished(gw, create(gw, prompt="[sim:fail] x", seconds="4").json()["id"])
    assert filtered.status == "failed" and filtered.error.code == "content_filtered"
    assert "Support codes" in filtered.error.message
    broken = finished(gw, create(gw, prompt="[sim:op-error] x", seconds="4").json()["id"])
    assert broken.status == "failed" and broken.error.code == "internal"


def test_bad_key_is_an_upstream_auth_error(gw: Gateway) -> None:
    response = create(gw, model="veo-badkey", prompt="x", seconds="4")
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_auth_error"
    assert BAD_KEY not in response.text and "API key not valid" not in response.text


def test_rate_limit_carries_the_retry_delay(gw: Gateway) -> None:
    response = create(gw, prompt="[sim:429] x", seconds="4")
    assert response.status_code == 429 and response.headers["retry-after"] == "1"


def test_extension_uses_the_source_file_uri(gw: Gateway, sim: Sim) -> None:
    source = finished(gw, create(gw, prompt="a train leaves", seconds="4").json()["id"])
    assert source.status == "completed", source.error
    (file_id,) = sim.job("a train leaves").file_ids
    with gw.http() as http:
        response = http.post(
            "/v1/videos/extensions",
            json={
                "prompt": "the train enters a tunnel",
                "video": {"id": source.id},
                "seconds": "8",
            },
        )
    assert response.status_code == 200, response.text
    instance = sim.job("the train enters a tunnel").request["instances"][0]
    assert instance["video"] == {"uri": f"{sim.url}/v1beta/files/{file_id}:download?alt=media"}
    extended = finished(gw, response.json()["id"])
    assert extended.status == "completed", extended.error


def test_extension_needs_the_same_deployment(gw: Gateway) -> None:
    source = finished(gw, create(gw, prompt="a bird lands", seconds="4").json()["id"])
    with gw.http() as http:
        response = http.post(
            "/v1/videos/extensions",
            json={"model": "veo-b", "prompt": "x", "video": {"id": source.id}, "seconds": "8"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "video"


def test_remix_and_edit_are_unsupported(gw: Gateway) -> None:
    source = finished(gw, create(gw, prompt="a snail", seconds="4").json()["id"])
    with pytest.raises(openai.BadRequestError) as remix:
        gw.sdk().videos.remix(source.id, prompt="a faster snail")
    assert remix.value.code == "unsupported_operation"


def test_delete_makes_no_upstream_call(gw: Gateway, sim: Sim) -> None:
    video_id = create(gw, prompt="a cup of tea", seconds="4").json()["id"]
    assert gw.sdk().videos.delete(video_id).deleted  # Veo operations cannot be cancelled
    with pytest.raises(openai.NotFoundError):
        gw.sdk().videos.retrieve(video_id)
    assert not [e for e in sim.log() if e["method"] == "DELETE"]
