"""The pure Runway adapter: requests built and replies parsed as data, no network."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.providers.adapters import Resolver, deployment_maker, reply, request_maker
from vidgate.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, Inline
from vidgate.providers.runway import PROVIDER
from vidgate.providers.runway.adapter import RunwayAdapter
from vidgate.providers.runway.spec import SPEC
from vidgate.values import (
    Asset,
    Deployment,
    ImageInput,
    ModelCapabilities,
    ResolvedRequest,
    SourceVideo,
)

TASK = "3f1c2a9e-5b7d-4c1e-9a0f-6d2b8e4c7a11"
PNG = Asset("blob", "inputs/u1/first.png", "image/png", "first.png", "d1")
LAST = Asset("url", "https://cdn.example.com/last.png")
MP4 = Asset("blob", "assets/video_1/video.mp4", "video/mp4")

deployment = deployment_maker(
    SPEC, "gen4.5", "runway-test", "https://api.dev.runwayml.com", "key_secret"
)
request = request_maker("a lighthouse at dusk", "gen4.5", 5, (1280, 720))


ADAPTER = RunwayAdapter(deployment())
POLL = CallContext("poll", TASK)


def submit(req: ResolvedRequest, dep: Deployment | None = None) -> tuple[str, dict[str, Any]]:
    adapter = RunwayAdapter(dep or deployment(req.upstream_model))
    call = adapter.build_submit(req, "video_" + "0" * 32)
    assert call.method == "POST" and call.headers == {}
    return call.path, call.json


RESOLVER = Resolver(SPEC, "gen4.5", "a lighthouse at dusk")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


# --- spec ------------------------------------------------------------------------------


def test_spec_models_and_defaults() -> None:
    assert PROVIDER.adapter is not None and PROVIDER.spec is SPEC
    adapter = PROVIDER.adapter(deployment())
    assert isinstance(adapter, RunwayAdapter) and adapter.deployment == deployment()
    assert set(SPEC.models) == {"gen4_turbo", "gen4.5", "veo3", "veo3.1", "veo3.1_fast", "aleph2"}
    assert SPEC.default_api_base == "https://api.dev.runwayml.com"
    assert SPEC.env == {"api_key": "RUNWAYML_API_SECRET"} and SPEC.poll_interval_s == 5.0
    veo31 = SPEC.models["veo3.1"]
    assert veo31.seconds == (4, 6, 8) and veo31.audio is True and veo31.negative_prompt
    assert veo31.image_roles == {"first_frame", "last_frame"}
    assert SPEC.models["veo3"].seconds == (8,) and SPEC.models["veo3"].audio is None
    assert SPEC.models["gen4_turbo"].seconds == tuple(range(2, 11))
    assert SPEC.models["aleph2"].operations == {"edit"}
    for caps in SPEC.models.values():
        assert caps.max_prompt_chars == 1000 and caps.seed
        assert not caps.operations & {"remix", "extend"}


def test_prices_are_credits_per_second() -> None:
    # the reference's worked examples: gen4_turbo 10 s = 50 credits = $0.50, veo3 8 s = $3.20
    assert SPEC.prices["gen4_turbo"].usd(10, "720p") == pytest.approx(0.50)
    assert SPEC.prices["veo3"].usd(8, "1080p") == pytest.approx(3.20)
    assert SPEC.prices["veo3.1"].usd(8, "720p", audio=True) == pytest.approx(3.20)
    assert SPEC.prices["veo3.1_fast"].usd(4, "720p", audio=False) == pytest.approx(0.40)
    assert SPEC.prices["gen4_turbo"].units_usd(50) == pytest.approx(0.50)
    assert {p.unit for p in SPEC.prices.values()} == {"credits"}
    assert {p.usd_per_unit for p in SPEC.prices.values()} == {0.01}
    assert set(SPEC.prices) == set(SPEC.models)


def test_status_map_is_complete() -> None:
    assert SPEC.status_map == {
        "PENDING": "queued",
        "THROTTLED": "queued",
        "RUNNING": "in_progress",
        "SUCCEEDED": "completed",
        "FAILED": "failed",
        "CANCELLED": "failed",
    }


# --- requests --------------------------------------------------------------------------


def test_auth_headers_carry_bearer_and_version() -> None:
    assert ADAPTER.auth_headers(None) == {
        "Authorization": "Bearer key_secret",
        "X-Runway-Version": "2024-11-06",
    }
    pinned = deployment(options={"runway_version": "2025-01-01"}, api_key=None)
    assert RunwayAdapter(pinned).auth_headers(None) == {"X-Runway-Version": "2025-01-01"}


def test_text_to_video_body() -> None:
    path, body = submit(request(seed=0))
    assert path == "/v1/text_to_video"
    assert body == {
        "model": "gen4.5",
        "promptText": "a lighthouse at dusk",
        "ratio": "1280:720",
        "duration": 5,
        "seed": 0,
    }


def test_image_to_video_inlines_blobs_and_passes_https() -> None:
    images = (ImageInput("first_frame", PNG), ImageInput("last_frame", LAST))
    req = request(upstream_model="veo3.1", seconds=6, width=1080, height=1920, images=images)
    path, body = submit(dataclasses.replace(req, audio=False, negative_prompt="blur"))
    assert path == "/v1/image_to_video"
    assert body["promptImage"] == [
        {"uri": Inline(PNG, "data_uri"), "position": "first"},
        {"uri": "https://cdn.example.com/last.png", "position": "last"},
    ]
    assert (body["ratio"], body["duration"]) == ("1080:1920", 6)
    assert body["audio"] is False and body["negativePrompt"] == "blur"


def test_image_uri_forms() -> None:
    cases = {
        Asset("url", "data:image/png;base64,AAAA"): "data:image/png;base64,AAAA",
        Asset("file_id", "runway://upload/abc"): "runway://upload/abc",
    }
    for asset, uri in cases.items():
        body = submit(request(images=(ImageInput("first_frame", asset),)))[1]
        assert body["promptImage"][0]["uri"] == uri
    plain = Asset("url", "http://intranet.example/a.png")  # Runway takes https only: inline it
    body = submit(request(images=(ImageInput("first_frame", plain),)))[1]
    assert body["promptImage"][0]["uri"] == Inline(plain, "data_uri")
    upload = resolved(image=Asset("file_id", "runway://upload/abc"))
    assert submit(upload)[1]["promptImage"][0]["uri"] == "runway://upload/abc"
    assert "runway://" in rejects("input_reference", image=Asset("file_id", "file_1")).message
    rejects("metadata.last_frame", "veo3.1", image=PNG, last_frame=Asset("file_id", "f2"))


def test_audio_is_only_sent_to_models_that_take_it() -> None:
    assert "audio" not in submit(request(audio=True))[1]
    veo = request(upstream_model="veo3.1", seconds=8, audio=True)
    assert submit(veo)[1]["audio"] is True


def test_content_moderation_option() -> None:
    options = {"content_moderation": {"public_figure_threshold": "low"}}
    body = submit(resolved(options=options))[1]
    assert body["contentModeration"] == {"publicFigureThreshold": "low"}
    assert submit(resolved(options={"content_moderation": {}}))[1]["contentModeration"] == {}


@pytest.mark.parametrize(
    ("value", "param"),
    [
        ({"public_figure_threshold": "off"}, "metadata.content_moderation.public_figure_threshold"),
        ({"other": 1}, "metadata.content_moderation"),
        ("low", "metadata.content_moderation"),
        (["low"], "metadata.content_moderation"),
    ],
)
def test_bad_option_values_are_refused_before_any_job(value: Any, param: str) -> None:
    rejects(param, options={"content_moderation": value})


def test_options_are_per_model() -> None:
    veo = rejects("metadata.content_moderation", "veo3.1", options={"content_moderation": {}})
    assert veo.code == "unknown_parameter"
    target = {"target_aspect_ratio": "1:1"}
    assert rejects("metadata.target_aspect_ratio", options=target).code == "unknown_parameter"


def test_text_to_video_limits() -> None:
    refused = rejects("size", size=(1104, 832))
    assert "1280x720, 720x1280" in refused.message
    assert submit(resolved(size=(1104, 832), image=PNG))[0] == "/v1/image_to_video"
    rejects("input_reference", "gen4_turbo")
    assert submit(resolved("gen4_turbo", image=PNG))[0] == "/v1/image_to_video"
    rejects("input_reference", "veo3.1", last_frame=PNG)


def test_prompt_and_seed_limits() -> None:
    refused = rejects("prompt", prompt="\U0001f600" * 501)  # 501 characters, 1002 UTF-16 units
    assert refused.code == "string_above_max_length" and "UTF-16" in refused.message
    assert resolved(prompt="\U0001f600" * 500).prompt  # 1000 units
    rejects("seed", seed=2**32)
    rejects("seed", seed=-1)


def test_edit_goes_to_video_to_video() -> None:
    source = SourceVideo(MP4, job_id="video_1", seconds=4)
    options = {"target_aspect_ratio": "1:1", "content_moderation": {}}
    req = request(operation="edit", upstream_model="aleph2", source=source, options=options)
    path, body = submit(req, deployment("aleph2"))
    assert path == "/v1/video_to_video"
    assert body == {
        "model": "aleph2",
        "promptText": "a lighthouse at dusk",
        "videoUri": Inline(MP4, "data_uri"),
        "targetAspectRatio": "1:1",
        "contentModeration": {},
    }


def test_edit_source_forms_and_limits() -> None:
    located = SourceVideo(None, upstream_id=TASK, location="https://cdn.example/v.mp4?_jwt=x")
    edit = resolved("aleph2", operation="edit", source=located)
    assert submit(edit)[1]["videoUri"] == located.location
    for source in (None, SourceVideo(None), SourceVideo(MP4, seconds=31)):
        rejects("video", "aleph2", operation="edit", source=source)
    target = {"target_aspect_ratio": "5:4"}
    refused = rejects(
        "metadata.target_aspect_ratio",
        "aleph2",
        operation="edit",
        source=SourceVideo(MP4),
        options=target,
    )
    assert "16:9" in refused.message


def test_remix_and_extend_have_no_runway_equivalent() -> None:
    for operation in ("remix", "extend"):
        with pytest.raises(UnsupportedOperation):
            resolved(operation=operation, source=SourceVideo(MP4, seconds=4))


def test_poll_download_delete_calls() -> None:
    assert ADAPTER.build_poll(TASK).path == f"/v1/tasks/{TASK}"
    delete = ADAPTER.build_delete(TASK)
    assert delete is not None and (delete.method, delete.path) == ("DELETE", f"/v1/tasks/{TASK}")
    url = "https://dnznrvs05pmza.cloudfront.net/x/video.mp4?_jwt=abc"
    plan = ADAPTER.build_download(TASK, "video", url)
    assert plan is not None and plan.auth is False and plan.call.path == url
    assert ADAPTER.build_download(TASK, "thumbnail", url) is None
    assert ADAPTER.build_download(TASK, "video", None) is None


# --- replies ---------------------------------------------------------------------------


def test_create_reply_is_queued_with_the_estimate() -> None:
    created = CallContext("submit", request=request())
    state = ADAPTER.parse_state(reply(200, {"id": TASK, "estimatedCost": {"credits": 60}}), created)
    assert (state.upstream_id, state.status, state.cost_units) == (TASK, "queued", 60.0)
    assert state.raw_status == "PENDING"


def test_a_polled_task_without_a_status_is_malformed() -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, {"id": TASK, "estimatedCost": {"credits": 60}}), POLL)


@pytest.mark.parametrize(
    ("body", "status", "progress"),
    [
        ({"status": "PENDING"}, "queued", 0),
        ({"status": "THROTTLED"}, "queued", 0),
        ({"status": "RUNNING", "progress": 0.57}, "in_progress", 57),
        ({"status": "RUNNING", "progress": 1.0}, "in_progress", 100),
        ({"status": "RUNNING", "progress": "n/a"}, "in_progress", 0),
        ({"status": "RUNNING"}, "in_progress", 0),
        ({"status": "PREPARING_ASSETS"}, "in_progress", 0),
    ],
)
def test_active_states(body: dict[str, Any], status: str, progress: int) -> None:
    state = ADAPTER.parse_state(reply(200, {"id": TASK, **body}), POLL)
    assert (state.status, state.progress, state.raw_status) == (status, progress, body["status"])
    assert state.error_code is None and not state.results


def test_succeeded_reports_the_signed_url_and_credits() -> None:
    url = "https://dnznrvs05pmza.cloudfront.net/x/video.mp4?_jwt=abc"
    body = {"id": TASK, "status": "SUCCEEDED", "output": [url], "cost": {"credits": 50}}
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.progress, state.cost_units) == ("completed", 100, 50.0)
    assert state.results == {"video": url}


@pytest.mark.parametrize("output", [None, [], [None], ["ftp://x"], "https://x/video.mp4"])
def test_succeeded_without_output_is_a_failure(output: Any) -> None:
    state = ADAPTER.parse_state(
        reply(200, {"id": TASK, "status": "SUCCEEDED", "output": output}), POLL
    )
    assert state.status == "failed" and state.error_code == "upstream_no_output"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("SAFETY.INPUT.TEXT", "moderation_blocked"),
        ("SAFETY.OUTPUT.VIDEO", "moderation_blocked"),
        ("ASSET.INVALID", "invalid_input"),
        ("INTERNAL.BAD_OUTPUT", "upstream_failed"),
        (None, "upstream_failed"),
    ],
)
def test_failed(code: str | None, expected: str) -> None:
    body = {"id": TASK, "status": "FAILED", "failure": "See https://runway.example/x."}
    state = ADAPTER.parse_state(reply(200, body | ({"failureCode": code} if code else {})), POLL)
    assert (state.status, state.error_code) == ("failed", expected)
    assert state.error_message and "https://" not in state.error_message
    assert (code or "See") in state.error_message


def test_cancelled_is_a_failure() -> None:
    state = ADAPTER.parse_state(reply(200, {"id": TASK, "status": "CANCELLED"}), POLL)
    assert (state.status, state.error_code) == ("failed", "cancelled")


@pytest.mark.parametrize("body", [{}, [], '{"id":"x","status":"RUN', {"id": 5}, None])
def test_malformed_replies_raise(body: Any) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, body), POLL)


def test_validation_error_names_the_vidgate_parameter() -> None:
    body = {
        "error": "Validation of body failed",
        "issues": [{"code": "invalid_value", "path": ["ratio"], "message": "Invalid option"}],
        "docUrl": "https://docs.dev.runwayml.com/api",
    }
    error = ADAPTER.parse_error(reply(400, body), POLL)
    assert isinstance(error, InvalidRequest) and error.param == "size"
    assert "ratio: Invalid option" in error.message
    fetch = {"error": "Failed to fetch asset https://secret.example/a.png?token=t"}
    error = ADAPTER.parse_error(reply(400, fetch), POLL)
    assert "secret.example" not in error.message and error.param is None


def test_error_classes() -> None:
    assert isinstance(
        ADAPTER.parse_error(reply(401, {"error": "bad key"}), POLL), UpstreamAuthError
    )
    assert isinstance(ADAPTER.parse_error(reply(403, {"error": "no"}), POLL), UpstreamAuthError)
    assert isinstance(ADAPTER.parse_error(reply(404, {"error": "Task not found."}), POLL), NotFound)
    limited = ADAPTER.parse_error(reply(429, {"error": "slow down"}, **{"retry-after": "7"}), POLL)
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 7
    for status in (500, 502, 503, 504):
        error = ADAPTER.parse_error(reply(status, "<html>busy</html>"), POLL)
        assert type(error) is UpstreamError and str(status) in error.message
    credits = {"error": "You do not have enough credits to run this task."}
    error = ADAPTER.parse_error(reply(400, credits), POLL)
    assert type(error) is UpstreamError and error.code == "upstream_insufficient_credits"
    assert isinstance(ADAPTER.parse_error(reply(422, {"error": "x"}), POLL), InvalidRequest)


def test_no_caps_without_audio_send_audio() -> None:
    caps = ModelCapabilities(
        seconds=(5,), default_seconds=5, sizes=("1280x720",), default_size="1280x720"
    )
    body = submit(request(audio=True), deployment(capabilities=caps))[1]
    assert "audio" not in body
