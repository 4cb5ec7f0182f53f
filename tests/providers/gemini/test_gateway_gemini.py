"""The gateway in front of the Gemini Veo simulator, over real HTTP on loopback.

The simulator plays the Gemini API (its state shows every create body it accepted, and how
each call was authenticated); the gateway is driven with the official openai SDK and httpx.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests import support
from tests.support import Gateway, GatewaySetup, Sim
from vidgate.providers.gemini.simulator import SimJob, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "AIza-sim-upstream-key"
VEO = "veo-3.1-generate-preview"
SETUP = GatewaySetup(
    provider="gemini",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=KEY),
    path="/v1beta",
    key=KEY,
    models={
        "veo": {"model": VEO, "id": "veo-a"},
        "veo-b": {"model": VEO, "id": "veo-b"},
        "veo2": "veo-2.0-generate-001",
    },
    gateway_config={"settings": {"stale_after_s": 1.0}},
    upstream_ids=lambda state: ["operations/"],
)


def create(http: httpx.Client, **body: Any) -> httpx.Response:
    return support.post_video(http, **({"model": "veo"} | body))


def job_for(sim: Sim, prompt: str) -> SimJob:
    job: SimJob = sim.find("jobs", lambda j: j.prompt == prompt)
    return job


def creates(sim: Sim) -> int:
    return sum(1 for e in sim.log() if e["method"] == "POST")


SOURCE = "a paper boat in rain"


@pytest.fixture(scope="module")
def source(gw: Gateway) -> Any:
    """A completed 4 s video on ``veo`` (tests only read it)."""
    with gw.http() as http:
        response = create(http, prompt=SOURCE, seconds="4")
    video = support.finish(gw.sdk(), response.json()["id"])
    assert video.status == "completed", video.error
    return video


def test_text_to_video_parameters_and_auth(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "a red kite over dunes"
    response = create(
        http,
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
    job = job_for(sim, prompt)
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
    video = support.finish(client, response.json()["id"])
    assert video.status == "completed", video.error
    assert (video.size, video.seconds) == ("720x1280", "6")
    polls = [p for p, via in sim.state.auth if p == f"/v1beta/{job.name}"]
    assert polls and all(via == "header" for p, via in sim.state.auth)


def test_download_follows_the_redirect_with_the_key(
    client: openai.OpenAI, sim: Sim, source: Any
) -> None:
    (file_id,) = job_for(sim, SOURCE).file_ids
    paths = [(e["path"], e["status_code"]) for e in sim.log()]
    assert (f"/v1beta/files/{file_id}:download", 302) in paths
    assert (f"/sim-storage/{file_id}", 200) in paths
    assert (f"/v1beta/files/{file_id}:download", "header") in sim.state.auth
    content = client.videos.download_content(source.id).content
    assert content[4:8] == b"ftyp"


def test_first_and_last_frame_are_inlined(http: httpx.Client, sim: Sim) -> None:
    prompt = "a flower opens"
    first, last = support.png_uri(32, 18), support.png_uri(16, 9)
    response = create(
        http,
        prompt=prompt,
        seconds="4",
        input_reference={"image_url": first},
        metadata={"last_frame": last, "person_generation": "allow_adult"},
    )
    assert response.status_code == 200, response.text
    instance = job_for(sim, prompt).request["instances"][0]
    assert instance["image"] == {
        "bytesBase64Encoded": first.split(",", 1)[1],
        "mimeType": "image/png",
    }
    assert instance["lastFrame"]["bytesBase64Encoded"] == last.split(",", 1)[1]


def test_reference_images(http: httpx.Client, sim: Sim) -> None:
    prompt = "this mug on a desk"
    refs = [support.png_uri(32, 18), support.png_uri(20, 20)]
    response = create(http, prompt=prompt, metadata={"reference_images": refs})
    assert response.status_code == 200, response.text
    instance = job_for(sim, prompt).request["instances"][0]
    assert [r["referenceType"] for r in instance["referenceImages"]] == ["asset", "asset"]
    too_short = create(http, prompt="x", seconds="4", metadata={"reference_images": refs})
    assert too_short.status_code == 400 and too_short.json()["error"]["param"] == "seconds"


def test_upstream_person_generation_400_names_the_parameter(http: httpx.Client, sim: Sim) -> None:
    before = len(sim.state.jobs)
    response = create(
        http,
        prompt="a crowd cheering",
        input_reference={"image_url": support.png_uri(32, 18)},
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
    http: httpx.Client, sim: Sim, body: dict[str, Any], param: str
) -> None:
    before = creates(sim)
    response = create(http, prompt="never sent", **body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert creates(sim) == before


def test_veo2_has_its_own_durations(http: httpx.Client, sim: Sim) -> None:
    response = create(http, model="veo2", prompt="an old film reel", seconds="5")
    assert response.status_code == 200, response.text
    params = job_for(sim, "an old film reel").request["parameters"]
    assert params == {"aspectRatio": "16:9", "durationSeconds": 5, "sampleCount": 1}
    assert create(http, model="veo2", prompt="x", seconds="4").status_code == 400


def test_operation_error_is_a_failed_job(client: openai.OpenAI, http: httpx.Client) -> None:
    broken = support.finish(
        client, create(http, prompt="[sim:op-error] x", seconds="4").json()["id"]
    )
    assert broken.status == "failed" and broken.error.code == "internal"


def test_extension_uses_the_source_file_uri(
    client: openai.OpenAI, http: httpx.Client, sim: Sim, source: Any
) -> None:
    (file_id,) = job_for(sim, SOURCE).file_ids
    response = http.post(
        "/v1/videos/extensions",
        json={
            "prompt": "the train enters a tunnel",
            "video": {"id": source.id},
            "seconds": "8",
        },
    )
    assert response.status_code == 200, response.text
    instance = job_for(sim, "the train enters a tunnel").request["instances"][0]
    assert instance["video"] == {"uri": f"{sim.url}/v1beta/files/{file_id}:download?alt=media"}
    extended = support.finish(client, response.json()["id"])
    assert extended.status == "completed", extended.error


def test_extension_needs_the_same_deployment(http: httpx.Client, source: Any) -> None:
    response = http.post(
        "/v1/videos/extensions",
        json={"model": "veo-b", "prompt": "x", "video": {"id": source.id}, "seconds": "8"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "video"
