"""The pure Gemini Veo adapter: requests built and replies parsed as data, no network."""

from __future__ import annotations

from typing import Any

import pytest

from tests.providers import veo
from tests.providers.adapters import Resolver, deployment_maker, reply, request_maker
from vidgate.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, Inline
from vidgate.providers.gemini import PROVIDER
from vidgate.providers.gemini.adapter import GeminiAdapter, scrub
from vidgate.providers.gemini.spec import SPEC, VEO_3_1
from vidgate.values import Asset, Deployment, ImageInput, ResolvedRequest, SourceVideo

MODEL = "veo-3.1-generate-preview"
API_BASE = "https://generativelanguage.googleapis.com/v1beta"
DEPLOYMENT = deployment_maker(
    SPEC, MODEL, "gemini-test", API_BASE, "AIza-upstream-secret", model_name="veo"
)()
ADAPTER = GeminiAdapter(DEPLOYMENT)
OP = "models/veo-3.1-generate-preview/operations/vz341u0pmdlc"
URI = "https://generativelanguage.googleapis.com/v1beta/files/abc123:download?alt=media"
PNG = Asset("blob", "inputs/u1/first.png", "image/png", "first.png", "d1")
JPG = Asset("url", "https://images.example/last.jpg")
RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"

request = request_maker("a lighthouse at dusk", MODEL, 8, (1280, 720), audio=True)


POLL = CallContext("poll", OP)


def submit(**changes: Any) -> dict[str, Any]:
    return body_of(request(**changes))


def body_of(req: ResolvedRequest) -> dict[str, Any]:
    call = ADAPTER.build_submit(req, "video_gw1")
    assert call.method == "POST"
    assert isinstance(call.json, dict)
    return call.json


RESOLVER = Resolver(SPEC, MODEL, "a lighthouse at dusk")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


def image(asset: Asset) -> dict[str, Inline]:
    return {"bytesBase64Encoded": Inline(asset, "base64"), "mimeType": Inline(asset, "mime_type")}


# --- auth, paths --------------------------------------------------------------------


def test_registration_builds_the_adapter_per_deployment() -> None:
    adapter = PROVIDER.adapter(DEPLOYMENT) if PROVIDER.adapter else None
    assert isinstance(adapter, GeminiAdapter) and adapter.deployment is DEPLOYMENT
    assert PROVIDER.spec is SPEC and PROVIDER.runtime is None


def test_auth_is_the_goog_api_key_header() -> None:
    assert ADAPTER.auth_headers(None) == {"x-goog-api-key": "AIza-upstream-secret"}
    keyless = Deployment("d", "m", "gemini", "veo-2.0-generate-001", VEO_3_1, api_base="http://x")
    assert GeminiAdapter(keyless).auth_headers(None) == {}


def test_paths() -> None:
    call = ADAPTER.build_submit(request(), "video_gw1")
    assert call.path == "/models/veo-3.1-generate-preview:predictLongRunning"
    assert call.headers == {}
    poll = ADAPTER.build_poll(OP)
    assert (poll.method, poll.path) == ("GET", f"/{OP}")  # slashes kept, not encoded
    assert ADAPTER.build_delete(OP) is None


def test_download_is_the_file_uri_with_the_key() -> None:
    plan = ADAPTER.build_download(OP, "video", URI)
    assert plan is not None and plan.auth is True and plan.base64_field is None
    assert (plan.call.method, plan.call.path) == ("GET", URI)
    assert ADAPTER.build_download(OP, "thumbnail", URI) is None
    assert ADAPTER.build_download(OP, "video", None) is None


def test_default_api_base_and_env() -> None:
    assert SPEC.default_api_base == "https://generativelanguage.googleapis.com/v1beta"
    assert SPEC.env == {"api_key": "GEMINI_API_KEY"}
    assert set(SPEC.auto_models) == {m for m in SPEC.models if m.startswith("veo-3.1")}


# --- create mapping -----------------------------------------------------------------


@pytest.mark.parametrize(("size", "aspect", "resolution"), veo.SIZES)
def test_size_maps_to_aspect_ratio_and_resolution(
    size: tuple[int, int], aspect: str, resolution: str
) -> None:
    body = submit(width=size[0], height=size[1])
    assert body["parameters"] == {
        "aspectRatio": aspect,
        "resolution": resolution,
        "durationSeconds": 8,
        "sampleCount": 1,
    }
    assert body["instances"] == [{"prompt": "a lighthouse at dusk"}]


def test_seconds_is_an_integer() -> None:
    assert submit(seconds=4)["parameters"]["durationSeconds"] == 4


@pytest.mark.parametrize("size", [(1920, 1080), (2160, 3840)])
def test_high_resolutions_need_eight_seconds(size: tuple[int, int]) -> None:
    refused = rejects("seconds", seconds=6, size=size)
    assert "allowed: 8" in refused.message
    assert resolved(seconds=6, size=(1280, 720)).seconds == 6


def test_veo2_sends_no_resolution_and_takes_any_duration() -> None:
    veo2 = resolved("veo-2.0-generate-001", seconds=5, size=(720, 1280))
    assert veo2.audio is None
    body = body_of(veo2)
    assert body["parameters"] == {"aspectRatio": "9:16", "durationSeconds": 5, "sampleCount": 1}
    assert resolved("veo-2.0-generate-001", audio=False).audio is False  # silent anyway


def test_first_and_last_frame_are_inline_images() -> None:
    images = (ImageInput("first_frame", PNG), ImageInput("last_frame", JPG))
    instance = submit(images=images)["instances"][0]
    assert instance == {
        "prompt": "a lighthouse at dusk",
        "image": image(PNG),
        "lastFrame": image(JPG),
    }


def test_last_frame_needs_a_first_frame() -> None:
    rejects("metadata.last_frame", last_frame=JPG)


def test_reference_images() -> None:
    refs = tuple(ImageInput("reference", a) for a in (PNG, JPG))
    instance = submit(images=refs)["instances"][0]
    assert instance["referenceImages"] == [
        {"image": image(PNG), "referenceType": "asset"},
        {"image": image(JPG), "referenceType": "asset"},
    ]
    assert resolved(reference_images=[PNG, JPG]).images[1].role == "reference"
    rejects("seconds", reference_images=[PNG, JPG], seconds=4)
    rejects("metadata.reference_images", image=PNG, reference_images=[JPG])


def test_negative_prompt_and_options() -> None:
    req = resolved(
        negative_prompt="blurry",
        options={"person_generation": "allow_all", "enhance_prompt": False},
    )
    params = body_of(req)["parameters"]
    assert params["negativePrompt"] == "blurry"
    assert params["personGeneration"] == "allow_all" and params["enhancePrompt"] is False


@pytest.mark.parametrize(
    ("options", "param", "allowed"),
    [
        ({"person_generation": "everyone"}, "metadata.person_generation", "allow_all, allow_adult"),
        ({"enhance_prompt": "yes"}, "metadata.enhance_prompt", "true or false"),
        ({"person_generation": 1}, "metadata.person_generation", "one of: allow_all"),
    ],
)
def test_bad_option_values_are_refused_before_any_job(
    options: dict[str, Any], param: str, allowed: str
) -> None:
    refused = rejects(param, options=options)
    assert allowed in refused.message and refused.code == "invalid_value"


def test_vertex_only_fields_are_not_options() -> None:
    for caps in SPEC.models.values():
        assert set(caps.options) == {"person_generation", "enhance_prompt"}
        assert caps.seed is False
    assert rejects("metadata.storage_uri", options={"storage_uri": "gs://b/"}).code == (
        "unknown_parameter"
    )


def test_audio_cannot_be_switched_off() -> None:
    rejects("metadata.audio", audio=False)


EXTENDABLE_SOURCE = SourceVideo(None, "video_src", OP, 8, URI)


def test_extension_refers_to_the_source_file_uri() -> None:
    req = resolved(operation="extend", source=EXTENDABLE_SOURCE, seconds=8)
    body = body_of(req)
    assert body["instances"] == [{"prompt": "a lighthouse at dusk", "video": {"uri": URI}}]
    assert body["parameters"]["resolution"] == "720p"
    rejects("seconds", operation="extend", source=EXTENDABLE_SOURCE, seconds=4)


@pytest.mark.parametrize(
    "source",
    [
        SourceVideo(None, "video_src", None, 8),
        SourceVideo(Asset("blob", "videos/x/video.mp4", "video/mp4"), "video_src", None, 8),
    ],
)
def test_extension_needs_a_video_of_this_deployment(source: SourceVideo) -> None:
    rejects("video", operation="extend", source=source, seconds=8)


def test_extension_needs_a_720p_source() -> None:
    rejects(
        "video", operation="extend", source=EXTENDABLE_SOURCE, seconds=8, source_size=(1920, 1080)
    )


def test_extension_takes_no_frames() -> None:
    frames = {"image": PNG, "last_frame": JPG}
    rejects("metadata.last_frame", operation="extend", source=EXTENDABLE_SOURCE, **frames)


def test_capabilities() -> None:
    models = SPEC.models
    assert "4k" not in str(models["veo-3.1-fast-generate-preview"].sizes)
    assert "3840x2160" in models["veo-3.1-generate-preview"].sizes
    assert models["veo-2.0-generate-001"].seconds == (5, 6, 7, 8)
    assert models["veo-2.0-generate-001"].audio is None
    for name, caps in models.items():
        assert caps.default_seconds == 8 and caps.default_size == "1280x720"
        assert "remix" not in caps.operations and "edit" not in caps.operations
        assert ("extend" in caps.operations) == (name in _EXTENDABLE)
        assert SPEC.prices[name].usd(8, "720p") is not None
    assert SPEC.prices["veo-3.1-generate-preview"].usd(8, "4k") == pytest.approx(4.8)


_EXTENDABLE = {"veo-3.1-generate-preview", "veo-3.1-fast-generate-preview"}


# --- operations ---------------------------------------------------------------------


def test_pending_without_done_and_with_done_false() -> None:
    for body in ({"name": OP}, {"name": OP, "done": False}):
        state = ADAPTER.parse_state(reply(200, body), POLL)
        assert (state.upstream_id, state.status, state.progress) == (OP, "in_progress", 0)
        assert state.raw_status == "pending" and not state.results


def test_unknown_metadata_keeps_running() -> None:
    body = {"name": OP, "done": False, "metadata": {"state": "RENDERING", "progress": 42}}
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert state.status == "in_progress" and state.progress == 0


def test_success_needs_a_sample_with_a_uri() -> None:
    body = {
        "name": OP,
        "done": True,
        "response": {
            "@type": RESPONSE_TYPE,
            "generateVideoResponse": {"generatedSamples": [{"video": {"uri": URI}}]},
        },
    }
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.progress, state.results) == ("completed", 100, {"video": URI})
    assert state.cost_units is None


def test_done_with_error_is_a_failure() -> None:
    body = {"name": OP, "done": True, "error": {"code": 13, "message": "Internal failure."}}
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.error_code, state.raw_status) == ("failed", "internal", "error")
    assert state.error_message == "Internal failure."
    odd = {"name": OP, "done": True, "error": {"code": "x"}}
    assert ADAPTER.parse_state(reply(200, odd), POLL).error_code == "upstream_failed"


def test_done_with_error_wins_over_samples() -> None:
    body = {
        "name": OP,
        "done": True,
        "error": {"code": 3, "message": "bad"},
        "response": {"generateVideoResponse": {"generatedSamples": [{"video": {"uri": URI}}]}},
    }
    assert ADAPTER.parse_state(reply(200, body), POLL).status == "failed"


def test_rai_filtered_is_a_content_failure() -> None:
    reasons = ["Support codes: 64151117", "second reason"]
    body = {
        "name": OP,
        "done": True,
        "response": {
            "generateVideoResponse": {
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": reasons,
            }
        },
    }
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.error_code) == ("failed", "content_filtered")
    assert state.error_message == "Support codes: 64151117; second reason"


@pytest.mark.parametrize(
    "response",
    [None, {}, {"generateVideoResponse": {}}, {"generateVideoResponse": {"generatedSamples": []}}],
)
def test_done_without_a_result_is_a_failure(response: Any) -> None:
    body: dict[str, Any] = {"name": OP, "done": True}
    if response is not None:
        body["response"] = response
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.error_code) == ("failed", "no_result")


@pytest.mark.parametrize("body", [{}, '{"name": "models/x/operations/y", "do', [], {"name": 3}])
def test_malformed_operations_are_upstream_errors(body: Any) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, body), POLL)


def test_status_map_is_complete() -> None:
    assert SPEC.status_map == {
        "pending": "in_progress",
        "succeeded": "completed",
        "error": "failed",
        "filtered": "failed",
        "empty": "failed",
    }
    assert SPEC.map_status("RENDERING") == "in_progress"


# --- errors -------------------------------------------------------------------------


def envelope(code: int, status: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}


def test_invalid_argument_names_the_parameter() -> None:
    body = envelope(
        400, "INVALID_ARGUMENT", "allow_adult for personGeneration is currently not supported."
    )
    error = ADAPTER.parse_error(reply(400, body), POLL)
    assert isinstance(error, InvalidRequest) and error.status == 400
    assert error.param == "metadata.person_generation"
    assert "allow_adult for personGeneration" in error.message
    seconds = ADAPTER.parse_error(
        reply(400, envelope(400, "INVALID_ARGUMENT", "durationSeconds 5 bad")), POLL
    )
    assert seconds.param == "seconds"
    other = ADAPTER.parse_error(reply(400, envelope(400, "INVALID_ARGUMENT", "Nope.")), POLL)
    assert isinstance(other, InvalidRequest) and other.param is None


def test_bad_key_is_an_upstream_auth_error() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
    body = envelope(
        400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", details
    )
    assert isinstance(ADAPTER.parse_error(reply(400, body), POLL), UpstreamAuthError)
    denied = envelope(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers")
    assert isinstance(ADAPTER.parse_error(reply(403, denied), POLL), UpstreamAuthError)
    assert isinstance(ADAPTER.parse_error(reply(401, "nope"), POLL), UpstreamAuthError)


def test_not_found() -> None:
    body = envelope(404, "NOT_FOUND", "models/veo-9 is not found for API version v1beta")
    assert isinstance(ADAPTER.parse_error(reply(404, body), POLL), NotFound)


def test_rate_limit_uses_retry_info() -> None:
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "23s"},
    ]
    error = ADAPTER.parse_error(
        reply(429, envelope(429, "RESOURCE_EXHAUSTED", "quota", details)), POLL
    )
    assert isinstance(error, RateLimited) and error.retry_after_s == 23.0
    header = ADAPTER.parse_error(
        reply(429, envelope(429, "RESOURCE_EXHAUSTED", "q"), **{"retry-after": "4"}), POLL
    )
    assert header.retry_after_s == 4.0
    bare = ADAPTER.parse_error(reply(429, envelope(429, "RESOURCE_EXHAUSTED", "q")), POLL)
    assert isinstance(bare, RateLimited) and bare.retry_after_s is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(status: int) -> None:
    error = ADAPTER.parse_error(
        reply(status, envelope(status, "INTERNAL", "An internal error.")), POLL
    )
    assert type(error) is UpstreamError and error.retryable


def test_messages_never_carry_upstream_urls_or_ids() -> None:
    text = f"Could not read {URI} for {OP} (files/abc123) see https://ai.google.dev/x."
    assert scrub(text) == "Could not read <url> for <operation> (<file>) see <url>"
    body = {"name": OP, "done": True, "error": {"code": 3, "message": text}}
    message = ADAPTER.parse_state(reply(200, body), POLL).error_message or ""
    assert "googleapis" not in message and "vz341u0pmdlc" not in message
    error = ADAPTER.parse_error(reply(400, envelope(400, "INVALID_ARGUMENT", text)), POLL)
    assert "googleapis" not in error.message and "abc123" not in error.message
