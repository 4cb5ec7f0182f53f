"""Pure tests of the DashScope adapter: request mapping, state parsing and error mapping."""

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
from vidgate.providers.base import CallContext, HttpReply, Inline
from vidgate.providers.wan import PROVIDER
from vidgate.providers.wan.adapter import DEFAULT_RETRY_AFTER_S, WanAdapter, cost_units
from vidgate.providers.wan.spec import MODELS, PRICES, SPEC, TIER
from vidgate.values import Asset, Pricing

KEY = "sk-test-key"
MODEL = "wan2.5-t2v-preview"

deployment = deployment_maker(
    SPEC, MODEL, "d1", "https://dashscope-intl.aliyuncs.com/api/v1", KEY, model_name="m"
)
RESOLVER = Resolver(SPEC, MODEL, "a tram on a bridge")
request, rejects = RESOLVER.resolved, RESOLVER.rejects


def adapter(model: str = MODEL) -> WanAdapter:
    return WanAdapter(deployment(model))


def body(model: str = MODEL, **fields: Any) -> Any:
    return adapter(model).build_submit(request(model, **fields), "k").json


def task(status: str, **output: Any) -> dict[str, Any]:
    return {"request_id": "r1", "output": {"task_id": "t1", "task_status": status, **output}}


FIRST = Asset("url", "https://img.example/a.png")
BLOB = Asset("blob", "uploads/k/a.png", "image/png")
LAST = Asset("url", "data:image/png;base64,iVBORw0KGgo=")
POLL = CallContext("poll", "t1")


# --- the spec --------------------------------------------------------------------------


def test_spec_declares_production_and_credentials() -> None:
    assert PROVIDER.spec is SPEC and PROVIDER.adapter is not None
    assert isinstance(PROVIDER.adapter(deployment()), WanAdapter)
    assert SPEC.default_api_base == "https://dashscope-intl.aliyuncs.com/api/v1"
    assert SPEC.env == {"api_key": "DASHSCOPE_API_KEY"}
    assert set(SPEC.auto_models) == set(MODELS) == set(PRICES)
    assert SPEC.status_map == {
        "PENDING": "queued",
        "RUNNING": "in_progress",
        "SUCCEEDED": "completed",
        "FAILED": "failed",
        "CANCELED": "failed",
        "UNKNOWN": "failed",
    }
    assert SPEC.map_status("PREPARING") == "in_progress"


def test_every_model_size_has_a_tier_and_a_price() -> None:
    for name, caps in MODELS.items():
        assert caps.operations == frozenset({"create"})
        assert caps.seed and caps.negative_prompt
        for size in caps.sizes:
            assert size in TIER
            assert PRICES[name].usd(5, TIER[size].lower()) is not None, (name, size)
    assert MODELS["wan2.6-t2v"].seconds == tuple(range(2, 16))
    assert MODELS["wan2.5-t2v-preview"].seconds == (5, 10)
    assert MODELS["wan2.5-t2v-preview"].audio is True and MODELS["wan2.2-t2v-plus"].audio is None
    assert MODELS["wan2.1-kf2v-plus"].image_roles == frozenset({"first_frame", "last_frame"})
    assert MODELS["wan2.2-i2v-flash"].image_roles == frozenset({"first_frame"})
    assert "1920x1080" not in MODELS["wan2.1-t2v-plus"].sizes
    assert PRICES["wan2.5-t2v-preview"].usd(10, "1080p") == pytest.approx(1.5)
    assert PRICES["wan2.2-i2v-flash"].usd(5, "720p") == pytest.approx(5 * 0.2 * 0.14)
    assert PRICES["wan2.5-t2v-preview"].usd(5, "540p") == PRICES["wan2.5-t2v-preview"].usd(
        5, "480p"
    )


# --- auth and calls ------------------------------------------------------------------------


def test_auth_is_a_bearer_key_and_create_is_async() -> None:
    wan = adapter()
    assert wan.auth_headers(None) == {"Authorization": f"Bearer {KEY}"}
    assert WanAdapter(deployment(api_key=None)).auth_headers(None) == {}
    call = wan.build_submit(request(), "idem")
    assert call.method == "POST"
    assert call.path == "/services/aigc/video-generation/video-synthesis"
    assert call.headers == {"X-DashScope-Async": "enable"}
    assert wan.build_poll("t1").path == "/tasks/t1" and wan.build_poll("t1").method == "GET"
    delete = wan.build_delete("t1")
    assert delete is not None and (delete.method, delete.path) == ("POST", "/tasks/t1/cancel")
    assert "X-DashScope-Async" not in wan.build_poll("t1").headers


def test_text_to_video_body() -> None:
    sent = body(
        seconds=10,
        size=(720, 1280),
        seed=7,
        negative_prompt="blurry",
        audio=False,
        options={"prompt_extend": False, "watermark": True, "audio_url": "https://a/x.mp3"},
    )
    assert sent == {
        "model": "wan2.5-t2v-preview",
        "input": {
            "prompt": "a tram on a bridge",
            "negative_prompt": "blurry",
            "audio_url": "https://a/x.mp3",
        },
        "parameters": {
            "duration": 10,
            "size": "720*1280",
            "seed": 7,
            "audio": False,
            "prompt_extend": False,
            "watermark": True,
        },
    }


def test_models_without_audio_get_no_audio_parameter() -> None:
    sent = body("wan2.2-t2v-plus", size=(832, 480))
    assert sent["parameters"] == {"duration": 5, "size": "832*480"}
    assert sent["input"] == {"prompt": "a tram on a bridge"}


def test_image_to_video_sends_img_url_and_a_resolution() -> None:
    model = "wan2.2-i2v-flash"
    call = adapter(model).build_submit(request(model, size=(624, 624), image=FIRST), "k")
    assert call.path == "/services/aigc/video-generation/video-synthesis"
    assert call.json["input"] == {"prompt": "a tram on a bridge", "img_url": FIRST.value}
    assert call.json["parameters"] == {"duration": 5, "resolution": "480P"}
    blob = body(model, image=BLOB)
    assert blob["input"]["img_url"] == Inline(BLOB, "data_uri")
    assert blob["parameters"]["resolution"] == "720P"


def test_first_and_last_frame_models_use_image2video() -> None:
    model = "wan2.2-kf2v-flash"
    call = adapter(model).build_submit(
        request(model, size=(1920, 1080), image=BLOB, last_frame=LAST), "k"
    )
    assert call.path == "/services/aigc/image2video/video-synthesis"
    assert call.json["input"] == {
        "prompt": "a tram on a bridge",
        "first_frame_url": Inline(BLOB, "data_uri"),
        "last_frame_url": Inline(LAST, "data_uri"),  # a data: URI is decoded and re-encoded
    }
    assert call.json["parameters"] == {"duration": 5, "resolution": "1080P"}


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        ("wan2.2-i2v-plus", {}, "input_reference"),
        ("wan2.1-kf2v-plus", {}, "input_reference"),
        ("wan2.5-t2v-preview", {"seed": 2**31}, "seed"),
        ("wan2.5-t2v-preview", {"seed": -1}, "seed"),
        ("wan2.5-t2v-preview", {"negative_prompt": "n" * 501}, "metadata.negative_prompt"),
        ("wan2.5-t2v-preview", {"options": {"prompt_extend": "yes"}}, "metadata.prompt_extend"),
        ("wan2.5-t2v-preview", {"options": {"audio_url": "ftp://x"}}, "metadata.audio_url"),
        ("wan2.5-t2v-preview", {"options": {"audio_url": 7}}, "metadata.audio_url"),
        ("wan2.2-t2v-plus", {"options": {"audio_url": "https://a/x.mp3"}}, "metadata.audio_url"),
        ("wan2.2-i2v-flash", {"image": Asset("file_id", "file-1")}, "input_reference"),
    ],
)
def test_requests_refused_before_any_call(model: str, fields: dict[str, Any], param: str) -> None:
    rejects(param, model, **fields)


def test_a_bad_option_value_is_refused_before_any_job() -> None:
    error = rejects("metadata.watermark", options={"watermark": 1})
    assert error.code == "invalid_value"
    assert error.message == "Invalid value for 'metadata.watermark': 1; expected true or false."
    error = rejects("metadata.audio_url", options={"audio_url": "s3://bucket/x.mp3"})
    assert "expected an http(s) URL of a wav or mp3 file" in error.message
    unknown = rejects("metadata.audio_url", "wan2.2-t2v-plus", options={"audio_url": "https://a"})
    assert unknown.code == "unknown_parameter"


def test_prompt_rewriting_synonyms_reach_prompt_extend() -> None:
    assert body(options={"enhance_prompt": False})["parameters"]["prompt_extend"] is False


def test_follow_up_operations_are_unsupported() -> None:
    with pytest.raises(UnsupportedOperation):
        request(operation="remix")


def test_download_is_the_signed_url_without_auth() -> None:
    url = "https://dashscope-result-sgp.oss-ap-southeast-1.aliyuncs.com/x.mp4?Signature=s"
    plan = adapter().build_download("t1", "video", url)
    assert plan is not None and plan.auth is False and plan.call.path == url
    assert adapter().build_download("t1", "thumbnail", url) is None
    assert adapter().build_download("t1", "video", None) is None


# --- states --------------------------------------------------------------------------------


def test_create_reply_and_running_states() -> None:
    wan = adapter()
    created = wan.parse_state(reply(200, task("PENDING")), POLL)
    assert (created.upstream_id, created.status, created.raw_status) == ("t1", "queued", "PENDING")
    running = wan.parse_state(
        reply(200, task("RUNNING", submit_time="2025-10-11 18:55:56.952")), POLL
    )
    assert (running.status, running.progress) == ("in_progress", 0)
    odd = wan.parse_state(reply(200, task("PREPARING")), POLL)
    assert (odd.status, odd.raw_status) == ("in_progress", "PREPARING")


def test_succeeded_with_video_and_usage() -> None:
    url = "https://dashscope-result-bj.oss-cn-beijing.aliyuncs.com/a.mp4?Expires=1&Signature=s"
    body = task("SUCCEEDED", video_url=url) | {
        "usage": {"video_duration": 10, "video_count": 1, "SR": 1080}
    }
    state = adapter().parse_state(reply(200, body), POLL)
    assert (state.status, state.progress, state.results) == ("completed", 100, {"video": url})
    assert state.cost_units == pytest.approx(1.5)


def test_cost_units_from_older_usage_and_unknown_tiers() -> None:
    flash = PRICES["wan2.2-i2v-flash"]
    assert cost_units({"duration": 5, "video_count": 1, "video_ratio": "1280*720"}, flash) == (
        pytest.approx(1.0)
    )
    assert cost_units({"video_duration": 5, "video_count": 2, "SR": 480}, flash) == (
        pytest.approx(1.0)
    )
    assert cost_units({"video_duration": 5}, flash) is None  # no tier reported
    assert cost_units({"video_duration": 5, "SR": 720}, PRICES["wan2.2-t2v-plus"]) is None
    assert cost_units(None, flash) is None
    assert (
        adapter()
        .parse_state(
            reply(200, task("SUCCEEDED", video_url="https://x/a.mp4") | {"usage": {"SR": 720}}),
            POLL,
        )
        .cost_units
        is None
    )


def test_usage_is_priced_at_the_price_the_deployment_settles_at() -> None:
    usage = {"video_duration": 5, "video_count": 1, "SR": 720}
    finished = reply(200, task("SUCCEEDED", video_url="https://x/a.mp4") | {"usage": usage})
    assert adapter().parse_state(finished, POLL).cost_units == pytest.approx(0.5)  # list price
    configured = WanAdapter(deployment(pricing=Pricing(per_second={"*": 0.2})))
    assert configured.parse_state(finished, POLL).cost_units == pytest.approx(1.0)


def test_terminal_states_without_success_are_failures() -> None:
    wan = adapter()
    empty = wan.parse_state(reply(200, task("SUCCEEDED")), POLL)
    assert (empty.status, empty.error_code) == ("failed", "upstream_no_output")
    blocked = wan.parse_state(
        reply(
            200, task("FAILED", code="DataInspectionFailed", message="Output may be inappropriate.")
        ),
        POLL,
    )
    assert (blocked.status, blocked.error_code) == ("failed", "moderation_blocked")
    assert blocked.error_message == "Output may be inappropriate. (DataInspectionFailed)"
    bad = wan.parse_state(
        reply(200, task("FAILED", code="InvalidParameter", message="bad https://img.x/a.png")), POLL
    )
    assert bad.error_code == "invalid_input" and "img.x" not in (bad.error_message or "")
    bare = wan.parse_state(reply(200, task("FAILED")), POLL)
    assert (bare.error_code, bare.error_message) == (
        "upstream_failed",
        "DashScope failed the task.",
    )
    canceled = wan.parse_state(reply(200, task("CANCELED")), POLL)
    assert (canceled.status, canceled.error_code) == ("failed", "cancelled")


def test_unknown_is_not_found_so_the_poller_looks_again_before_failing() -> None:
    with pytest.raises(NotFound) as caught:
        adapter().parse_state(reply(200, task("UNKNOWN")), POLL)
    assert "expired" in caught.value.message


@pytest.mark.parametrize(
    "body",
    [{}, "truncated {", {"output": {}}, {"output": {"task_id": "t1"}}, {"output": "x"}],
)
def test_malformed_bodies_are_poll_failures(body: Any) -> None:
    with pytest.raises(UpstreamError):
        adapter().parse_state(reply(200, body), POLL)


# --- errors --------------------------------------------------------------------------------


def error(status: int, code: str, message: str, **headers: str) -> HttpReply:
    return reply(status, {"request_id": "r", "code": code, "message": message}, **headers)


def test_error_mapping() -> None:
    wan = adapter()
    invalid = wan.parse_error(
        error(400, "InvalidParameter", "parameters.size '1*1' is invalid"), POLL
    )
    assert isinstance(invalid, InvalidRequest) and invalid.param == "size"
    assert "parameters.size" in invalid.message and "InvalidParameter" in invalid.message
    negative = wan.parse_error(
        error(400, "InvalidParameter", "input.negative_prompt too long"), POLL
    )
    assert negative.param == "metadata.negative_prompt"
    image = wan.parse_error(
        error(400, "InvalidParameter", "input.img_url https://h/x is bad"), POLL
    )
    assert image.param == "input_reference" and "https://h" not in image.message
    moderated = wan.parse_error(
        error(400, "DataInspectionFailed", "Input data may contain x."), POLL
    )
    assert isinstance(moderated, InvalidRequest) and moderated.code == "moderation_blocked"
    for status, code in ((401, "InvalidApiKey"), (403, "AccessDenied")):
        auth = wan.parse_error(error(status, code, "Invalid API-key provided."), POLL)
        assert isinstance(auth, UpstreamAuthError) and KEY not in auth.message
    assert isinstance(wan.parse_error(error(404, "NotFound", "no"), POLL), NotFound)
    throttled = wan.parse_error(error(429, "Throttling.RateQuota", "Requests rate limit"), POLL)
    assert isinstance(throttled, RateLimited)
    assert throttled.retry_after_s == DEFAULT_RETRY_AFTER_S
    told = wan.parse_error(
        error(429, "Throttling.AllocationQuota", "x", **{"retry-after": "9"}), POLL
    )
    assert isinstance(told, RateLimited) and told.retry_after_s == 9
    server = wan.parse_error(error(500, "InternalError", "oops"), POLL)
    assert type(server) is UpstreamError and "500" in server.message
    arrears = wan.parse_error(error(400, "Arrearage", "Access denied, account in arrears"), POLL)
    assert type(arrears) is UpstreamError and arrears.code == "upstream_insufficient_credits"
    text = wan.parse_error(reply(502, "<html>bad gateway</html>"), POLL)
    assert type(text) is UpstreamError
