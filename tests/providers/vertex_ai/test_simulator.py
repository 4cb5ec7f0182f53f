"""The Vertex AI Veo simulator, driven over real HTTP by the official google-genai SDK.

The SDK runs in Vertex mode with a ``google.oauth2.service_account.Credentials`` whose
``token_uri`` points at the simulator, so ``google-auth`` performs the real JWT-bearer token
exchange (RS256 assertion signed with a key pair made here) before every API call.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google import genai
from google.auth.exceptions import RefreshError
from google.genai import errors, types
from google.oauth2 import service_account

from tests.providers.simulators import SimSetup, decoded_shape
from tests.support import png_bytes
from vidgate.providers.vertex_ai.simulator import SimState, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
MODEL = "veo-3.1-generate-001"
PROJECT = "sim-project"


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CONFIG = SimulatorConfig(
    private_key_pem=pem(KEY), job_seconds=0.3, queued_seconds=0.05, hang_seconds=0.3
)
SIMULATOR = SimSetup(create_app, CONFIG)


def account_info(base_url: str, key: rsa.RSAPrivateKey = KEY, **changes: Any) -> dict[str, Any]:
    info = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "k1",
        "private_key": pem(key),
        "client_email": CONFIG.client_email,
        "client_id": "1",
        "token_uri": f"{base_url}/token",
    }
    return info | changes


def make_client(base_url: str, info: dict[str, Any], project: str = PROJECT) -> genai.Client:
    credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])  # type: ignore[no-untyped-call]
    return genai.Client(
        vertexai=True,
        project=project,
        location="us-central1",
        credentials=credentials,
        http_options=types.HttpOptions(base_url=base_url),
    )


@pytest.fixture
def client(base_url: str, state: SimState) -> genai.Client:
    return make_client(base_url, account_info(base_url))


def veo3(**changes: Any) -> types.GenerateVideosConfig:
    base: dict[str, Any] = {"duration_seconds": 4, "generate_audio": True}
    return types.GenerateVideosConfig(**(base | changes))


def last_create(state: SimState) -> dict[str, Any]:
    body: dict[str, Any] = [c for c in state.calls if c["kind"] == "create"][-1]["body"]
    return body


def finish(client: genai.Client, operation: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while not operation.done:
        assert time.monotonic() < deadline, "operation did not finish"
        time.sleep(0.05)
        operation = client.operations.get(operation)
    return operation


def test_text_to_video_inline_with_the_real_token_exchange(
    client: genai.Client, base_url: str, state: SimState
) -> None:
    operation = client.models.generate_videos(
        model=MODEL,
        prompt="a lighthouse at dusk",
        config=veo3(
            aspect_ratio="16:9",
            resolution="720p",
            seed=42,
            negative_prompt="blur",
            person_generation="allow_adult",
            enhance_prompt=True,
            number_of_videos=1,
        ),
    )
    assert operation.name.startswith(
        f"projects/{PROJECT}/locations/us-central1/publishers/google/models/{MODEL}/operations/"
    )
    assert not operation.done
    done = finish(client, operation)
    assert done.error is None and done.response is not None
    video = done.response.generated_videos[0].video
    assert video.mime_type == "video/mp4" and video.uri is None
    width, height, seconds = decoded_shape(video.video_bytes)
    assert (width, height) == (1280, 720) and abs(seconds - 4) <= 0.5
    (grant,) = [c for c in state.calls if c["kind"] == "token"]
    assert grant["content_type"] == "application/x-www-form-urlencoded"
    assert grant["claims"]["iss"] == CONFIG.client_email and grant["claims"]["scope"] == SCOPE
    assert grant["claims"]["aud"] == "https://oauth2.googleapis.com/token"  # what google-auth signs
    (create,) = [c for c in state.calls if c["kind"] == "create"]
    assert create["authorization"].startswith("Bearer ya29.sim-")
    assert create["body"]["parameters"] == {
        "aspectRatio": "16:9",
        "resolution": "720p",
        "durationSeconds": 4,
        "seed": 42,
        "negativePrompt": "blur",
        "personGeneration": "allow_adult",
        "enhancePrompt": True,
        "generateAudio": True,
        "sampleCount": 1,
    }
    paths = [e["path"] for e in httpx.get(f"{base_url}/__sim__/log").json()]
    assert any(
        p.startswith("/v1beta1/projects/") and p.endswith(":predictLongRunning") for p in paths
    )
    assert any(p.endswith(":fetchPredictOperation") for p in paths)


def test_storage_uri_results_are_gcs_objects(
    client: genai.Client, base_url: str, state: SimState
) -> None:
    operation = client.models.generate_videos(
        model=MODEL,
        prompt="waves",
        config=veo3(output_gcs_uri="gs://my-bucket/out/"),
    )
    video = finish(client, operation).response.generated_videos[0].video
    assert video.uri.startswith("gs://my-bucket/out/") and video.uri.endswith("/sample_0.mp4")
    assert video.video_bytes is None
    name = video.uri.removeprefix("gs://my-bucket/")
    url = f"{base_url}/download/storage/v1/b/my-bucket/o/{name.replace('/', '%2F')}"
    token = next(iter(state.tokens))
    denied = httpx.get(url, params={"alt": "media"})
    assert (
        denied.status_code == 401 and denied.json()["error"]["errors"][0]["reason"] == "authError"
    )
    got = httpx.get(url, params={"alt": "media"}, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
    assert decoded_shape(got.content)[:2] == (1280, 720)
    missing = httpx.get(
        f"{base_url}/download/storage/v1/b/my-bucket/o/nope.mp4",
        params={"alt": "media"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert missing.status_code == 404 and "No such object" in missing.json()["error"]["message"]


def test_image_and_last_frame_are_inline_bytes(client: genai.Client, state: SimState) -> None:
    image = types.Image(image_bytes=png_bytes(64, 36), mime_type="image/png")
    operation = client.models.generate_videos(
        model=MODEL,
        prompt="from here to there",
        image=image,
        config=veo3(last_frame=image, resize_mode="crop"),
    )
    assert finish(client, operation).response.generated_videos
    instance = last_create(state)["instances"][0]
    assert instance["image"]["mimeType"] == "image/png"
    assert instance["image"]["bytesBase64Encoded"].endswith("base64 chars>")
    assert "lastFrame" in instance
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_videos(
            model=MODEL,
            prompt="broken",
            image=types.Image(image_bytes=b"not an image", mime_type="image/png"),
            config=veo3(),
        )
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"


def test_reference_images_and_extension(client: genai.Client, state: SimState) -> None:
    reference = types.VideoGenerationReferenceImage(
        image=types.Image(image_bytes=png_bytes(64, 36), mime_type="image/png"),
        reference_type="asset",
    )
    with pytest.raises(errors.ClientError, match="8 seconds at 16:9"):
        client.models.generate_videos(
            model=MODEL, prompt="a hat", config=veo3(reference_images=[reference])
        )
    first = client.models.generate_videos(model=MODEL, prompt="start", config=veo3())
    source = finish(client, first).response.generated_videos[0].video
    out = "gs://bucket/ext/"  # results in storage: the simulator renders only on download
    from_bytes = client.models.generate_videos(
        model=MODEL,
        prompt="keep going",
        video=types.Video(video_bytes=source.video_bytes, mime_type="video/mp4"),
        config=veo3(duration_seconds=8, output_gcs_uri=out),
    )
    uri = finish(client, from_bytes).response.generated_videos[0].video.uri
    assert state.objects[uri.removeprefix("gs://")] == (1280, 720, 11)  # 4 s + 7 s
    from_gcs = client.models.generate_videos(
        model=MODEL,
        prompt="and again",
        video=types.Video(uri=uri, mime_type="video/mp4"),
        config=veo3(duration_seconds=8, output_gcs_uri=out),
    )
    again = finish(client, from_gcs).response.generated_videos[0].video.uri
    assert state.objects[again.removeprefix("gs://")] == (1280, 720, 18)
    assert last_create(state)["instances"][0]["video"] == {"gcsUri": uri, "mimeType": "video/mp4"}
    with pytest.raises(errors.ClientError, match="Unable to read video"):
        client.models.generate_videos(
            model=MODEL,
            prompt="x",
            video=types.Video(uri="gs://bucket/missing.mp4", mime_type="video/mp4"),
            config=veo3(duration_seconds=8),
        )
    with pytest.raises(errors.ClientError, match="not supported"):
        client.models.generate_videos(
            model="veo-3.1-lite-generate-001",
            prompt="x",
            video=types.Video(uri=uri, mime_type="video/mp4"),
            config=veo3(duration_seconds=8),
        )


@pytest.mark.parametrize(
    ("model", "config", "message"),
    [
        (MODEL, {"duration_seconds": 4}, "generateAudio is required"),
        (
            MODEL,
            {"duration_seconds": 4, "generate_audio": True, "resolution": "1080p"},
            "must be 8",
        ),
        (MODEL, {"duration_seconds": 5, "generate_audio": True}, "Unsupported durationSeconds"),
        ("veo-2.0-generate-001", {"duration_seconds": 5, "generate_audio": True}, "not supported"),
        ("veo-2.0-generate-001", {"duration_seconds": 5, "resolution": "720p"}, "resolution"),
        (MODEL, {"duration_seconds": 4, "generate_audio": True, "fps": 30}, "fps"),
        (MODEL, {"duration_seconds": 4, "generate_audio": True, "seed": -1}, "seed"),
        (
            MODEL,
            {"duration_seconds": 4, "generate_audio": True, "person_generation": "allow_all"},
            "allowlisted",
        ),
    ],
)
def test_invalid_requests_are_400(
    client: genai.Client, model: str, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(errors.ClientError, match=message) as caught:
        client.models.generate_videos(
            model=model, prompt="x", config=types.GenerateVideosConfig(**config)
        )
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"


def test_retired_and_unknown_models_are_404(client: genai.Client) -> None:
    for model in ("veo-3.0-generate-001", "veo-3.1-generate-preview", "veo-9"):
        with pytest.raises(errors.ClientError) as caught:
            client.models.generate_videos(model=model, prompt="x", config=veo3())
        assert caught.value.code == 404 and caught.value.status == "NOT_FOUND"


def test_auth_failures(base_url: str, state: SimState) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = make_client(base_url, account_info(base_url, stranger))
    with pytest.raises(RefreshError, match="invalid_grant: Invalid JWT Signature"):
        forged.models.generate_videos(model=MODEL, prompt="x", config=veo3())
    unknown = make_client(
        base_url, account_info(base_url, client_email="who@x.iam.gserviceaccount.com")
    )
    with pytest.raises(RefreshError, match="account not found"):
        unknown.models.generate_videos(model=MODEL, prompt="x", config=veo3())
    other = make_client(base_url, account_info(base_url), project="someone-elses")
    with pytest.raises(errors.ClientError) as caught:
        other.models.generate_videos(model=MODEL, prompt="x", config=veo3())
    assert caught.value.code == 403 and caught.value.status == "PERMISSION_DENIED"
    path = f"/v1/projects/{PROJECT}/locations/us-central1/publishers/google/models/{MODEL}"
    missing = httpx.post(f"{base_url}{path}:predictLongRunning", json={})
    assert missing.status_code == 401 and missing.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "www-authenticate" in missing.headers
    bad = httpx.post(
        f"{base_url}{path}:predictLongRunning",
        json={},
        headers={"Authorization": "Bearer ya29.forged"},
    )
    assert bad.status_code == 401
    grant = httpx.post(f"{base_url}/token", data={"grant_type": "password", "assertion": "x"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


def test_static_token_and_express_mode(base_url: str, state: SimState) -> None:
    body = {
        "instances": [{"prompt": "x"}],
        "parameters": {"durationSeconds": 4, "generateAudio": False},
    }
    path = f"/v1/projects/{PROJECT}/locations/us-central1/publishers/google/models/{MODEL}"
    static = httpx.post(
        f"{base_url}{path}:predictLongRunning",
        json=body,
        headers={"Authorization": f"Bearer {CONFIG.api_key}"},
    )
    assert static.status_code == 200, static.text
    express = httpx.post(
        f"{base_url}/v1/publishers/google/models/{MODEL}:predictLongRunning",
        json=body,
        headers={"x-goog-api-key": str(CONFIG.api_key)},
    )
    assert express.status_code == 200 and express.json()["name"].startswith("projects/")
    wrong = httpx.post(
        f"{base_url}/v1/publishers/google/models/{MODEL}:predictLongRunning",
        json=body,
        headers={"x-goog-api-key": "nope"},
    )
    assert wrong.status_code == 400 and "API key not valid" in wrong.json()["error"]["message"]


def test_service_account_endpoint_is_usable(base_url: str, state: SimState) -> None:
    info = httpx.get(f"{base_url}/__sim__/service_account").json()
    assert info["token_uri"] == f"{base_url}/token" and info["type"] == "service_account"
    client = make_client(base_url, info)
    operation = client.models.generate_videos(model=MODEL, prompt="ok", config=veo3())
    assert operation.name


def test_create_faults(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_videos(model=MODEL, prompt="[sim:429] busy", config=veo3())
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    details = caught.value.details["error"]["details"]
    assert details[0]["@type"].endswith("google.rpc.RetryInfo") and details[0]["retryDelay"] == "1s"
    with pytest.raises(errors.ServerError) as failed:
        client.models.generate_videos(model=MODEL, prompt="[sim:500] down", config=veo3())
    assert failed.value.code == 500 and failed.value.status == "INTERNAL"


def test_operation_faults(client: genai.Client, state: SimState) -> None:
    def start(marker: str) -> Any:
        return client.models.generate_videos(model=MODEL, prompt=f"[sim:{marker}] x", config=veo3())

    blocked, broken, limited, odd, malformed, slow = (
        start(m) for m in ("fail", "op-error", "poll-429", "unknown-status", "malformed", "slow")
    )
    with pytest.raises(errors.ClientError) as caught:
        client.operations.get(limited)
    assert caught.value.code == 429
    with pytest.raises(ValueError):  # a truncated JSON body
        client.operations.get(malformed)
    seen = client.operations.get(odd)
    assert seen.done is False and seen.metadata["state"] == "WARMING_UP"
    assert state.operations[slow.name].timeline.duration_s == pytest.approx(CONFIG.job_seconds * 10)
    blocked = finish(client, blocked)
    assert blocked.response.rai_media_filtered_count == 1
    assert blocked.response.rai_media_filtered_reasons and not blocked.response.generated_videos
    broken = finish(client, broken)
    assert broken.error["code"] == 13 and broken.response is None
    for operation in (limited, odd, malformed):
        assert finish(client, operation).response.generated_videos


def test_hang_waits_and_gives_up_with_the_caller(base_url: str, state: SimState) -> None:
    path = f"/v1/projects/{PROJECT}/locations/us-central1/publishers/google/models/{MODEL}"
    body = {"instances": [{"prompt": "[sim:hang] x"}], "parameters": {"generateAudio": True}}
    headers = {"Authorization": f"Bearer {CONFIG.api_key}"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{base_url}{path}:predictLongRunning", json=body, headers=headers, timeout=0.1)
    started = time.monotonic()
    answered = httpx.post(f"{base_url}{path}:predictLongRunning", json=body, headers=headers)
    assert answered.status_code == 200 and time.monotonic() - started >= CONFIG.hang_seconds


def test_poll_of_unknown_operation_is_404(client: genai.Client, base_url: str) -> None:
    name = f"projects/{PROJECT}/locations/us-central1/publishers/google/models/{MODEL}/operations/x"
    with pytest.raises(errors.ClientError) as caught:
        client.operations.get(types.GenerateVideosOperation(name=name))
    assert caught.value.code == 404


def test_inline_result_is_base64_of_an_mp4(
    client: genai.Client, base_url: str, state: SimState
) -> None:
    operation = finish(
        client, client.models.generate_videos(model=MODEL, prompt="cat", config=veo3())
    )
    token = next(iter(state.tokens))
    raw = httpx.post(
        f"{base_url}/v1/{operation.name.rpartition('/operations/')[0]}:fetchPredictOperation",
        json={"operationName": operation.name},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert raw["done"] is True and raw["response"]["@type"].endswith("GenerateVideoResponse")
    (video,) = raw["response"]["videos"]
    assert video["mimeType"] == "video/mp4"
    assert decoded_shape(base64.b64decode(video["bytesBase64Encoded"]))[2] == pytest.approx(
        4, abs=0.5
    )


def test_veo2_takes_no_audio_or_resolution(client: genai.Client, state: SimState) -> None:
    config = types.GenerateVideosConfig(
        duration_seconds=5, output_gcs_uri="gs://b/v2", number_of_videos=2
    )
    operation = client.models.generate_videos(
        model="veo-2.0-generate-001", prompt="cat", config=config
    )
    videos = finish(client, operation).response.generated_videos
    assert [v.video.uri.rsplit("/", 1)[-1] for v in videos] == ["sample_0.mp4", "sample_1.mp4"]
    assert state.objects[videos[0].video.uri.removeprefix("gs://")] == (1280, 720, 5)
