"""The pure Vertex AI adapter: requests built and replies parsed as data, no network."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.providers import veo
from tests.providers.adapters import Resolver, reply, request_maker
from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, Inline, TokenAuth
from vidgate.providers.vertex_ai import PROVIDER
from vidgate.providers.vertex_ai.adapter import VertexAdapter
from vidgate.providers.vertex_ai.spec import SPEC, VEO_3_1
from vidgate.values import Asset, Deployment, ImageInput, ResolvedRequest, SourceVideo

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
ACCOUNT = {
    "type": "service_account",
    "project_id": "proj-1",
    "private_key_id": "kid-7",
    "private_key": PEM,
    "client_email": "veo@proj-1.iam.gserviceaccount.com",
    "token_uri": "https://oauth2.example.test/token",
}
NAME = (
    "projects/proj-1/locations/us-central1/publishers/google/models/veo-3.1-generate-001"
    "/operations/0b4d-11"
)
RESOURCE = NAME.rpartition("/operations/")[0]
PNG = Asset("blob", "inputs/u1/a.png", "image/png", "a.png", "d1")
MP4 = Asset("blob", "videos/v1/video.mp4", "video/mp4")


def deployment(api_base: str | None = "http://sim.test/v1", **options: Any) -> Deployment:
    return Deployment(
        id="vertex-test",
        model_name="veo",
        provider="vertex_ai",
        model="veo-3.1-generate-001",
        capabilities=VEO_3_1,
        api_base=api_base,
        options={"credentials": ACCOUNT} | options,
    )


request = request_maker("a lighthouse", "veo-3.1-generate-001", 8, (1280, 720), audio=True)


ADAPTER = VertexAdapter(deployment())
BASE = "http://sim.test/v1"
POLL = CallContext("poll", NAME)
MODEL = "veo-3.1-generate-001"


def submit(req: ResolvedRequest, dep: Deployment | None = None) -> tuple[str, dict[str, Any]]:
    call = VertexAdapter(dep or deployment()).build_submit(req, "job-1")
    assert call.method == "POST"
    return call.path, call.json


RESOLVER = Resolver(SPEC, MODEL, "a lighthouse")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


# --- registration and spec -------------------------------------------------------------


def test_provider_registration() -> None:
    assert PROVIDER.adapter is not None and PROVIDER.needs_api_base is False
    adapter = PROVIDER.adapter(deployment())
    assert isinstance(adapter, VertexAdapter) and isinstance(adapter, TokenAuth)
    assert PROVIDER.runtime is None
    assert SPEC.env == {"options.credentials": "GOOGLE_APPLICATION_CREDENTIALS"}
    assert set(SPEC.auto_models) <= set(SPEC.models)
    assert set(SPEC.prices) == set(SPEC.models)
    assert "veo-3.0-generate-001" not in SPEC.models  # retired 2026-06-30
    assert SPEC.prices["veo-3.1-generate-001"].usd(8, "4k", audio=True) == pytest.approx(4.8)
    assert SPEC.prices["veo-3.1-generate-001"].usd(8, "720p", audio=False) == pytest.approx(1.6)


# --- auth ------------------------------------------------------------------------------


def _claims(jwt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, claims, signature = jwt.split(".")
    KEY.public_key().verify(
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        f"{header}.{claims}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(claims)


def test_token_request_is_a_signed_jwt_grant() -> None:
    call = ADAPTER.build_token_request(now=1_700_000_000.7)
    assert call.method == "POST" and call.path == "https://oauth2.example.test/token"
    assert call.headers == {"Content-Type": "application/x-www-form-urlencoded"}
    assert call.data is not None and call.json is None
    assert call.data["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, claims = _claims(call.data["assertion"])
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "kid-7"}
    assert claims == {
        "iss": "veo@proj-1.iam.gserviceaccount.com",
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": "https://oauth2.example.test/token",
        "iat": 1_700_000_000,
        "exp": 1_700_003_600,
    }


def test_credentials_from_a_file_are_read_once_per_version(tmp_path: Path) -> None:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(ACCOUNT))
    adapter = VertexAdapter(deployment(credentials=str(path)))
    assert adapter.build_token_request(now=1.0).path == ACCOUNT["token_uri"]
    path.write_text(json.dumps(ACCOUNT | {"token_uri": "https://other.test/token", "x": "yz"}))
    assert adapter.build_token_request(now=1.0).path == "https://other.test/token"
    inline = VertexAdapter(deployment(credentials=json.dumps(ACCOUNT)))
    assert inline.build_token_request(now=1.0).path == ACCOUNT["token_uri"]


@pytest.mark.parametrize(
    "credentials",
    [
        "/nonexistent/sa.json",
        {"type": "authorized_user"},
        ACCOUNT | {"private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"},
        ACCOUNT | {"client_email": ""},
        "{not json",
        42,
    ],
)
def test_unusable_credentials_are_auth_errors_without_key_material(credentials: Any) -> None:
    adapter = VertexAdapter(deployment(credentials=credentials))  # built: checked on use
    with pytest.raises(UpstreamAuthError) as caught:
        adapter.build_token_request(now=1.0)
    assert "PRIVATE KEY" not in caught.value.message and PEM[40:80] not in caught.value.message


def test_deployment_options_are_checked() -> None:
    with pytest.raises(GatewayError, match="unknown option"):
        submit(request(), deployment(region="x"))
    with pytest.raises(GatewayError, match="location"):
        submit(request(), deployment(location="US Central"))
    no_project = deployment(credentials=ACCOUNT | {"project_id": None})
    with pytest.raises(GatewayError, match="project"):
        submit(request(), no_project)
    bare = Deployment(id="d", model_name="m", provider="vertex_ai", model="m", capabilities=VEO_3_1)
    with pytest.raises(GatewayError, match="credentials"):
        submit(request(), bare)


def test_parse_token_and_auth_headers() -> None:
    token, lifetime = ADAPTER.parse_token(
        reply(200, {"access_token": "ya29.x", "expires_in": "3599"})
    )
    assert (token, lifetime) == ("ya29.x", 3599.0)
    assert ADAPTER.parse_token(reply(200, {"access_token": "t"}))[1] == 3600.0
    with pytest.raises(UpstreamAuthError):
        ADAPTER.parse_token(reply(200, {"token_type": "Bearer"}))
    assert ADAPTER.auth_headers("ya29.x") == {"Authorization": "Bearer ya29.x"}
    assert ADAPTER.auth_headers(None) == {}


def test_token_endpoint_errors_are_auth_errors_without_details() -> None:
    token = CallContext("token")
    body = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    error = ADAPTER.parse_error(reply(400, body), token)
    assert isinstance(error, UpstreamAuthError) and not error.retryable
    assert "invalid_grant" in error.message and "credentials" in error.message
    assert "Signature" not in error.message
    odd = ADAPTER.parse_error(reply(401, {"error": "Not An OAuth Code!"}), token)
    assert isinstance(odd, UpstreamAuthError) and "(HTTP 401, error)" in odd.message
    busy = ADAPTER.parse_error(reply(503, "<html>busy</html>"), token)
    assert type(busy) is UpstreamError and busy.retryable  # an outage, not a refusal


# --- URLs ------------------------------------------------------------------------------


def test_urls_from_api_base_or_from_the_location() -> None:
    path, _ = submit(request())
    assert path == (
        f"{BASE}/projects/proj-1/locations/us-central1/publishers/google/models/"
        "veo-3.1-generate-001:predictLongRunning"
    )
    assert submit(request(), deployment(BASE + "/"))[0] == path
    path, _ = submit(request(), deployment(None, location="europe-west4", project="p-2"))
    assert path == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/p-2/locations/europe-west4"
        "/publishers/google/models/veo-3.1-generate-001:predictLongRunning"
    )
    assert submit(request(), deployment(None, location="global"))[0].startswith(
        "https://aiplatform.googleapis.com/v1/projects/proj-1/locations/global/"
    )
    poll = ADAPTER.build_poll(NAME)
    assert poll.method == "POST" and poll.path == f"{BASE}/{RESOURCE}:fetchPredictOperation"
    assert poll.json == {"operationName": NAME}
    regional = VertexAdapter(deployment(None, location="asia-northeast1"))
    assert regional.build_poll(NAME).path == (
        f"https://asia-northeast1-aiplatform.googleapis.com/v1/{RESOURCE}:fetchPredictOperation"
    )
    with pytest.raises(UpstreamError):
        ADAPTER.build_poll("operations/123")


def test_downloads_inline_or_from_cloud_storage() -> None:
    inline = ADAPTER.build_download(NAME, "video", "inline")
    assert inline is not None and inline.auth and inline.base64_field == "bytesBase64Encoded"
    assert inline.call.method == "POST" and inline.call.json == {"operationName": NAME}
    gcs = VertexAdapter(deployment(gcs_base="http://sim.test")).build_download(
        NAME, "video", "gs://my-bucket/out/a b/sample_0.mp4"
    )
    assert gcs is not None and gcs.auth and gcs.base64_field is None
    assert gcs.call.method == "GET" and gcs.call.params == {"alt": "media"}
    assert gcs.call.path == (
        "http://sim.test/download/storage/v1/b/my-bucket/o/out%2Fa%20b%2Fsample_0.mp4"
    )
    default = ADAPTER.build_download(NAME, "video", "gs://b/o.mp4")
    assert default is not None
    assert default.call.path == "https://storage.googleapis.com/download/storage/v1/b/b/o/o.mp4"
    assert VertexAdapter(deployment(gcs_base="http://127.0.0.1:9/")).gcs_base == (
        "http://127.0.0.1:9"
    )
    assert ADAPTER.build_download(NAME, "thumbnail", None) is None
    assert ADAPTER.build_delete(NAME) is None


# --- parameter mapping -----------------------------------------------------------------


def test_text_to_video_parameters() -> None:
    _, body = submit(request(seed=7, negative_prompt="blur"))
    assert body == {
        "instances": [{"prompt": "a lighthouse"}],
        "parameters": {
            "aspectRatio": "16:9",
            "durationSeconds": 8,
            "sampleCount": 1,
            "resolution": "720p",
            "generateAudio": True,
            "seed": 7,
            "negativePrompt": "blur",
        },
    }


@pytest.mark.parametrize(("size", "aspect", "tier"), veo.SIZES)
def test_sizes_map_to_aspect_ratio_and_resolution(
    size: tuple[int, int], aspect: str, tier: str
) -> None:
    _, body = submit(request(width=size[0], height=size[1]))
    assert (body["parameters"]["aspectRatio"], body["parameters"]["resolution"]) == (aspect, tier)


def test_veo2_sends_neither_resolution_nor_audio() -> None:
    _, body = submit(request(upstream_model="veo-2.0-generate-001", seconds=5, audio=None))
    assert body["parameters"] == {"aspectRatio": "16:9", "durationSeconds": 5, "sampleCount": 1}


def test_audio_off_is_sent_for_veo3() -> None:
    assert submit(request(audio=False))[1]["parameters"]["generateAudio"] is False


def test_images_are_inline_placeholders_or_gcs_uris() -> None:
    last = Asset("url", "gs://bucket/last.JPG")
    _, body = submit(resolved(image=PNG, last_frame=last, options={"resize_mode": "crop"}))
    instance = body["instances"][0]
    assert instance["image"] == {
        "bytesBase64Encoded": Inline(PNG),
        "mimeType": Inline(PNG, "mime_type"),
    }
    assert instance["lastFrame"] == {"gcsUri": "gs://bucket/last.JPG", "mimeType": "image/jpeg"}
    assert body["parameters"]["resizeMode"] == "crop"


def test_reference_images() -> None:
    refs = tuple(ImageInput("reference", PNG) for _ in range(2))
    _, body = submit(request(images=refs))
    assert (
        body["instances"][0]["referenceImages"]
        == [
            {
                "image": {"bytesBase64Encoded": Inline(PNG), "mimeType": Inline(PNG, "mime_type")},
                "referenceType": "asset",
            }
        ]
        * 2
    )
    rejects("metadata.reference_images", reference_images=[PNG, PNG], seconds=4)
    rejects("metadata.reference_images", reference_images=[PNG, PNG], size=(720, 1280))
    exp = "veo-2.0-generate-exp"
    style = {"reference_type": "style"}
    assert (
        "exactly one"
        in rejects(
            "metadata.reference_images", exp, reference_images=[PNG, PNG], options=style
        ).message
    )
    one = resolved(exp, reference_images=[PNG], options=style)
    assert submit(one)[1]["instances"][0]["referenceImages"][0]["referenceType"] == "style"


def test_image_combinations_rejected_before_any_job() -> None:
    rejects("metadata.last_frame", last_frame=PNG)
    rejects("metadata.reference_images", image=PNG, reference_images=[PNG])
    rejects("metadata.resize_mode", options={"resize_mode": "pad"})


def test_high_resolutions_need_eight_seconds() -> None:
    rejects("seconds", size=(1920, 1080), seconds=6)
    assert resolved(size=(1920, 1080), seconds=8).size == "1920x1080"


def test_provider_options_are_validated_and_mapped() -> None:
    options = {
        "person_generation": "dont_allow",
        "storage_uri": "gs://bucket/prefix/",
        "compression_quality": "lossless",
        "enhance_prompt": False,
        "pubsub_topic": "projects/p/topics/t",
        "labels": {"team": "video"},
    }
    _, body = submit(resolved(options=options))
    assert body["labels"] == {"team": "video"}
    assert "labels" not in submit(resolved(options={"labels": {}}))[1]  # empty: not sent
    params = body["parameters"]
    assert params["personGeneration"] == "dont_allow"
    assert params["storageUri"] == "gs://bucket/prefix/"
    assert params["compressionQuality"] == "lossless"
    assert params["enhancePrompt"] is False and params["pubsubTopic"] == "projects/p/topics/t"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("person_generation", "everyone"),
        ("storage_uri", "s3://bucket/x"),
        ("compression_quality", "max"),
        ("enhance_prompt", "yes"),
        ("resize_mode", "stretch"),
        ("pubsub_topic", "topic"),
        ("labels", {"Team": "x"}),
        ("reference_type", "pose"),
    ],
)
def test_bad_option_values_are_refused_before_any_job(key: str, value: Any) -> None:
    model = "veo-2.0-generate-exp" if key == "reference_type" else MODEL
    refused = rejects(f"metadata.{key}", model, options={key: value}, reference_images=[PNG])
    assert refused.code == "invalid_value" and "Invalid value for" in refused.message


def test_reference_type_is_an_option_of_veo2_exp_only() -> None:
    refused = rejects("metadata.reference_type", options={"reference_type": "asset"})
    assert refused.code == "unknown_parameter"


def test_seed_must_be_uint32() -> None:
    rejects("seed", seed=2**32)
    rejects("seed", seed=-1)
    assert submit(resolved(seed=2**32 - 1))[1]["parameters"]["seed"] == 2**32 - 1


def test_extension_sends_the_source_video() -> None:
    gcs = SourceVideo(MP4, "video_a", NAME, 8, "gs://bucket/out/sample_0.mp4")
    _, body = submit(request(operation="extend", source=gcs))
    assert body["instances"][0] == {
        "prompt": "a lighthouse",
        "video": {"gcsUri": "gs://bucket/out/sample_0.mp4", "mimeType": "video/mp4"},
    }
    assert body["parameters"]["durationSeconds"] == 8
    inline = SourceVideo(MP4, "video_b", NAME, 8, "inline")
    _, body = submit(resolved(operation="extend", source=inline, seconds=8))
    assert body["instances"][0]["video"] == {
        "bytesBase64Encoded": Inline(MP4),
        "mimeType": "video/mp4",
    }


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"seconds": 4}, "seconds"),
        ({"source_size": (1920, 1080)}, "video"),
        ({"source": SourceVideo(MP4, seconds=31)}, "video"),
        ({"source": SourceVideo(None, seconds=8)}, "video"),
        ({"image": PNG}, "input_reference"),
    ],
)
def test_extension_limits(changes: dict[str, Any], param: str) -> None:
    base = {"operation": "extend", "source": SourceVideo(MP4, seconds=8), "seconds": 8}
    rejects(param, **(base | changes))


def test_extension_from_another_deployment_sends_the_archived_bytes() -> None:
    elsewhere = SourceVideo(MP4, "video_c", None, 12, None)  # no upstream id or location here
    _, body = submit(resolved(operation="extend", source=elsewhere, seconds=8))
    assert body["instances"][0]["video"] == {
        "bytesBase64Encoded": Inline(MP4),
        "mimeType": "video/mp4",
    }


# --- state parsing ---------------------------------------------------------------------


def test_pending_operations_are_running() -> None:
    for body in ({"name": NAME}, {"name": NAME, "done": False}, {"name": NAME, "done": "yes"}):
        state = ADAPTER.parse_state(reply(200, body), POLL)
        assert (state.status, state.raw_status, state.upstream_id) == (
            "in_progress",
            "running",
            NAME,
        )
        assert state.progress == 0 and not state.results


def test_unknown_metadata_keeps_running() -> None:
    body = {"name": NAME, "done": False, "metadata": {"state": "WARMING_UP"}}
    assert ADAPTER.parse_state(reply(200, body), POLL).status == "in_progress"


def test_inline_success() -> None:
    video = {"bytesBase64Encoded": "AAAA", "mimeType": "video/mp4"}
    body = {"name": NAME, "done": True, "response": {"raiMediaFilteredCount": 0, "videos": [video]}}
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.progress, state.results) == ("completed", 100, {"video": "inline"})
    assert "AAAA" not in repr(state)


def test_gcs_success() -> None:
    video = {"gcsUri": "gs://b/p/sample_0.mp4", "mimeType": "video/mp4"}
    body = {"name": NAME, "done": True, "response": {"videos": [video]}}
    assert ADAPTER.parse_state(reply(200, body), POLL).results == {"video": "gs://b/p/sample_0.mp4"}


def test_done_with_error_is_failed() -> None:
    body = {
        "name": NAME,
        "done": True,
        "error": {"code": 3, "message": "Bad image in projects/p/x"},
    }
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.error_code) == ("failed", "invalid_argument")
    assert state.error_message == "Bad image in <resource>"
    weird = {"name": NAME, "done": True, "error": {"code": "x"}}
    assert ADAPTER.parse_state(reply(200, weird), POLL).error_code == "upstream_failed"


def test_content_filtered_is_failed() -> None:
    response = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["Unsafe prompt."]}
    state = ADAPTER.parse_state(
        reply(200, {"name": NAME, "done": True, "response": response}), POLL
    )
    assert (state.status, state.raw_status, state.error_code) == (
        "failed",
        "content_filtered",
        "content_filtered",
    )
    assert state.error_message is not None and "Unsafe prompt." in state.error_message


def test_done_without_result_is_failed() -> None:
    for response in ({}, {"videos": []}, {"videos": [{"mimeType": "video/mp4"}]}, "x"):
        state = ADAPTER.parse_state(
            reply(200, {"name": NAME, "done": True, "response": response}), POLL
        )
        assert (state.status, state.error_code) == ("failed", "no_result")


@pytest.mark.parametrize("body", [{}, '{"name": "proj', [], {"done": True}])
def test_malformed_bodies_raise_instead_of_ending_the_job(body: Any) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, body), POLL)


def test_every_raw_status_is_mapped() -> None:
    assert SPEC.status_map == {
        "running": "in_progress",
        "succeeded": "completed",
        "failed": "failed",
        "content_filtered": "failed",
    }
    assert SPEC.map_status("anything-else") == "in_progress"


# --- errors ----------------------------------------------------------------------------


def google(code: int, message: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


def test_error_mapping() -> None:
    bad = ADAPTER.parse_error(
        reply(
            400,
            google(
                400, "Unsupported durationSeconds at https://x.googleapis.com/y", "INVALID_ARGUMENT"
            ),
        ),
        POLL,
    )
    assert isinstance(bad, InvalidRequest) and bad.code == "invalid_argument"
    assert "Unsupported durationSeconds" in bad.message and "googleapis" not in bad.message
    for status in (401, 403):
        denied = ADAPTER.parse_error(
            reply(status, google(status, "Permission denied", "PERMISSION_DENIED")), POLL
        )
        assert isinstance(denied, UpstreamAuthError)
    assert isinstance(
        ADAPTER.parse_error(reply(404, google(404, "x", "NOT_FOUND")), POLL), NotFound
    )
    retry = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}]
    limited = ADAPTER.parse_error(
        reply(429, google(429, "Quota", "RESOURCE_EXHAUSTED", details=retry)), POLL
    )
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 30
    header = ADAPTER.parse_error(
        reply(429, google(429, "Quota", "RESOURCE_EXHAUSTED"), **{"retry-after": "7"}), POLL
    )
    assert header.retry_after_s == 7
    for status in (500, 503):
        failed = ADAPTER.parse_error(reply(status, google(status, "Internal", "INTERNAL")), POLL)
        assert type(failed) is UpstreamError and failed.retryable
    assert type(ADAPTER.parse_error(reply(502, "<html>bad gateway</html>"), POLL)) is UpstreamError
