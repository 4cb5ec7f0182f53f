"""The pure Vidu adapter: requests built and replies parsed as data, no network.

The reply bodies marked "reference" are copied verbatim from the documented examples in
``shared/reference/providers/vidu.md``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.providers.adapters import Resolver, deployment_maker, reply
from vidgate.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, Inline
from vidgate.providers.registry import PROVIDERS
from vidgate.providers.vidu import PROVIDER
from vidgate.providers.vidu.adapter import OFF_PEAK_POLL_S, ViduAdapter
from vidgate.providers.vidu.spec import SPEC, frame_size, ratio_and_tier
from vidgate.values import Asset, ResolvedRequest

PNG = Asset("blob", "inputs/u1/first.png", "image/png", "first.png", "d1")
LAST = Asset("url", "https://cdn.example.com/last.png")
REF = Asset("url", "data:image/png;base64,iVBORw0KGgo=")

# --- documented bodies (reference, verbatim) ---------------------------------------------
CREATE_REPLY = json.loads(
    '{"task_id":"860293858930003968","state":"created","model":"viduq1","prompt":"A koi pond '
    'in autumn","duration":5,"seed":1234,"aspect_ratio":"16:9","resolution":"1080p",'
    '"movement_amplitude":"auto","payload":"","off_peak":false,"credits":8,'
    '"created_at":"2026-05-01T08:00:00.000Z"}'
)
QUERY_REPLY = json.loads(
    '{"id":"860293858930003968","state":"success","err_code":"","credits":4,"payload":"",'
    '"bgm":false,"off_peak":false,'
    '"creations":[{"id":"…","url":"https://…mp4","cover_url":"https://…jpg",'
    '"watermarked_url":"https://…mp4"}]}'
)
ERROR_REPLY = json.loads(
    '{"code":"CreditInsufficient","reason":"CreditInsufficient","message":"insufficient '
    'credits","metadata":{"trace_id":"…"}}'
)
TASK = "860293858930003968"

deployment = deployment_maker(
    SPEC, "viduq2", "vidu-test", "https://api.vidu.com/ent/v2", "vda_secret"
)


ADAPTER = ViduAdapter(deployment())
POLL = CallContext("poll", TASK)
SUBMIT = CallContext("submit")

RESOLVER = Resolver(SPEC, "viduq2", "A koi pond in autumn")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


def submit(req: ResolvedRequest) -> tuple[str, dict[str, Any]]:
    call = ViduAdapter(deployment(req.upstream_model)).build_submit(req, "video_" + "0" * 32)
    assert call.method == "POST" and call.headers == {}
    return call.path, call.json


# --- spec --------------------------------------------------------------------------------


def test_spec_is_registered_with_the_documented_basics() -> None:
    assert PROVIDERS["vidu"] is PROVIDER and PROVIDER.spec is SPEC
    assert PROVIDER.adapter is not None and isinstance(PROVIDER.adapter(deployment()), ViduAdapter)
    assert SPEC.default_api_base == "https://api.vidu.com/ent/v2"
    assert SPEC.env == {"api_key": "VIDU_API_KEY"}
    assert set(SPEC.auto_models) == set(SPEC.models)
    assert SPEC.upstream_previews == frozenset({"thumbnail"})
    assert dict(SPEC.status_map) == {
        "created": "queued",
        "queueing": "queued",
        "processing": "in_progress",
        "success": "completed",
        "failed": "failed",
    }
    assert SPEC.map_status("scheduling") == "in_progress"


def test_every_model_has_a_credit_price() -> None:
    assert set(SPEC.prices) == set(SPEC.models)
    for model, price in SPEC.prices.items():
        assert price.unit == "credits" and price.usd_per_unit == 0.05 and price.source, model
    assert SPEC.prices["viduq1"].usd(5, "1080p") == pytest.approx(0.40)  # 8 credits
    assert SPEC.prices["vidu2.0"].usd(4, "720p") == pytest.approx(0.20)  # 4 credits
    assert SPEC.prices["viduq2-pro"].units_usd(10) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("size", "ratio", "tier"),
    [
        ("1280x720", "16:9", "720p"),
        ("720x1280", "9:16", "720p"),
        ("1920x1080", "16:9", "1080p"),
        ("1080x1920", "9:16", "1080p"),
        ("720x960", "3:4", "720p"),
        ("1440x1080", "4:3", "1080p"),
        ("540x540", "1:1", "540p"),
        ("640x360", "16:9", "360p"),
    ],
)
def test_sizes_are_aspect_ratio_and_resolution(size: str, ratio: str, tier: str) -> None:
    width, height = (int(v) for v in size.split("x"))
    assert ratio_and_tier(width, height) == (ratio, tier)
    assert frame_size(ratio, tier) == size


def test_model_capabilities_follow_the_reference() -> None:
    q3, q2, q1, v20 = (SPEC.models[m] for m in ("viduq3-pro", "viduq2", "viduq1", "vidu2.0"))
    assert q3.seconds == tuple(range(1, 17)) and q3.audio is True and q3.max_prompt_chars == 5000
    assert q2.seconds == tuple(range(1, 11)) and q2.image_roles == {"reference"}
    assert q2.max_reference_images == 7 and "720x960" in q2.sizes
    assert q1.seconds == (5,) and q1.sizes == ("1920x1080", "1080x1920", "1080x1080")
    assert v20.seconds == (4, 8) and v20.max_reference_images == 3 and "640x360" in v20.sizes
    assert "960x720" not in v20.sizes  # 4:3 and 3:4 are q2 / q3 only
    assert all(m.operations == {"create"} for m in SPEC.models.values())
    assert all("off_peak" in m.options for m in SPEC.models.values())


# --- auth, paths -------------------------------------------------------------------------


def test_auth_is_the_token_scheme_not_bearer() -> None:
    assert ADAPTER.auth_headers(None) == {"Authorization": "Token vda_secret"}
    assert ViduAdapter(deployment(api_key=None)).auth_headers(None) == {}


def test_poll_cancel_and_download_calls() -> None:
    poll = ADAPTER.build_poll(TASK)
    assert (poll.method, poll.path) == ("GET", f"/tasks/{TASK}/creations")
    cancel = ADAPTER.build_delete(TASK)
    assert cancel is not None
    assert (cancel.method, cancel.path, cancel.json) == (
        "POST",
        f"/tasks/{TASK}/cancel",
        {"id": TASK},
    )
    for variant, url in (("video", "https://cdn.vidu.com/a.mp4"), ("thumbnail", "https://c/j")):
        plan = ADAPTER.build_download(TASK, variant, url)  # type: ignore[arg-type]
        assert plan is not None and plan.auth is False
        assert (plan.call.method, plan.call.path) == ("GET", url)
    assert ADAPTER.build_download(TASK, "spritesheet", "https://c/s.jpg") is None
    assert ADAPTER.build_download(TASK, "video", None) is None
    assert ADAPTER.build_download(TASK, "video", "file:///etc/passwd") is None


# --- request bodies ----------------------------------------------------------------------


def test_text_to_video_body() -> None:
    path, body = submit(resolved(seed=1234))
    assert path == "/text2video"
    assert body == {
        "model": "viduq2",
        "prompt": "A koi pond in autumn",
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "duration": 5,
        "seed": 1234,
    }


def test_text_to_video_portrait_q3_with_audio_and_options() -> None:
    options = {
        "movement_amplitude": "large",
        "bgm": True,
        "off_peak": True,
        "watermark": False,
        "payload": "job-7",
    }
    req = resolved("viduq3-pro", size=(1080, 1440), seconds=16, audio=False, options=options)
    path, body = submit(req)
    assert path == "/text2video"
    assert body == {
        "model": "viduq3-pro",
        "prompt": "A koi pond in autumn",
        "aspect_ratio": "3:4",
        "resolution": "1080p",
        "duration": 16,
        "audio": False,
        **options,
    }


def test_image_to_video_inlines_uploads_and_sends_no_aspect_ratio() -> None:
    req = resolved("viduq2-pro", image=PNG, audio=True)
    path, body = submit(req)
    assert path == "/img2video"
    assert body["images"] == [Inline(PNG, "data_uri")]
    assert "aspect_ratio" not in body
    assert (body["resolution"], body["duration"], body["audio"]) == ("720p", 5, True)


def test_start_end_to_video_sends_first_then_last() -> None:
    req = resolved("viduq1", image=PNG, last_frame=LAST, size=(1080, 1920))
    path, body = submit(req)
    assert path == "/start-end2video"
    assert body["images"] == [Inline(PNG, "data_uri"), LAST.value]
    assert "aspect_ratio" not in body and body["resolution"] == "1080p"


def test_reference_to_video_sends_urls_as_they_are_and_data_uris_inline() -> None:
    req = resolved(reference_images=[LAST, REF], size=(720, 720))
    path, body = submit(req)
    assert path == "/reference2video"
    assert body["images"] == [LAST.value, Inline(REF, "data_uri")]
    assert (body["aspect_ratio"], body["resolution"]) == ("1:1", "720p")


def test_style_only_for_classic_text_to_video() -> None:
    path, body = submit(resolved("viduq1", options={"style": "anime"}))
    assert path == "/text2video" and body["style"] == "anime"
    assert rejects("metadata.style", options={"style": "anime"}).code == "unknown_parameter"
    assert rejects("metadata.style", "viduq1", options={"style": "oil"}).code == "invalid_value"
    rejects("metadata.style", "viduq1", image=PNG, options={"style": "anime"})


def test_a_bad_option_value_is_refused_before_any_job() -> None:
    error = rejects("metadata.movement_amplitude", options={"movement_amplitude": "huge"})
    assert error.code == "invalid_value"
    assert error.message == (
        "Invalid value for 'metadata.movement_amplitude': \"huge\"; "
        "allowed: auto, small, medium, large."
    )
    error = rejects("metadata.off_peak", options={"off_peak": "yes"})
    assert error.message == (
        "Invalid value for 'metadata.off_peak': \"yes\"; expected true or false."
    )
    rejects("metadata.payload", options={"payload": "x" * 1_048_577})
    assert resolved(options={"payload": "x" * 1_048_576}).options["payload"] == "x" * 1_048_576


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        ("viduq2-pro", {}, "input_reference"),
        ("vidu2.0", {"size": (640, 360), "seconds": 4}, "input_reference"),
        ("viduq1", {"last_frame": LAST}, "input_reference"),
        ("viduq1", {"image": PNG, "reference_images": [LAST]}, "metadata.reference_images"),
        ("viduq2-pro", {"image": PNG, "last_frame": LAST, "seconds": 10}, "seconds"),
        ("vidu2.0", {"image": PNG, "seconds": 8, "size": (1920, 1080)}, "size"),
        ("viduq2-pro", {"image": PNG, "last_frame": LAST, "audio": True}, "metadata.audio"),
        ("viduq2", {"seed": 2_147_483_648}, "seed"),
        ("viduq2", {"seed": -1}, "seed"),
        ("viduq2", {"options": {"movement_amplitude": "huge"}}, "metadata.movement_amplitude"),
        ("viduq2", {"options": {"bgm": "yes"}}, "metadata.bgm"),
        ("viduq2", {"options": {"payload": 7}}, "metadata.payload"),
        ("viduq2", {"options": {"callback_url": "https://x"}}, "metadata.callback_url"),
        ("viduq2", {"reference_images": [Asset("file_id", "file-1")]},
         "metadata.reference_images[0]"),
    ],
)  # fmt: skip
def test_requests_vidu_cannot_take(model: str, fields: dict[str, Any], param: str) -> None:
    rejects(param, model, **fields)


def test_combinations_vidu_can_take() -> None:
    eight = resolved("vidu2.0", image=PNG, seconds=8, size=(720, 1280))
    assert submit(eight)[1]["resolution"] == "720p"
    short = resolved("viduq2-turbo", image=PNG, last_frame=LAST, seconds=8)
    path, body = submit(short)
    assert path == "/start-end2video" and "audio" not in body
    assert submit(resolved(seed=0))[1]["seed"] == 0


def test_remix_edit_extend_are_unsupported() -> None:
    for operation in ("remix", "edit", "extend"):
        with pytest.raises(UnsupportedOperation):
            resolved(operation=operation)


# --- task replies ------------------------------------------------------------------------


def test_documented_create_reply_is_a_queued_task() -> None:
    state = ADAPTER.parse_state(reply(200, CREATE_REPLY), SUBMIT)
    assert (state.upstream_id, state.status, state.raw_status) == (TASK, "queued", "created")
    assert state.cost_units == 8 and state.poll_after_s is None and state.progress == 0


def test_documented_query_reply_is_a_completed_task() -> None:
    state = ADAPTER.parse_state(reply(200, QUERY_REPLY), POLL)
    assert (state.upstream_id, state.status, state.progress) == (TASK, "completed", 100)
    assert dict(state.results) == {"video": "https://…mp4", "thumbnail": "https://…jpg"}
    assert state.cost_units == 4 and state.error_code is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [("created", "queued"), ("queueing", "queued"), ("processing", "in_progress"),
     ("scheduling", "in_progress"), ("", None)],
)  # fmt: skip
def test_running_states(raw: str, status: str | None) -> None:
    body = QUERY_REPLY | {"state": raw, "creations": []}
    if status is None:
        with pytest.raises(UpstreamError):
            ADAPTER.parse_state(reply(200, body), POLL)
        return
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.raw_status, state.results) == (status, raw, {})


def test_off_peak_tasks_are_polled_rarely() -> None:
    state = ADAPTER.parse_state(reply(200, CREATE_REPLY | {"off_peak": True}), SUBMIT)
    assert state.poll_after_s == OFF_PEAK_POLL_S


@pytest.mark.parametrize(
    ("err_code", "code"),
    [
        ("CreationPolicyViolation", "moderation_blocked"),
        ("TaskPromptPolicyViolation", "moderation_blocked"),
        ("AuditSubmitIllegal", "moderation_blocked"),
        ("UserCancelled", "cancelled"),
        ("ImageDownloadFailure", "invalid_input"),
        ("CreditInsufficient", "upstream_insufficient_credits"),
        ("InternalServiceFailure", "upstream_failed"),
        ("", "upstream_failed"),
    ],
)
def test_failed_tasks_carry_the_err_code(err_code: str, code: str) -> None:
    body = QUERY_REPLY | {"state": "failed", "err_code": err_code, "creations": []}
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.error_code) == ("failed", code)
    assert state.error_message and (err_code in state.error_message)


@pytest.mark.parametrize(
    "creations",
    [[], None, [{"id": "1", "url": ""}], [{"id": "1", "url": "ftp://x/y.mp4"}], ["x"]],
)
def test_success_without_a_video_is_a_failure(creations: Any) -> None:
    state = ADAPTER.parse_state(reply(200, QUERY_REPLY | {"creations": creations}), POLL)
    assert (state.status, state.error_code) == ("failed", "upstream_no_output")


def test_success_without_a_cover_has_no_thumbnail() -> None:
    body = QUERY_REPLY | {"creations": [{"id": "1", "url": "https://v/1.mp4", "cover_url": ""}]}
    assert dict(ADAPTER.parse_state(reply(200, body), POLL).results) == {"video": "https://v/1.mp4"}


@pytest.mark.parametrize(
    "body", [{}, '{"id":"860293858930003968","state":"proc', [], {"state": "success"},
             {"id": "", "state": "processing"}, {"id": TASK}],
)  # fmt: skip
def test_malformed_replies_are_upstream_errors(body: Any) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, body), POLL)


def test_a_create_answered_failed_with_http_200_is_an_error() -> None:
    body = CREATE_REPLY | {"state": "failed", "err_code": "AuditSubmitIllegal"}
    with pytest.raises(InvalidRequest) as info:
        ADAPTER.parse_state(reply(200, body), SUBMIT)
    assert (info.value.code, info.value.param) == ("moderation_blocked", "prompt")
    credits = CREATE_REPLY | {"state": "failed", "err_code": "CreditInsufficient"}
    with pytest.raises(UpstreamError) as other:
        ADAPTER.parse_state(reply(200, credits), SUBMIT)
    assert other.value.code == "upstream_insufficient_credits"


# --- errors ------------------------------------------------------------------------------


def vidu_error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "reason": code, "message": message, "metadata": {"trace_id": "t"}}


@pytest.mark.parametrize("status", [400, 402])
def test_documented_credit_error_is_an_upstream_error(status: int) -> None:
    error = ADAPTER.parse_error(reply(status, ERROR_REPLY), POLL)
    assert type(error) is UpstreamError and error.code == "upstream_insufficient_credits"


@pytest.mark.parametrize(
    ("status", "body", "kind", "param", "code"),
    [
        (400, vidu_error("FieldInvalid", "duration 12 is not supported by model viduq2"),
         InvalidRequest, "seconds", "invalid_request"),
        (400, vidu_error("FieldInvalid", "aspect_ratio 4:3 is not supported"),
         InvalidRequest, "size", "invalid_request"),
        (400, vidu_error("FieldItemCountOutOfRange", "images must contain 1 items"),
         InvalidRequest, "input_reference", "invalid_request"),
        (400, vidu_error("TaskPromptPolicyViolation", "prompt violates policy"),
         InvalidRequest, "prompt", "moderation_blocked"),
        (400, vidu_error("ModelUnavailable", "model viduq9 is not available"),
         InvalidRequest, "model", "invalid_request"),
        (400, vidu_error("ImageFormatInvalid", "image could not be decoded"),
         InvalidRequest, "input_reference", "invalid_request"),
        (400, vidu_error("OperationInProcess", "operation in process"), Conflict, None,
         "conflict"),
        (400, vidu_error("BadRequest", "bad request"), InvalidRequest, None, "invalid_request"),
        (401, vidu_error("Unauthorized", "invalid token"), UpstreamAuthError, None,
         "upstream_auth_error"),
        (403, vidu_error("Forbidden", "forbidden"), UpstreamAuthError, None,
         "upstream_auth_error"),
        (404, vidu_error("TaskNotFound", "task not found"), NotFound, None, "not_found"),
        (409, vidu_error("Conflict", "conflict"), Conflict, None, "conflict"),
        (499, vidu_error("Canceled", "canceled"), UpstreamError, None, "upstream_error"),
        (500, vidu_error("InternalServiceFailure", "boom"), UpstreamError, None,
         "upstream_error"),
        (502, "<html>bad gateway</html>", UpstreamError, None, "upstream_error"),
    ],
)  # fmt: skip
def test_error_classes(status: int, body: Any, kind: type, param: str | None, code: str) -> None:
    error = ADAPTER.parse_error(reply(status, body), POLL)
    assert type(error) is kind and error.param == param and error.code == code


@pytest.mark.parametrize("code", ["QuotaExceeded", "TooManyRequests", "SystemThrottling"])
def test_429s_are_rate_limits_with_retry_after(code: str) -> None:
    error = ADAPTER.parse_error(
        reply(429, vidu_error(code, "slow down"), **{"retry-after": "3"}), POLL
    )
    assert isinstance(error, RateLimited) and error.retry_after_s == 3 and code in error.message
    assert ADAPTER.parse_error(reply(429, {}), POLL).retry_after_s is None


def test_error_messages_drop_urls_and_keep_the_upstream_text() -> None:
    body = vidu_error("ImageDownloadFailure", "cannot fetch https://internal.vidu.cn/x?sig=abc")
    error = ADAPTER.parse_error(reply(400, body), POLL)
    assert "internal.vidu.cn" not in error.message and "sig=abc" not in error.message
    assert "cannot fetch <url>" in error.message and "ImageDownloadFailure" in error.message
