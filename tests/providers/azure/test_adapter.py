"""The pure Azure adapter: both protocols built and parsed as data, no network."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from tests.providers.adapters import Resolver, deployment_maker, reply, request_maker
from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.azure import PROVIDER
from vidgate.providers.azure.adapter import AzureAdapter, settings
from vidgate.providers.azure.spec import (
    ANY_DEPLOYMENT,
    JOBS_STATUS,
    SORA_1,
    SORA_2,
    SORA_2_PRO,
    SPEC,
)
from vidgate.providers.base import CallContext, FilePart
from vidgate.request import VideoRequest, resolve
from vidgate.values import Asset, Deployment, ImageInput, ResolvedRequest, SourceVideo

KEY = "azure-secret-key"
V1_DEP = deployment_maker(
    SPEC, "sora-2", "az-v1", "https://myres.openai.azure.com", KEY, model_name="sora"
)()
JOBS_DEP = dataclasses.replace(
    V1_DEP, id="az-jobs", model="sora", capabilities=SORA_1, options={"api": "jobs"}
)
VIDEO_ID = "video_" + "cd" * 24
PNG = Asset("blob", "inputs/u1/ref.png", "image/png", "ref.png", "d1")
ADAPTER = AzureAdapter(V1_DEP)
JOBS_ADAPTER = AzureAdapter(JOBS_DEP)
V1_POLL = CallContext("poll", VIDEO_ID)
JOBS_POLL = CallContext("poll", "jobs:task_01jy98zkvpfb7909522ysd150a")

request = request_maker("a rocket landing on mars", "sora-2", 8, (1280, 720))


def submit(req: ResolvedRequest, deployment: Deployment = V1_DEP, key: str = "k") -> Any:
    return AzureAdapter(deployment).build_submit(req, key)


RESOLVER = Resolver(SPEC, "sora-2", "a rocket")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


def job(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "object": "video.generation.job",
        "id": "task_01jy98zkvpfb7909522ysd150a",
        "status": status,
        "generations": [],
        "failure_reason": None,
        **extra,
    }


# --- deployment settings ---------------------------------------------------------------


def test_provider_is_registered_shape() -> None:
    assert PROVIDER.spec is SPEC and PROVIDER.adapter is not None
    assert isinstance(PROVIDER.adapter(V1_DEP), AzureAdapter)
    assert SPEC.env == {"api_key": "AZURE_API_KEY", "api_base": "AZURE_API_BASE"}
    assert SPEC.auto_models == ("sora-2",)
    assert SPEC.capabilities("my-custom-name") is ANY_DEPLOYMENT
    assert set(JOBS_STATUS) == {
        "preprocessing",
        "queued",
        "running",
        "processing",
        "succeeded",
        "failed",
        "cancelled",
    }
    assert SPEC.prices["sora-2"].usd(8, "720p") == pytest.approx(0.8)


def test_settings_defaults_and_base_model() -> None:
    assert settings(V1_DEP) == settings(dataclasses.replace(V1_DEP, options={"api": "v1"}))
    assert settings(V1_DEP).base_model == "sora-2" and settings(V1_DEP).api_version is None
    custom = dataclasses.replace(V1_DEP, model="video-prod", options={"base_model": "sora-2-pro"})
    assert settings(custom).base_model == "sora-2-pro"
    assert settings(dataclasses.replace(V1_DEP, model="video-prod")).base_model == "sora-2"
    legacy = dataclasses.replace(V1_DEP, model="my-sora", options={"api": "jobs"})
    assert settings(legacy).base_model == "sora"


@pytest.mark.parametrize(
    "options",
    [
        {"api": "rest"},
        {"api": "jobs", "base_model": "sora-2"},
        {"base_model": "sora-3"},
        {"api_version": ""},
        {"region": "x"},
    ],
)
def test_bad_settings_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(GatewayError) as caught:
        settings(dataclasses.replace(V1_DEP, options=options))
    assert caught.value.status == 500 and "misconfigured" in caught.value.message


def test_sora_1_deployment_without_api_jobs_is_refused() -> None:
    with pytest.raises(GatewayError, match=r"options\.api: jobs"):
        submit(request(), dataclasses.replace(JOBS_DEP, options={}), "video_x")


def test_api_base_must_be_the_resource_endpoint() -> None:
    bad = dataclasses.replace(V1_DEP, api_base="https://myres.openai.azure.com/openai/v1")
    with pytest.raises(GatewayError, match="resource endpoint"):
        submit(request(), bad, "video_x")


# --- auth ------------------------------------------------------------------------------


def test_auth_is_the_api_key_header() -> None:
    assert ADAPTER.auth_headers(None) == {"api-key": KEY}
    assert AzureAdapter(dataclasses.replace(V1_DEP, api_key=None)).auth_headers(None) == {}


# --- v1 --------------------------------------------------------------------------------


def test_v1_create_json_with_deployment_name_as_model() -> None:
    dep = dataclasses.replace(V1_DEP, model="video-prod")
    call = submit(request(upstream_model="video-prod"), dep, "video_gw")
    assert (call.method, call.path, call.params) == ("POST", "/openai/v1/videos", None)
    assert call.json == {
        "prompt": "a rocket landing on mars",
        "model": "video-prod",
        "seconds": "8",
        "size": "1280x720",
    }
    assert "Authorization" not in call.headers


def test_v1_api_version_when_configured() -> None:
    dep = dataclasses.replace(V1_DEP, options={"api_version": "preview"})
    assert submit(request(), dep, "k").params == {"api-version": "preview"}


def test_v1_image_goes_as_multipart_input_reference() -> None:
    call = submit(request(images=(ImageInput("first_frame", PNG),)), V1_DEP, "k")
    assert call.files == (FilePart("input_reference", PNG, "ref.png", "image/png"),)
    assert call.data is not None and call.data["seconds"] == "8"


def test_v1_remix_uses_the_source_upstream_id() -> None:
    source = SourceVideo(None, "video_gw", VIDEO_ID, 8)
    call = submit(request(operation="remix", source=source), V1_DEP, "k")
    assert call.path == f"/openai/v1/videos/{VIDEO_ID}/remix" and call.json == {
        "prompt": "a rocket landing on mars"
    }


@pytest.mark.parametrize("model", ["sora-2", "sora-2-pro", "video-prod"])
def test_v1_remix_of_a_video_from_elsewhere_is_refused_before_the_job(model: str) -> None:
    elsewhere = SourceVideo(None, "video_gw", None, 8)
    assert "same deployment" in rejects("video", model, operation="remix", source=elsewhere).message


@pytest.mark.parametrize("model", ["sora-2", "sora", "video-prod"])
def test_options_are_refused_before_the_job(model: str) -> None:
    error = rejects("metadata.quality", model, options={"quality": "high"})
    assert error.code == "unknown_parameter"


@pytest.mark.parametrize(
    ("fields", "param"), [({"seconds": 16}, "seconds"), ({"size": (480, 854)}, "size")]
)
def test_a_custom_name_is_checked_against_its_base_model_before_the_job(
    fields: dict[str, Any], param: str
) -> None:
    caps = SPEC.capabilities_for("video-prod", {"base_model": "sora-2"})
    assert caps is SORA_2
    video = VideoRequest("create", "p", **fields)
    with pytest.raises(InvalidRequest) as caught:
        resolve(video, caps, model_name="custom", upstream_model="video-prod")
    assert caught.value.param == param


def test_deployment_capabilities_follow_the_base_model() -> None:
    assert SPEC.capabilities_for("sora-2", {}) is SORA_2
    assert SPEC.capabilities_for("video-prod", {}) is SORA_2  # the v1 API's default
    assert SPEC.capabilities_for("video-prod", {"api": "jobs"}) is SORA_1
    assert SPEC.capabilities_for("video-prod", {"base_model": "sora-2-pro"}) is SORA_2_PRO
    # a misconfiguration keeps the union; the adapter then says how to fix it
    assert SPEC.capabilities_for("video-prod", {"base_model": "sora-3"}) is ANY_DEPLOYMENT
    assert SPEC.capabilities_for("video-prod", {"api": "jobs", "base_model": "sora-2"}) is (
        ANY_DEPLOYMENT
    )


def test_v1_follow_ups() -> None:
    assert ADAPTER.build_poll(VIDEO_ID).path == f"/openai/v1/videos/{VIDEO_ID}"
    download = ADAPTER.build_download(VIDEO_ID, "video", None)
    assert download is not None and download.auth
    assert download.call.path == f"/openai/v1/videos/{VIDEO_ID}/content"
    assert download.call.params == {"variant": "video"}
    assert ADAPTER.build_download(VIDEO_ID, "thumbnail", None) is None
    delete = ADAPTER.build_delete(VIDEO_ID)
    assert delete is not None and (delete.method, delete.path) == (
        "DELETE",
        f"/openai/v1/videos/{VIDEO_ID}",
    )


def v1_video(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": VIDEO_ID, "object": "video", "status": status, "progress": 0, **extra}


@pytest.mark.parametrize(
    ("raw", "status", "progress"),
    [
        ("queued", "queued", 42),
        ("in_progress", "in_progress", 42),
        ("completed", "completed", 100),
        ("rendering", "in_progress", 42),
    ],
)
def test_v1_states(raw: str, status: str, progress: int) -> None:
    state = ADAPTER.parse_state(reply(200, v1_video(raw, progress=42)), V1_POLL)
    assert (state.upstream_id, state.status, state.progress) == (VIDEO_ID, status, progress)
    assert state.raw_status == raw and state.results == {}


def test_v1_failure_carries_code_and_scrubbed_message() -> None:
    error = {"code": "moderation_blocked", "message": f"Video {VIDEO_ID} was blocked."}
    state = ADAPTER.parse_state(reply(200, v1_video("failed", error=error)), V1_POLL)
    assert state.status == "failed" and state.error_code == "moderation_blocked"
    assert state.error_message == "Video <upstream id> was blocked."
    bare = ADAPTER.parse_state(reply(200, v1_video("failed", error=None)), V1_POLL)
    assert bare.error_code == "generation_failed" and bare.error_message


@pytest.mark.parametrize("body", [{}, "<html>", {"status": "queued"}])
def test_malformed_bodies_raise(body: Any) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, body), V1_POLL)


# --- legacy jobs -----------------------------------------------------------------------


def test_jobs_create_json() -> None:
    call = submit(request(width=480, height=854, seconds=5), JOBS_DEP, "k")
    assert (call.method, call.path) == ("POST", "/openai/v1/video/generations/jobs")
    assert call.params == {"api-version": "preview"}
    assert call.json == {
        "model": "sora",
        "prompt": "a rocket landing on mars",
        "width": 480,
        "height": 854,
        "n_seconds": 5,
        "n_variants": 1,
    }


def test_jobs_create_honours_api_version() -> None:
    dep = dataclasses.replace(
        JOBS_DEP, options={"api": "jobs", "api_version": "2025-04-01-preview"}
    )
    assert submit(request(), dep, "k").params == {"api-version": "2025-04-01-preview"}


def test_jobs_image_is_multipart_with_inpaint_items() -> None:
    call = submit(request(images=(ImageInput("first_frame", PNG),)), JOBS_DEP, "k")
    assert call.json is None and call.files == (FilePart("files", PNG, "ref.png", "image/png"),)
    assert call.data is not None and call.data["width"] == "1280"
    (item,) = json.loads(call.data["inpaint_items"])
    assert item["frame_index"] == 0 and item["type"] == "image" and item["file_name"] == "ref.png"
    assert item["crop_bounds"]["right_fraction"] == 1.0


@pytest.mark.parametrize(
    "asset", [Asset("url", "https://example.com/a.png"), Asset("url", "data:image/png;base64,AA")]
)
def test_jobs_image_url_is_refused(asset: Asset) -> None:
    """The jobs API takes images as multipart files only: refused while resolving, for a
    deployment named ``sora`` and for another name whose base model is Sora 1 alike."""
    assert "uploaded files only" in rejects("input_reference", "sora", image=asset).message
    rejects("input_reference", "sora", image=Asset("file_id", "file_1"))
    with pytest.raises(InvalidRequest) as caught:
        resolve_legacy(VideoRequest("create", "p", image=asset))
    assert caught.value.param == "input_reference"


def resolve_legacy(video: VideoRequest) -> ResolvedRequest:
    """Resolved for a deployment named ``legacy`` on the jobs API (base model Sora 1)."""
    caps = SPEC.capabilities_for("legacy", {"api": "jobs"})
    assert caps is SORA_1
    return resolve(video, caps, model_name="legacy", upstream_model="legacy")


def test_jobs_has_no_remix() -> None:
    with pytest.raises(UnsupportedOperation):
        resolve_legacy(VideoRequest("remix", "again"))


def test_jobs_checks_seconds_and_size() -> None:
    rejects("size", "sora", size=(640, 360))
    rejects("seconds", "sora", seconds=21)
    with pytest.raises(InvalidRequest) as caught:
        resolve_legacy(VideoRequest("create", "p", size=(640, 360)))
    assert caught.value.param == "size"


def test_replies_are_read_with_the_protocol_of_the_call() -> None:
    created = JOBS_ADAPTER.parse_state(reply(201, job("queued")), CallContext("submit"))
    assert created.upstream_id == "jobs:task_01jy98zkvpfb7909522ysd150a"
    v1_created = ADAPTER.parse_state(reply(200, v1_video("queued")), CallContext("submit"))
    assert v1_created.upstream_id == VIDEO_ID
    # a jobs deployment still polls the v1 videos it made before a change of options.api
    assert JOBS_ADAPTER.parse_state(reply(200, v1_video("queued")), V1_POLL).upstream_id == (
        VIDEO_ID
    )


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("preprocessing", "queued"),
        ("queued", "queued"),
        ("running", "in_progress"),
        ("processing", "in_progress"),
        ("uploading", "in_progress"),
    ],
)
def test_jobs_running_states(raw: str, status: str) -> None:
    state = ADAPTER.parse_state(reply(201, job(raw)), JOBS_POLL)
    assert state.upstream_id == "jobs:task_01jy98zkvpfb7909522ysd150a"
    assert (state.status, state.progress, state.raw_status) == (status, 0, raw)


def test_jobs_succeeded_points_at_the_first_generation() -> None:
    gens = [{"object": "video.generation", "id": "gen_a"}, {"id": "gen_b"}]
    state = ADAPTER.parse_state(reply(200, job("succeeded", generations=gens)), JOBS_POLL)
    assert state.status == "completed" and state.progress == 100
    assert state.results == {"video": "gen_a", "thumbnail": "gen_a"}


def test_jobs_succeeded_without_generation_is_a_failure() -> None:
    state = ADAPTER.parse_state(reply(200, job("succeeded")), JOBS_POLL)
    assert state.status == "failed" and state.error_code == "no_result"


@pytest.mark.parametrize(
    ("raw", "reason", "code"),
    [
        ("failed", "input_moderation", "input_moderation"),
        ("failed", "output_moderation", "output_moderation"),
        ("failed", "internal_error", "internal_error"),
        ("failed", "Something odd at https://x.openai.azure.com", "generation_failed"),
        ("failed", None, "generation_failed"),
        ("cancelled", None, "cancelled"),
    ],
)
def test_jobs_failures(raw: str, reason: str | None, code: str) -> None:
    state = ADAPTER.parse_state(reply(200, job(raw, failure_reason=reason)), JOBS_POLL)
    assert state.status == "failed" and state.error_code == code and state.error_message
    assert "azure.com" not in state.error_message


def test_jobs_malformed() -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, {"object": "video.generation.job", "id": "t1"}), JOBS_POLL)


def test_jobs_follow_ups() -> None:
    upstream = "jobs:task_1"
    poll = JOBS_ADAPTER.build_poll(upstream)
    assert poll.path == "/openai/v1/video/generations/jobs/task_1"
    assert poll.params == {"api-version": "preview"}
    video = JOBS_ADAPTER.build_download(upstream, "video", "gen_a")
    assert video is not None and video.call.path == (
        "/openai/v1/video/generations/gen_a/content/video"
    )
    assert video.call.params == {"api-version": "preview"} and video.auth
    thumb = JOBS_ADAPTER.build_download(upstream, "thumbnail", "gen_a")
    assert thumb is not None and thumb.call.path.endswith("/gen_a/content/thumbnail")
    assert JOBS_ADAPTER.build_download(upstream, "spritesheet", "gen_a") is None
    assert JOBS_ADAPTER.build_download(upstream, "video", None) is None
    delete = JOBS_ADAPTER.build_delete(upstream)
    assert delete is not None and delete.method == "DELETE"
    assert delete.path == "/openai/v1/video/generations/jobs/task_1"


# --- errors ----------------------------------------------------------------------------


def test_400_openai_envelope() -> None:
    body = {
        "error": {
            "message": "Invalid value: '16'.",
            "type": "invalid_request_error",
            "param": "seconds",
            "code": "invalid_value",
        }
    }
    error = ADAPTER.parse_error(reply(400, body), V1_POLL)
    assert isinstance(error, InvalidRequest)
    assert (error.param, error.code) == ("seconds", "invalid_value")
    assert "Invalid value: '16'." in error.message


def test_400_front_door_code_is_not_passed_through() -> None:
    body = {"error": {"code": "BadRequest", "message": "API version not supported"}}
    error = ADAPTER.parse_error(reply(400, body), V1_POLL)
    assert isinstance(error, InvalidRequest) and error.code == "invalid_request"


def test_400_content_policy_from_inner_error() -> None:
    body = {
        "error": {
            "code": "content_policy_violation",
            "message": "Your request was rejected as a result of our safety system.",
            "param": "prompt",
            "type": "invalid_request_error",
            "inner_error": {"code": "ResponsibleAIPolicyViolation", "revised_prompt": None},
        }
    }
    error = ADAPTER.parse_error(reply(400, body), V1_POLL)
    assert isinstance(error, InvalidRequest) and error.code == "content_policy_violation"


def test_auth_errors() -> None:
    body = {"error": {"code": "401", "message": "Access denied due to invalid subscription key"}}
    for status in (401, 403):
        error = ADAPTER.parse_error(reply(status, body), V1_POLL)
        assert isinstance(error, UpstreamAuthError) and "subscription" not in error.message


def test_404_and_429_and_5xx() -> None:
    missing = {"error": {"code": "DeploymentNotFound", "message": "The API deployment ..."}}
    assert isinstance(ADAPTER.parse_error(reply(404, missing), V1_POLL), NotFound)
    limited = ADAPTER.parse_error(
        reply(429, {"error": {"code": "429", "message": "slow down"}}, **{"retry-after": "7"}),
        V1_POLL,
    )
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 7
    broken = ADAPTER.parse_error(reply(503, "<html>Service Unavailable</html>"), JOBS_POLL)
    assert isinstance(broken, UpstreamError) and broken.status == 502


def test_error_messages_hide_hosts_and_ids() -> None:
    body = {
        "error": {
            "message": "See https://res.openai.azure.com/x (task_01abc) at res.openai.azure.com",
            "type": "invalid_request_error",
        }
    }
    message = ADAPTER.parse_error(reply(400, body), V1_POLL).message
    assert "azure.com" not in message and "task_01abc" not in message


def test_follow_ups_carry_the_configured_api_version() -> None:
    pinned = dataclasses.replace(JOBS_DEP, options={"api": "jobs", "api_version": "2025-02-15"})
    bound = AzureAdapter(pinned)
    version = {"api-version": "2025-02-15"}
    assert bound.build_poll("jobs:task_1").params == version
    delete = bound.build_delete("jobs:task_1")
    assert delete is not None and delete.params == version
    plan = bound.build_download("jobs:task_1", "video", "gen_1")
    assert plan is not None and plan.call.params == version
    assert AzureAdapter(JOBS_DEP).build_poll("jobs:t").params == {"api-version": "preview"}
    v1 = AzureAdapter(dataclasses.replace(V1_DEP, options={"api_version": "v9"}))
    assert v1.build_poll(VIDEO_ID).params == {"api-version": "v9"}
    assert AzureAdapter(V1_DEP).build_poll(VIDEO_ID).params is None
