"""The gateway in front of the Vertex AI simulator, over real HTTP on loopback.

The simulator plays Vertex AI, Google's OAuth token endpoint and Cloud Storage; its
``SimState.calls`` shows every token grant, create body (base64 elided) and download with
the credential it carried. Clients are the official openai SDK and raw httpx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import (
    Gateway,
    Sim,
    deployments,
    finish,
    png_uri,
    running_gateway,
    serve,
    video_shape,
)
from vidgate.providers.base import RuntimeContext
from vidgate.providers.registry import PROVIDERS
from vidgate.providers.vertex_ai.simulator import SimulatorConfig, create_app
from vidgate.routing.config import build_table
from vidgate.routing.dispatch import HttpUpstream, make_client
from vidgate.routing.upstream_http import UpstreamHttp
from vidgate.settings import FileConfig
from vidgate.storage.local import LocalBlobStore

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MODEL = "veo-3.1-generate-001"


@dataclass
class VertexSim(Sim):
    """The simulator, and the service account its token endpoint trusts."""

    account: dict[str, Any] = field(default_factory=dict)

    def calls(self, kind: str) -> list[dict[str, Any]]:
        return [c for c in self.state.calls if c["kind"] == kind]

    def create_body(self, prompt: str) -> dict[str, Any]:
        (call,) = [
            c for c in self.calls("create") if c["body"]["instances"][0].get("prompt") == prompt
        ]
        body: dict[str, Any] = call["body"]
        return body

    def paths(self) -> list[str]:
        return [str(e["path"]) for e in self.log()]


@pytest.fixture(scope="module")
def sim() -> Iterator[VertexSim]:
    app = create_app(SimulatorConfig(api_key=None, job_seconds=0.3, queued_seconds=0.05, fps=8))
    with serve(app) as url:
        account = httpx.get(f"{url}/__sim__/service_account").json()
        yield VertexSim(url, app.state.sim, account)


def stranger_account(account: dict[str, Any]) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return account | {"private_key": pem}


@pytest.fixture(scope="module")
def gw(sim: VertexSim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("vertex-gw")
    key_file = data_dir / "sa.json"
    key_file.write_text(json.dumps(sim.account))
    common = {"provider": "vertex_ai", "api_base": f"{sim.url}/v1", "poll_interval_s": 0.1}
    options = {"credentials": str(key_file), "gcs_base": sim.url}
    forged = options | {"credentials": stranger_account(sim.account)}
    models: dict[str, Any] = {
        "veo": {"model": MODEL, "options": options},
        "veo2": {"model": "veo-2.0-generate-001", "options": options},
        "veo-forged": {"model": MODEL, "options": forged},
    }
    config = {"model_list": deployments(common, models), "settings": {"stale_after_s": 1.0}}
    with running_gateway(data_dir, config) as gateway:
        yield gateway


def create(gw: Gateway, **body: Any) -> httpx.Response:
    with gw.http() as http:
        return http.post("/v1/videos", json={"model": "veo", "seconds": "4"} | body)


def finished(gw: Gateway, video_id: str) -> Any:
    return finish(gw.sdk(), video_id)


def test_oauth_token_and_parameters_reach_vertex(gw: Gateway, sim: VertexSim) -> None:
    prompt = "a lighthouse at dusk"
    response = create(
        gw,
        prompt=prompt,
        size="1280x720",
        seed=1234,
        metadata={
            "negative_prompt": "blurry",
            "audio": False,
            "person_generation": "dont_allow",
            "enhance_prompt": False,
            "labels": {"team": "video"},
        },
    )
    assert response.status_code == 200, response.text
    video = finished(gw, response.json()["id"])
    assert video.status == "completed", video.error
    width, height, seconds = video_shape(gw.sdk().videos.download_content(video.id).content)
    assert (width, height) == (1280, 720) and abs(seconds - 4) <= 0.5
    body = sim.create_body(prompt)
    assert body["labels"] == {"team": "video"}
    assert body["parameters"] == {
        "aspectRatio": "16:9",
        "durationSeconds": 4,
        "sampleCount": 1,
        "resolution": "720p",
        "generateAudio": False,
        "seed": 1234,
        "negativePrompt": "blurry",
        "personGeneration": "dont_allow",
        "enhancePrompt": False,
    }
    grants = sim.calls("token")
    assert grants and all(g["content_type"] == "application/x-www-form-urlencoded" for g in grants)
    assert grants[0]["claims"]["aud"] == f"{sim.url}/token"  # the key file's token_uri
    assert grants[0]["claims"]["iss"] == sim.account["client_email"]
    used = {c["authorization"] for c in sim.calls("create") + sim.calls("poll")}
    assert all(a.startswith("Bearer ya29.sim-") for a in used)
    fetches = [p for p in sim.paths() if p.endswith(":fetchPredictOperation")]
    assert fetches and all(
        p.startswith("/v1/projects/sim-project/locations/us-central1/") for p in fetches
    )


def test_storage_uri_results_are_read_from_cloud_storage(gw: Gateway, sim: VertexSim) -> None:
    response = create(gw, prompt="waves on gcs", metadata={"storage_uri": "gs://out-bucket/veo/"})
    assert response.status_code == 200, response.text
    video = finished(gw, response.json()["id"])
    assert video.status == "completed", video.error
    (download,) = [c for c in sim.calls("gcs") if c["object"].startswith("out-bucket/veo/")]
    assert download["object"].endswith("/sample_0.mp4")
    assert download["authorization"].startswith("Bearer ya29.sim-")
    assert video_shape(gw.sdk().videos.download_content(video.id).content)[:2] == (1280, 720)
    assert "gs://" not in gw.sdk().videos.retrieve(video.id).model_dump_json()


def test_image_to_video_sends_inline_bytes(gw: Gateway, sim: VertexSim) -> None:
    prompt = "[sim:fail] the image comes alive"  # ends filtered: no render needed
    response = create(
        gw,
        prompt=prompt,
        size="720x1280",
        input_reference={"image_url": png_uri(64, 36)},
        metadata={"last_frame": png_uri(64, 36), "resize_mode": "crop"},
    )
    assert response.status_code == 200, response.text
    instance = sim.create_body(prompt)["instances"][0]
    assert instance["image"]["mimeType"] == "image/png"
    assert instance["image"]["bytesBase64Encoded"].endswith("base64 chars>")
    assert instance["lastFrame"]["mimeType"] == "image/png"
    assert sim.create_body(prompt)["parameters"]["aspectRatio"] == "9:16"


def test_rejected_before_any_upstream_call(gw: Gateway, sim: VertexSim) -> None:
    before = len(sim.calls("create"))
    cases = [
        ({"size": "1920x1080", "seconds": "4"}, "seconds"),
        ({"metadata": {"person_generation": "everyone"}}, "metadata.person_generation"),
        ({"metadata": {"storage_uri": "s3://x"}}, "metadata.storage_uri"),
        ({"metadata": {"webhook": "https://x"}}, "metadata"),
        ({"model": "veo2", "seconds": "5", "metadata": {"audio": True}}, "metadata.audio"),
    ]
    for body, param in cases:
        response = create(gw, prompt="nope", **body)
        assert response.status_code == 400, response.text
        assert str(response.json()["error"]["param"]).startswith(param)
    assert len(sim.calls("create")) == before


def test_upstream_400_keeps_its_message(gw: Gateway) -> None:
    response = create(gw, prompt="x", metadata={"person_generation": "allow_all"})
    assert response.status_code == 400, response.text
    assert "allowlisted" in response.json()["error"]["message"]
    assert response.json()["error"]["code"] == "invalid_argument"


def test_bad_service_account_key_is_an_auth_error(gw: Gateway, sim: VertexSim) -> None:
    before = len(sim.calls("create"))
    response = create(gw, model="veo-forged", prompt="x")
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "upstream_auth_error" and "invalid_grant" in error["message"]
    assert "PRIVATE KEY" not in response.text and sim.url not in response.text
    assert len(sim.calls("create")) == before


def test_veo2_sends_no_audio_or_resolution(gw: Gateway, sim: VertexSim) -> None:
    response = create(gw, model="veo2", prompt="[sim:fail] veo two", seconds="5")
    assert response.status_code == 200, response.text
    params = sim.create_body("[sim:fail] veo two")["parameters"]
    assert params == {"aspectRatio": "16:9", "durationSeconds": 5, "sampleCount": 1}


def test_extension_sends_the_archived_video(gw: Gateway, sim: VertexSim) -> None:
    source = finished(gw, create(gw, prompt="a train leaves").json()["id"])
    assert source.status == "completed", source.error
    with gw.http() as http:
        wrong = http.post(
            "/v1/videos/extensions",
            json={"prompt": "x", "video": {"id": source.id}, "seconds": "4"},
        )
        assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "seconds"
        prompt = "[sim:fail] the train enters a tunnel"  # ends filtered: no 11 s render
        response = http.post(
            "/v1/videos/extensions",
            json={"prompt": prompt, "video": {"id": source.id}, "seconds": "8"},
        )
    assert response.status_code == 200, response.text
    body = sim.create_body(prompt)
    assert body["instances"][0]["video"]["mimeType"] == "video/mp4"
    assert body["instances"][0]["video"]["bytesBase64Encoded"].endswith("base64 chars>")
    assert body["parameters"]["durationSeconds"] == 8
    assert finished(gw, response.json()["id"]).status == "failed"


def test_credentials_env_registers_auto_models(tmp_path: Path, sim: VertexSim) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(sim.account))
    table = build_table(FileConfig(), PROVIDERS, {"GOOGLE_APPLICATION_CREDENTIALS": str(key_file)})
    deployment = table.group("vertex_ai/veo-3.1-generate-001")[0]
    assert deployment.options == {"credentials": str(key_file)}
    assert deployment.api_base == "https://us-central1-aiplatform.googleapis.com/v1"
    assert table.group("vertex_ai/veo-3.1-fast-generate-001")


def test_a_deployment_without_api_base_targets_its_location(tmp_path: Path) -> None:
    config = FileConfig.model_validate(
        {
            "model_list": [
                {
                    "model_name": "veo-eu",
                    "provider": "vertex_ai",
                    "model": MODEL,
                    "options": {"credentials": "/k.json", "location": "europe-west4"},
                }
            ]
        }
    )
    deployment = build_table(config, PROVIDERS).group("veo-eu")[0]
    context = RuntimeContext(tmp_path, LocalBlobStore(tmp_path))
    upstream = asyncio.run(_bound_client(deployment, context))
    assert isinstance(upstream, HttpUpstream)
    name = f"projects/p/locations/europe-west4/publishers/google/models/{MODEL}/operations/1"
    poll = upstream.adapter.build_poll(name)
    assert poll.path.startswith("https://europe-west4-aiplatform.googleapis.com/v1/projects/p/")


async def _bound_client(deployment: Any, context: RuntimeContext) -> Any:
    """The client dispatch builds for the deployment (its adapter bound to the deployment)."""
    http = UpstreamHttp()
    try:
        return make_client(PROVIDERS["vertex_ai"], deployment, context, http)
    finally:
        await http.aclose()
