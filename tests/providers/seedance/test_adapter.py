"""The Seedance adapter as pure functions: request mapping, task parsing, error mapping."""

from __future__ import annotations

from typing import Any

import pytest

from tests.providers.adapters import Resolver, deployment_maker, reply
from vidgate.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, Inline
from vidgate.providers.seedance import PROVIDER
from vidgate.providers.seedance.adapter import SeedanceAdapter
from vidgate.providers.seedance.spec import PRICES, SIZES, SPEC, TOKENS_PER_SECOND
from vidgate.values import Asset, Deployment, ResolvedRequest

V15 = "doubao-seedance-1-5-pro-251215"
LITE_T2V = "doubao-seedance-1-0-lite-t2v-250428"
LITE_I2V = "doubao-seedance-1-0-lite-i2v-250428"
V20 = "doubao-seedance-2-0-260128"
BLOB = Asset("blob", "inputs/abc/image.png", "image/png")

deployment = deployment_maker(
    SPEC, V15, "d1", "https://ark.cn-beijing.volces.com/api/v3", "ark-secret", model_name="m"
)


ADAPTER = SeedanceAdapter(deployment())
POLL = CallContext("poll", "cgt-1")

RESOLVER = Resolver(SPEC, V15, "a fox in the snow")
request, rejects = RESOLVER.resolved, RESOLVER.rejects


def submit(req: ResolvedRequest, dep: Deployment | None = None) -> dict[str, Any]:
    adapter = SeedanceAdapter(dep or deployment(req.upstream_model))
    call = adapter.build_submit(req, "idem")
    assert (call.method, call.path) == ("POST", "/contents/generations/tasks")
    body: dict[str, Any] = call.json
    return body


def state(body: Any, status: int = 200, context: CallContext = POLL) -> Any:
    return ADAPTER.parse_state(reply(status, body), context)


def error(status: int, body: Any = None, **headers: str) -> Any:
    return ADAPTER.parse_error(reply(status, body, **headers), POLL)


# --- spec ----------------------------------------------------------------------------------


def test_provider_spec_is_complete() -> None:
    assert PROVIDER.adapter is not None and PROVIDER.spec is SPEC
    assert isinstance(PROVIDER.adapter(deployment()), SeedanceAdapter)
    assert SPEC.default_api_base == "https://ark.cn-beijing.volces.com/api/v3"
    assert SPEC.env == {"api_key": "ARK_API_KEY"}
    assert set(SPEC.auto_models) <= set(SPEC.models)
    assert set(PRICES) == set(SPEC.models)
    assert SPEC.status_map == {
        "queued": "queued",
        "running": "in_progress",
        "succeeded": "completed",
        "failed": "failed",
        "expired": "failed",
        "cancelled": "failed",
    }
    assert SPEC.map_status("preprocessing") == "in_progress"
    for caps in SPEC.models.values():
        assert set(caps.sizes) <= set(SIZES) and caps.operations == {"create"}
    assert "1920x1080" not in SPEC.models["doubao-seedance-2-0-fast-260128"].sizes
    assert SPEC.models["dreamina-seedance-2-0-260128"].max_reference_images == 9
    assert SPEC.models[LITE_I2V].max_reference_images == 4
    assert SPEC.models[LITE_T2V].image_roles == frozenset()
    assert SPEC.models[V15].audio is True and SPEC.models[LITE_T2V].audio is None
    assert SPEC.capabilities("ep-20260101-abcde") is SPEC.any_model


def test_prices_are_per_token() -> None:
    pro = PRICES["seedance-1-0-pro-250528"]
    assert pro.unit == "tokens" and pro.usd_per_unit == pytest.approx(2.5e-6)
    # 720p 16:9 at 24 fps is 1280*720*24/1024 tokens per second.
    assert TOKENS_PER_SECOND["720p"] == 21_600
    assert pro.usd(5, "720p") == pytest.approx(108_000 * 2.5e-6)
    assert pro.units_usd(108_900) == pytest.approx(0.27225)
    v15 = PRICES["seedance-1-5-pro-251215"]
    assert v15.usd(5, "720p", audio=True) == pytest.approx(2 * v15.usd(5, "720p"))  # type: ignore[operator]
    v20 = PRICES[V20]
    assert v20.usd_per_unit == pytest.approx(46 / 7.2 / 1e6)
    assert v20.usd(1, "1080p") == pytest.approx(48_600 * 51 / 7.2 / 1e6)


# --- requests ------------------------------------------------------------------------------


def test_auth_is_a_bearer_ark_api_key() -> None:
    assert ADAPTER.auth_headers(None) == {"Authorization": "Bearer ark-secret"}


def test_body_style_model_gets_top_level_fields() -> None:
    body = submit(request(seed=7))
    assert body == {
        "model": V15,
        "resolution": "720p",
        "ratio": "16:9",
        "duration": 5,
        "seed": 7,
        "generate_audio": True,
        "content": [{"type": "text", "text": "a fox in the snow"}],
    }


@pytest.mark.parametrize(
    ("size", "ratio", "resolution"),
    [
        ("720x1280", "9:16", "720p"),
        ("1920x1080", "16:9", "1080p"),
        ("864x480", "16:9", "480p"),
        ("960x960", "1:1", "720p"),
        ("2206x946", "21:9", "1080p"),
        ("544x736", "3:4", "480p"),
    ],
)
def test_size_maps_to_ratio_and_resolution(size: str, ratio: str, resolution: str) -> None:
    width, height = (int(v) for v in size.split("x"))
    body = submit(request(size=(width, height)))
    assert (body["ratio"], body["resolution"]) == (ratio, resolution)


def test_legacy_model_gets_flags_in_the_text() -> None:
    body = submit(
        request(
            LITE_T2V,
            seconds=3,
            size=(864, 480),
            seed=3,
            options={"camera_fixed": False, "watermark": False},
        )
    )
    assert body == {
        "model": LITE_T2V,
        "content": [
            {
                "type": "text",
                "text": "a fox in the snow --rs 480p --rt 16:9 --dur 3 --seed 3 --cf false "
                "--wm false",
            }
        ],
    }


def test_param_style_option_overrides_the_model_default() -> None:
    flags = submit(request(V15), deployment(V15, options={"param_style": "flags"}))
    assert flags["content"][0]["text"] == "a fox in the snow --rs 720p --rt 16:9 --dur 5"
    assert "resolution" not in flags and flags["generate_audio"] is True
    body = submit(request(LITE_T2V), deployment(LITE_T2V, options={"param_style": "body"}))
    assert body["duration"] == 5 and body["content"][0]["text"] == "a fox in the snow"
    with pytest.raises(UpstreamError):
        submit(request(V15), deployment(V15, options={"param_style": "flag"}))


def test_options_and_audio_pass_through() -> None:
    body = submit(
        request(
            V15,
            audio=False,
            options={
                "camera_fixed": True,
                "watermark": True,
                "return_last_frame": True,
                "service_tier": "flex",
                "execution_expires_after": 3600,
            },
        )
    )
    assert body["generate_audio"] is False
    assert (body["camera_fixed"], body["watermark"], body["return_last_frame"]) == (True,) * 3
    assert (body["service_tier"], body["execution_expires_after"]) == ("flex", 3600)


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"camera_fixed": "yes"}, "metadata.camera_fixed"),
        ({"watermark": 0}, "metadata.watermark"),
        ({"return_last_frame": "yes"}, "metadata.return_last_frame"),
        ({"service_tier": "cheap"}, "metadata.service_tier"),
        ({"execution_expires_after": 60}, "metadata.execution_expires_after"),
        ({"execution_expires_after": 259_201}, "metadata.execution_expires_after"),
        ({"execution_expires_after": 3600.5}, "metadata.execution_expires_after"),
        ({"execution_expires_after": True}, "metadata.execution_expires_after"),
        ({"frames": 121}, "metadata.frames"),
    ],
)
def test_bad_options_are_400s_before_any_job(options: dict[str, Any], param: str) -> None:
    rejects(param, options=options)


def test_option_values_are_worded_by_the_table() -> None:
    error = rejects("metadata.execution_expires_after", options={"execution_expires_after": 60})
    assert error.code == "invalid_value"
    assert error.message == (
        "Invalid value for 'metadata.execution_expires_after': 60; "
        "expected an integer from 3600 to 259200."
    )


def test_flex_is_refused_on_2_0() -> None:
    error = rejects("metadata.service_tier", V20, options={"service_tier": "flex"})
    assert "allowed: default" in error.message
    assert submit(request(V20, options={"service_tier": "default"}))["service_tier"] == "default"


def test_images_go_inline_with_roles() -> None:
    url = Asset("url", "https://example.com/last.png")
    body = submit(request(image=BLOB, last_frame=url))
    first, last = body["content"][1:]
    assert first == {
        "type": "image_url",
        "image_url": {"url": Inline(BLOB, "data_uri")},
        "role": "first_frame",
    }
    assert last["image_url"] == {"url": "https://example.com/last.png"}
    assert last["role"] == "last_frame"


def test_reference_images() -> None:
    images = [BLOB] * 3
    body = submit(request(V20, reference_images=images))
    assert [item.get("role") for item in body["content"]] == [None] + ["reference_image"] * 3
    rejects("size", LITE_I2V, size=(1920, 1080), reference_images=images)
    framed = submit(request(LITE_I2V, size=(1920, 1080), image=BLOB))  # a 1.0 model: flags
    assert "--rs 1080p" in framed["content"][0]["text"]


@pytest.mark.parametrize(
    ("images", "param"),
    [
        ({"last_frame": BLOB}, "metadata.last_frame"),
        ({"image": BLOB, "reference_images": [BLOB]}, "metadata.reference_images"),
        ({"image": Asset("file_id", "file-1")}, "input_reference"),
        ({"reference_images": [BLOB, Asset("file_id", "f")]}, "metadata.reference_images[1]"),
    ],
)
def test_image_combinations_seedance_refuses(images: Any, param: str) -> None:
    rejects(param, V20, **images)


def test_asset_ids_pass_as_is_data_urls_and_plain_http_go_inline() -> None:
    asset = Asset("file_id", "asset://asset-123")
    data = Asset("url", "data:image/png;base64,AAAA")
    body = submit(request(image=asset, last_frame=data))
    assert [i["image_url"]["url"] for i in body["content"][1:]] == [
        asset.value,
        Inline(data, "data_uri"),
    ]
    plain = Asset("url", "http://example.com/a.png")
    assert submit(request(image=plain))["content"][1]["image_url"]["url"] == Inline(
        plain, "data_uri"
    )


def test_prompt_flags_and_seed_range_are_refused() -> None:
    rejects("prompt", prompt="a fox --dur 12")
    rejects("seed", seed=2**32)
    rejects("seed", seed=-2)
    assert submit(request(seed=-1))["seed"] == -1
    assert submit(request(prompt="a fox -- dur"))["content"][0]["text"] == "a fox -- dur"


def test_only_create_and_known_models() -> None:
    with pytest.raises(UnsupportedOperation):
        request(operation="remix")
    with pytest.raises(UpstreamError) as caught:
        submit(request("doubao-seedance-9"), deployment("ep-x"))
    assert caught.value.code == "upstream_model_unknown"
    body = submit(request("ep-20260101-abcde", size=(864, 480)), deployment("ep-x"))
    assert body["model"] == "ep-20260101-abcde" and body["resolution"] == "480p"
    assert "generate_audio" not in body


def test_follow_up_calls() -> None:
    poll = ADAPTER.build_poll("cgt-1")
    assert (poll.method, poll.path) == ("GET", "/contents/generations/tasks/cgt-1")
    delete = ADAPTER.build_delete("cgt-1")
    assert delete is not None
    assert (delete.method, delete.path) == ("DELETE", "/contents/generations/tasks/cgt-1")
    plan = ADAPTER.build_download("cgt-1", "video", "https://tos.example/v.mp4?sig=1")
    assert plan is not None and plan.auth is False
    assert plan.call.path == "https://tos.example/v.mp4?sig=1"
    assert ADAPTER.build_download("cgt-1", "thumbnail", "https://x/v.mp4") is None
    assert ADAPTER.build_download("cgt-1", "video", None) is None


# --- task states ---------------------------------------------------------------------------


def test_create_reply_is_queued() -> None:
    parsed = state({"id": "cgt-1"}, context=CallContext("submit", request=request()))
    assert (parsed.upstream_id, parsed.status, parsed.progress) == ("cgt-1", "queued", 0)
    with pytest.raises(UpstreamError):  # a poll always says how the task is
        state({"id": "cgt-1"})


@pytest.mark.parametrize(
    ("raw", "status"),
    [("queued", "queued"), ("running", "in_progress"), ("preprocessing", "in_progress")],
)
def test_unfinished_states(raw: str, status: str) -> None:
    parsed = state({"id": "cgt-1", "status": raw})
    assert (parsed.status, parsed.raw_status, parsed.progress) == (status, raw, 0)


def test_succeeded_with_video_and_tokens() -> None:
    parsed = state(
        {
            "id": "cgt-1",
            "status": "succeeded",
            "content": {"video_url": "https://tos.example/v.mp4?s=1"},
            "usage": {"completion_tokens": 108900, "total_tokens": 108900},
        }
    )
    assert (parsed.status, parsed.progress) == ("completed", 100)
    assert parsed.results == {"video": "https://tos.example/v.mp4?s=1"}
    assert parsed.cost_units == 108900


def test_succeeded_without_video_is_a_failure() -> None:
    for content in (None, {}, {"video_url": ""}, {"video_url": "ftp://x"}):
        parsed = state({"id": "cgt-1", "status": "succeeded", "content": content})
        assert (parsed.status, parsed.error_code) == ("failed", "upstream_no_output")


def test_failed_states() -> None:
    blocked = state(
        {
            "id": "cgt-1",
            "status": "failed",
            "error": {
                "code": "OutputVideoSensitiveContentDetected",
                "message": "may contain sensitive information, see https://x.volces.com/a",
            },
        }
    )
    assert (blocked.status, blocked.error_code) == ("failed", "moderation_blocked")
    assert "OutputVideoSensitiveContentDetected" in (blocked.error_message or "")
    assert "volces.com" not in (blocked.error_message or "")
    other = state({"id": "cgt-1", "status": "failed", "error": {"code": "InternalServiceError"}})
    assert other.error_code == "upstream_failed"
    bare = state({"id": "cgt-1", "status": "failed"})
    assert (bare.status, bare.error_code) == ("failed", "upstream_failed")
    assert state({"id": "cgt-1", "status": "expired"}).error_code == "expired"
    cancelled = state({"id": "cgt-1", "status": "cancelled"})
    assert (cancelled.status, cancelled.error_code) == ("failed", "cancelled")


@pytest.mark.parametrize("body", [{}, '{"id":"cgt-1","status":"runn', [], {"id": ""}])
def test_malformed_bodies_raise(body: Any) -> None:
    with pytest.raises(UpstreamError):
        state(body)
    with pytest.raises(UpstreamError):
        state({"id": "cgt-1", "status": 3})


# --- errors --------------------------------------------------------------------------------


def envelope(code: str, message: str = "bad", param: str = "") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "param": param, "type": "BadRequest"}}


def test_400_keeps_the_message_and_maps_the_param() -> None:
    exc = error(
        400,
        envelope(
            "InvalidParameter",
            "The parameter `duration` specified in the request is not valid. Request id: 021",
            "duration",
        ),
    )
    assert isinstance(exc, InvalidRequest) and exc.param == "seconds"
    assert "`duration`" in exc.message and "InvalidParameter" in exc.message
    assert error(400, envelope("InvalidParameter", param="content[1].image_url")).param == (
        "input_reference"
    )
    assert error(422, envelope("MissingParameter", param="weird")).param is None


def test_400_moderation_and_closed_endpoint() -> None:
    exc = error(400, envelope("InputTextSensitiveContentDetected"))
    assert isinstance(exc, InvalidRequest) and exc.code == "moderation_blocked"
    assert exc.param == "prompt"
    closed = error(400, envelope("InvalidEndpoint.ClosedEndpoint"))
    assert isinstance(closed, UpstreamError) and closed.code == "upstream_endpoint_closed"


def test_auth_errors() -> None:
    for status, code in ((401, "AuthenticationError"), (403, "AccessDenied")):
        exc = error(status, envelope(code, "The API key ark-secret is invalid"))
        assert isinstance(exc, UpstreamAuthError) and "ark-secret" not in exc.message
    assert isinstance(error(404, envelope("ModelNotOpen")), UpstreamAuthError)
    assert isinstance(error(404, envelope("InvalidEndpointOrModel.NotFound")), UpstreamAuthError)


def test_not_found_rate_limit_and_server_errors() -> None:
    assert isinstance(error(404, envelope("ResourceNotFound")), NotFound)
    limited = error(429, envelope("RateLimitExceeded.EndpointRPMExceeded"), **{"retry-after": "7"})
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 7
    assert isinstance(error(429, envelope("QuotaExceeded")), RateLimited)
    server = error(500, envelope("InternalServiceError"))
    assert isinstance(server, UpstreamError) and server.retryable
    assert isinstance(error(502, "<html>bad gateway</html>"), UpstreamError)
