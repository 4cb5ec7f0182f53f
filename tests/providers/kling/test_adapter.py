"""The pure Kling adapter: requests built and replies parsed as data, no network."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from typing import Any

import pytest

from tests.providers.adapters import STATUS_ERRORS, Resolver, deployment_maker, reply, request_maker
from tests.providers.kling.reference import CREATE_EXAMPLE, SUCCEED_EXAMPLE
from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, Inline
from vidgate.providers.kling import PROVIDER
from vidgate.providers.kling.adapter import KlingAdapter, sign_jwt, split_upstream_id
from vidgate.providers.kling.spec import LEGACY_API_BASE, MODELS, SPEC
from vidgate.providers.registry import PROVIDERS
from vidgate.request import VideoRequest, resolve
from vidgate.routing.config import env_entries
from vidgate.values import Asset, ImageInput, ResolvedRequest

NOW = 1_774_805_076.4  # a fixed clock, 36.4 s into its minute
AK, SK = "ak-test-123", "sk-test-456"
JOB = "video_" + "ab" * 16
PNG = Asset("blob", "inputs/u1/first.png", "image/png", "first.png", "d1")
LAST = Asset("url", "https://cdn.example.com/last.png")
DATA_URL = Asset("url", "data:image/png;base64,iVBORw0KGgo=")

deployment = deployment_maker(
    SPEC, "kling-v1-6", "kling-test", SPEC.default_api_base, AK, options={"secret_key": SK}
)
request = request_maker("a red kite over the sea", "kling-v1-6", 5, (1280, 720))


ADAPTER = KlingAdapter(deployment(), clock=lambda: NOW)
POLL = CallContext("poll", "text2video/867283741759111202")


def submit(req: ResolvedRequest) -> tuple[str, dict[str, Any]]:
    call = KlingAdapter(deployment(req.upstream_model)).build_submit(req, JOB)
    assert call.method == "POST" and call.headers == {}
    return call.path, call.json


RESOLVER = Resolver(SPEC, "kling-v1-6", "a red kite")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


def with_data(example: dict[str, Any], **data: Any) -> dict[str, Any]:
    body = copy.deepcopy(example)
    body["data"].update(data)
    return body


# --- spec ------------------------------------------------------------------------------


def test_registered_with_every_model_priced() -> None:
    assert PROVIDERS["kling"] is PROVIDER
    assert set(SPEC.models) == set(SPEC.prices) == set(SPEC.auto_models)
    for caps in SPEC.models.values():
        assert caps.operations == frozenset({"create"}) and not caps.seed
        assert caps.negative_prompt and caps.image_roles == {"first_frame", "last_frame"}
        assert set(caps.sizes) == {
            "1280x720", "720x1280", "720x720", "1920x1080", "1080x1920", "1080x1080"
        }  # fmt: skip
        assert caps.max_prompt_chars == 2500 and caps.default_size == "1280x720"
    assert MODELS["kling-v1-6"].seconds == (5, 10)
    assert MODELS["kling-v3"].seconds == tuple(range(3, 16))
    assert MODELS["kling-v2-6"].audio is False and MODELS["kling-v1-6"].audio is None
    assert "cfg_scale" in MODELS["kling-v1"].options
    assert "cfg_scale" not in MODELS["kling-v2-1"].options


def test_status_map_and_hosts() -> None:
    assert SPEC.status_map == {
        "submitted": "queued",
        "processing": "in_progress",
        "succeed": "completed",
        "failed": "failed",
    }
    assert SPEC.map_status("succeeded") == "in_progress"  # the misspelling is the real one
    assert SPEC.default_api_base == "https://api-singapore.klingai.com"
    assert LEGACY_API_BASE == "https://api.klingai.com"


def test_prices_are_units_at_the_resource_pack_rate() -> None:
    legacy = SPEC.prices["kling-v1-6"]
    assert (legacy.unit, legacy.usd_per_unit) == ("units", 0.14)
    assert legacy.usd(5, "720p") == pytest.approx(2 * 0.14)  # std 5 s = 2 units
    assert legacy.usd(10, "1080p") == pytest.approx(7 * 0.14)  # pro 10 s = 7 units
    v3 = SPEC.prices["kling-v3"]
    assert v3.usd(10, "720p") == pytest.approx(6 * 0.14)
    assert v3.usd(10, "1080p", audio=True) == pytest.approx(12 * 0.14)
    assert SPEC.prices["kling-v2-master"].usd(5, "720p") == pytest.approx(10 * 0.14)
    assert legacy.units_usd(3.5) == pytest.approx(0.49)
    assert all(p.source for p in SPEC.prices.values())


def test_environment_credentials_register_every_model() -> None:
    environment = {"KLING_ACCESS_KEY": AK, "KLING_SECRET_KEY": SK}
    entries = env_entries({"kling": PROVIDER}, environment, set())
    assert {e.model_name for e in entries} == {f"kling/{m}" for m in MODELS}
    entry = entries[0]
    assert (entry.api_key, entry.options, entry.api_base) == (
        AK,
        {"secret_key": SK},
        "https://api-singapore.klingai.com",
    )
    assert env_entries({"kling": PROVIDER}, {"KLING_ACCESS_KEY": AK}, set()) == []


# --- auth ------------------------------------------------------------------------------


def _decode(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_auth_header_is_an_hs256_jwt_signed_with_the_secret_key() -> None:
    headers = ADAPTER.auth_headers(None)
    assert set(headers) == {"Authorization"}
    scheme, token = headers["Authorization"].split(" ")
    assert scheme == "Bearer"
    header, claims, signature = token.split(".")
    assert "=" not in token
    assert _decode(header) == {"alg": "HS256", "typ": "JWT"}
    minute = int(NOW) // 60 * 60
    assert _decode(claims) == {"iss": AK, "exp": minute + 1800, "nbf": minute - 5}
    assert _decode(claims)["exp"] - NOW > 1740 and _decode(claims)["nbf"] <= NOW - 5
    mac = hmac.new(SK.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert signature == base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def test_tokens_are_reused_within_a_minute_and_re_signed_after() -> None:
    clock = [NOW]
    adapter = KlingAdapter(deployment(), clock=lambda: clock[0])
    first = adapter.auth_headers(None)
    clock[0] = NOW + 20
    assert adapter.auth_headers(None) == first
    clock[0] = NOW + 60
    later = adapter.auth_headers(None)
    assert later != first
    claims = _decode(later["Authorization"].split(".")[1])
    assert claims["exp"] > clock[0] + 1740  # never close to expiry when used
    other = KlingAdapter(deployment(options={"secret_key": "other"}), lambda: clock[0])
    assert other.auth_headers(None) != later


def test_sign_jwt_matches_the_documented_recipe() -> None:
    token = sign_jwt("ak", "sk", 1000)
    assert _decode(token.split(".")[1]) == {"iss": "ak", "exp": 2800, "nbf": 995}


@pytest.mark.parametrize(
    "changes",
    [{"api_key": None}, {"options": {}}, {"options": {"secret_key": ""}}],
)
def test_missing_keys_are_an_upstream_auth_error(changes: dict[str, Any]) -> None:
    with pytest.raises(UpstreamAuthError) as caught:
        KlingAdapter(deployment(**changes)).auth_headers(None)
    assert "options.secret_key" in caught.value.message and SK not in caught.value.message


# --- submit ----------------------------------------------------------------------------


def test_text2video_body() -> None:
    path, body = submit(request())
    assert path == "/v1/videos/text2video"
    assert body == {
        "model_name": "kling-v1-6",
        "model": "kling-v1-6",
        "prompt": "a red kite over the sea",
        "mode": "std",
        "duration": "5",
        "aspect_ratio": "16:9",
        "external_task_id": f"text2video-{JOB}",
    }


@pytest.mark.parametrize(
    ("width", "height", "aspect", "mode"),
    [
        (1280, 720, "16:9", "std"),
        (720, 1280, "9:16", "std"),
        (720, 720, "1:1", "std"),
        (1920, 1080, "16:9", "pro"),
        (1080, 1920, "9:16", "pro"),
        (1080, 1080, "1:1", "pro"),
    ],
)
def test_size_maps_to_aspect_ratio_and_mode(
    width: int, height: int, aspect: str, mode: str
) -> None:
    _, body = submit(request(width=width, height=height, seconds=10))
    assert (body["aspect_ratio"], body["mode"], body["duration"]) == (aspect, mode, "10")


def test_size_kling_cannot_render_is_rejected() -> None:
    rejects("size", size=(1024, 1024))


def test_mode_option_is_validated_against_the_size() -> None:
    _, body = submit(resolved(options={"mode": "std"}))
    assert body["mode"] == "std"
    _, body = submit(resolved(size=(1920, 1080), options={"mode": "pro"}))
    assert body["mode"] == "pro"
    assert "1080p" in rejects("metadata.mode", options={"mode": "pro"}).message
    assert rejects("metadata.mode", options={"mode": "turbo"}).code == "invalid_value"
    renamed = VideoRequest(
        operation="create", prompt="p", options={"mode": "pro"}, names={"metadata.mode": "mode"}
    )
    with pytest.raises(InvalidRequest) as caught:  # named as the client sent it
        resolve(renamed, MODELS["kling-v1-6"], model_name="k", upstream_model="kling-v1-6")
    assert caught.value.param == "mode" and "'mode'" in caught.value.message


def test_extras_negative_prompt_cfg_scale_camera_control() -> None:
    camera = {"type": "simple", "config": {"zoom": -4}}
    _, body = submit(
        resolved(negative_prompt="blur", options={"cfg_scale": 0.3, "camera_control": camera})
    )
    assert body["negative_prompt"] == "blur" and body["cfg_scale"] == 0.3
    assert body["camera_control"] == {
        "type": "simple",
        "config": {"horizontal": 0, "vertical": 0, "pan": 0, "tilt": 0, "roll": 0, "zoom": -4},
    }
    _, body = submit(resolved(options={"camera_control": {"type": "down_back"}}))
    assert body["camera_control"] == {"type": "down_back"}
    _, body = submit(resolved(options={"cfg_scale": 1}))
    assert body["cfg_scale"] == 1


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"cfg_scale": 1.5}, "metadata.cfg_scale"),
        ({"cfg_scale": True}, "metadata.cfg_scale"),
        ({"cfg_scale": "0.5"}, "metadata.cfg_scale"),
        ({"camera_control": "zoom"}, "metadata.camera_control"),
        ({"camera_control": {"type": "orbit"}}, "metadata.camera_control.type"),
        ({"camera_control": {"type": "simple"}}, "metadata.camera_control.config"),
        (
            {"camera_control": {"type": "simple", "config": {"pan": 1, "tilt": 1}}},
            "metadata.camera_control.config",
        ),
        (
            {"camera_control": {"type": "simple", "config": {"pan": 11}}},
            "metadata.camera_control.config",
        ),
        (
            {"camera_control": {"type": "forward_up", "config": {"pan": 1}}},
            "metadata.camera_control.config",
        ),
    ],
)
def test_bad_options_name_their_parameter(options: dict[str, Any], param: str) -> None:
    rejects(param, options=options)


def test_cfg_scale_only_on_the_v1_family() -> None:
    assert rejects("metadata.cfg_scale", "kling-v2-1", options={"cfg_scale": 0.5}).code == (
        "unknown_parameter"
    )


def test_long_texts_are_rejected() -> None:
    rejects("prompt", prompt="x" * 2501)
    rejects("metadata.negative_prompt", negative_prompt="x" * 2501)


def test_sound_only_where_the_model_has_audio() -> None:
    _, body = submit(request(upstream_model="kling-v2-6", audio=True))
    assert body["sound"] == "on"
    _, body = submit(request(upstream_model="kling-v3", audio=False, seconds=3))
    assert (body["sound"], body["duration"]) == ("off", "3")
    _, body = submit(request(audio=None, upstream_model="kling-v3"))
    assert "sound" not in body
    _, body = submit(request(audio=True))  # kling-v1-6 has no audio
    assert "sound" not in body


def test_image2video_with_first_and_last_frame() -> None:
    images = (ImageInput("first_frame", PNG), ImageInput("last_frame", LAST))
    path, body = submit(request(images=images, width=1920, height=1080))
    assert path == "/v1/videos/image2video"
    assert body["image"] == Inline(PNG, "base64")  # raw base64, no data: prefix
    assert body["image_tail"] == "https://cdn.example.com/last.png"
    assert body["external_task_id"] == f"image2video-{JOB}" and body["mode"] == "pro"
    assert "aspect_ratio" not in body  # the output follows the image


def test_data_urls_are_sent_as_raw_base64() -> None:
    _, body = submit(request(images=(ImageInput("first_frame", DATA_URL),)))
    assert body["image"] == Inline(DATA_URL, "base64")


def test_image_errors() -> None:
    rejects("input_reference", last_frame=LAST)
    rejects("input_reference", image=Asset("file_id", "f1"))
    camera = {"camera_control": {"type": "down_back"}}
    rejects("metadata.camera_control", image=PNG, last_frame=LAST, options=camera)


@pytest.mark.parametrize("operation", ["remix", "edit", "extend"])
def test_no_follow_up_operations(operation: str) -> None:
    with pytest.raises(UnsupportedOperation):
        resolved(operation=operation)


# --- poll, download, delete ------------------------------------------------------------


def test_poll_uses_the_family_of_the_create_call() -> None:
    assert ADAPTER.build_poll("image2video/867").path == "/v1/videos/image2video/867"
    assert ADAPTER.build_poll("text2video/867").path == "/v1/videos/text2video/867"
    assert ADAPTER.build_poll("867").path == "/v1/videos/text2video/867"
    assert split_upstream_id("other/867") == ("text2video", "other/867")


def test_download_is_the_cdn_url_without_auth_and_there_is_no_delete() -> None:
    url = "https://v1-kling.klingai.com/bs2/upload/a.mp4"
    plan = ADAPTER.build_download("text2video/1", "video", url)
    assert plan is not None and plan.call.path == url and plan.auth is False
    assert ADAPTER.build_download("text2video/1", "thumbnail", url) is None
    assert ADAPTER.build_download("text2video/1", "video", None) is None
    assert ADAPTER.build_delete("text2video/1") is None


# --- parse_state -----------------------------------------------------------------------


def test_documented_create_reply_is_queued() -> None:
    state = ADAPTER.parse_state(reply(200, CREATE_EXAMPLE), CallContext("submit", None, request()))
    assert (state.upstream_id, state.status, state.raw_status) == (
        "text2video/867283741759111202",
        "queued",
        "submitted",
    )


def test_the_family_comes_from_the_call() -> None:
    with_image = request(images=(ImageInput("first_frame", PNG),))
    state = ADAPTER.parse_state(reply(200, CREATE_EXAMPLE), CallContext("submit", None, with_image))
    assert state.upstream_id == "image2video/867283741759111202"
    asked = CallContext("poll", "image2video/867283741759111202")
    assert ADAPTER.parse_state(reply(200, CREATE_EXAMPLE), asked).upstream_id == asked.upstream_id


def test_documented_succeed_reply_is_completed_with_units() -> None:
    state = ADAPTER.parse_state(reply(200, SUCCEED_EXAMPLE), POLL)
    assert (state.status, state.progress, state.raw_status) == ("completed", 100, "succeed")
    assert state.results == {"video": "https://…klingai.com/…mp4"}
    assert state.cost_units == 2.0


def test_processing_and_unknown_statuses_keep_running() -> None:
    running = with_data(CREATE_EXAMPLE, task_status="processing")
    state = ADAPTER.parse_state(reply(200, running), POLL)
    assert (state.status, state.progress) == ("in_progress", 0)
    unknown = with_data(CREATE_EXAMPLE, task_status="queueing-gpu")
    state = ADAPTER.parse_state(reply(200, unknown), POLL)
    assert (state.status, state.raw_status) == ("in_progress", "queueing-gpu")


def test_failed_reads_task_status_msg_not_message() -> None:
    body = with_data(
        CREATE_EXAMPLE,
        task_status="failed",
        task_status_msg="Failure to pass the risk control system",
    )
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.error_code) == ("failed", "moderation_blocked")
    assert state.error_message == "Kling: Failure to pass the risk control system"
    assert "SUCCEED" not in state.error_message
    other = with_data(CREATE_EXAMPLE, task_status="failed", task_status_msg="GPU fell over")
    assert ADAPTER.parse_state(reply(200, other), POLL).error_code == "upstream_failed"
    bare = ADAPTER.parse_state(reply(200, with_data(CREATE_EXAMPLE, task_status="failed")), POLL)
    assert bare.status == "failed" and bare.error_message == "Kling reported the task failed."


@pytest.mark.parametrize(
    "task_result",
    [None, {}, {"videos": []}, {"videos": [{"id": "v"}]}, {"videos": [{"url": "ftp://x"}]}],
)
def test_succeed_without_a_video_is_a_failure(task_result: Any) -> None:
    body = with_data(SUCCEED_EXAMPLE, task_result=task_result)
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.error_code) == ("failed", "upstream_no_output")


@pytest.mark.parametrize("units", [None, "", "n/a", "-1", "nan"])
def test_unparsable_units_are_unknown(units: Any) -> None:
    body = with_data(SUCCEED_EXAMPLE, final_unit_deduction=units)
    assert ADAPTER.parse_state(reply(200, body), POLL).cost_units is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        '{"code":0,"message":"SUCCEED","data":{"task_id":"1","task_st',
        {"code": 0, "message": "SUCCEED"},
        {"code": 0, "data": {"task_status": "processing"}},
        {"code": 0, "data": {"task_id": ""}},
    ],
)
def test_malformed_replies_are_upstream_errors(body: Any) -> None:
    with pytest.raises(UpstreamError) as caught:
        ADAPTER.parse_state(reply(200, body), POLL)
    assert type(caught.value) is UpstreamError


def test_a_non_zero_code_on_http_200_is_an_error() -> None:
    body = {"code": 1201, "message": "duration must be a string", "request_id": "r"}
    with pytest.raises(InvalidRequest) as caught:
        ADAPTER.parse_state(reply(200, body), POLL)
    assert caught.value.param == "seconds"


# --- parse_error -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, 1000, UpstreamAuthError),
        (401, 1001, UpstreamAuthError),
        (401, 1002, UpstreamAuthError),
        (401, 1003, UpstreamAuthError),
        (401, 1004, UpstreamAuthError),
        (429, 1100, UpstreamError),
        (429, 1101, UpstreamError),
        (429, 1102, UpstreamError),
        (403, 1103, UpstreamAuthError),
        (400, 1200, InvalidRequest),
        (400, 1201, InvalidRequest),
        (404, 1202, UpstreamError),
        (404, 1203, NotFound),
        (400, 1300, InvalidRequest),
        (400, 1301, InvalidRequest),
        (429, 1302, RateLimited),
        (429, 1303, RateLimited),
        (429, 1304, UpstreamAuthError),
        (500, 5000, UpstreamError),
        (503, 5001, UpstreamError),
        (504, 5002, UpstreamError),
    ],
)
def test_every_documented_code(status: int, code: int, kind: type[GatewayError]) -> None:
    error = ADAPTER.parse_error(
        reply(status, {"code": code, "message": "m", "request_id": "r"}), POLL
    )
    assert type(error) is kind
    assert f"code {code}" in error.message


def test_balance_codes_are_not_transient_rate_limits() -> None:
    error = ADAPTER.parse_error(
        reply(429, {"code": 1102, "message": "resource pack depleted"}), POLL
    )
    assert error.code == "upstream_insufficient_credits" and not isinstance(error, RateLimited)


def test_rate_limits_carry_retry_after() -> None:
    error = ADAPTER.parse_error(
        reply(429, {"code": 1302, "message": "slow"}, **{"Retry-After": "7"}), POLL
    )
    assert isinstance(error, RateLimited) and error.retry_after_s == 7


def test_content_policy_at_create() -> None:
    error = ADAPTER.parse_error(reply(400, {"code": 1301, "message": "content safety"}), POLL)
    assert isinstance(error, InvalidRequest) and error.code == "moderation_blocked"


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ("duration must be one of 5, 10", "seconds"),
        ("aspect_ratio must be one of 16:9, 9:16, 1:1", "size"),
        ("image_tail must be raw base64", "metadata.last_frame"),
        ("image is required", "input_reference"),
        ("negative_prompt must be at most 2500 characters", "metadata.negative_prompt"),
        ("prompt is required", "prompt"),
        ("cfg_scale is not supported by kling-v2-1", "metadata.cfg_scale"),
        ("something else", None),
    ],
)
def test_invalid_params_are_named(message: str, param: str | None) -> None:
    error = ADAPTER.parse_error(reply(400, {"code": 1201, "message": message}), POLL)
    assert isinstance(error, InvalidRequest) and error.param == param


@pytest.mark.parametrize(("status", "kind"), STATUS_ERRORS)
def test_bodies_without_a_code_fall_back_to_the_http_status(
    status: int, kind: type[GatewayError]
) -> None:
    assert type(ADAPTER.parse_error(reply(status, "<html>bad gateway</html>"), POLL)) is kind


def test_errors_never_echo_urls() -> None:
    body = {"code": 1201, "message": "cannot fetch https://internal.klingai.com/x?token=abc"}
    error = ADAPTER.parse_error(reply(400, body), POLL)
    assert "klingai.com" not in error.message and "token" not in error.message


def test_options_sent_as_null_are_not_given() -> None:
    """As before the option table: ``null`` means "the upstream's default"."""
    _, body = submit(resolved(options={"mode": None, "camera_control": None, "cfg_scale": None}))
    assert "camera_control" not in body and "cfg_scale" not in body and body["mode"] == "std"
