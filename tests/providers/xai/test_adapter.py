"""The pure xAI adapter: requests built and replies parsed as data, no network."""

from __future__ import annotations

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
from vidgate.providers.xai import PROVIDER
from vidgate.providers.xai.adapter import DEFAULT_RETRY_AFTER_S, XAIAdapter
from vidgate.providers.xai.spec import SIZES, SPEC
from vidgate.values import Asset, Deployment, ImageInput

MODEL = "grok-imagine-video"
CAPS = SPEC.models[MODEL]
DEPLOYMENT = deployment_maker(
    SPEC, MODEL, "xai-test", "https://api.x.ai/v1", "xai-secret-key", model_name="grok"
)()
REQUEST_ID = "6d3c1f0e-2b4a-4c55-9f7e-0a1b2c3d4e5f"
PNG = Asset("blob", "inputs/u1/first.png", "image/png", "first.png", "d1")
ADAPTER = XAIAdapter(DEPLOYMENT)
POLL = CallContext("poll", REQUEST_ID)

request = request_maker("a comet over the sea", MODEL, 8, (854, 480))
RESOLVER = Resolver(SPEC, MODEL, "a comet", model_name="grok")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


def done(**changes: Any) -> dict[str, Any]:
    body = {
        "status": "done",
        "video": {"url": "https://vidgen.x.ai/a/video.mp4", "duration": 8},
        "model": "grok-imagine-video",
        "usage": {"cost_in_usd_ticks": 4_000_000_000},
    }
    return body | changes


# --- spec -----------------------------------------------------------------------------


def test_spec_models_capabilities_and_prices() -> None:
    assert set(SPEC.models) == {
        "grok-imagine-video",
        "grok-imagine-video-1.5",
        "grok-imagine-video-1.5-preview",
    }
    for caps in SPEC.models.values():
        assert caps.seconds == tuple(range(1, 16)) and caps.default_seconds == 8
        assert caps.operations == frozenset({"create"})
        assert caps.image_roles == frozenset({"first_frame"})
        assert set(caps.sizes) == set(SIZES) and caps.default_size in caps.sizes
        assert not caps.seed and not caps.negative_prompt and caps.audio is None
    price = SPEC.prices["grok-imagine-video"]
    assert price.usd(8, "480p") == 0.4
    assert price.usd(8, "720p") is None  # unverified: unknown, not guessed
    assert price.unit == "usd_ticks" and 500_000_000 * price.usd_per_unit == pytest.approx(0.05)
    assert SPEC.env == {"api_key": "XAI_API_KEY"}
    assert SPEC.default_api_base == "https://api.x.ai/v1"
    assert PROVIDER.adapter is not None and PROVIDER.spec is SPEC
    assert isinstance(PROVIDER.adapter(DEPLOYMENT), XAIAdapter)


def test_every_size_is_one_ratio_at_one_tier() -> None:
    ratios = {"1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3"}
    pairs = set(SIZES.values())
    assert pairs == {(r, t) for r in ratios for t in ("480p", "720p")}
    for size, (ratio, tier) in SIZES.items():
        width, height = map(int, size.split("x"))
        assert min(width, height) == int(tier[:-1])
        rw, rh = map(int, ratio.split(":"))
        assert abs(width / height - rw / rh) < 0.01


def test_status_map_covers_every_documented_status() -> None:
    assert SPEC.status_map == {
        "pending": "in_progress",
        "done": "completed",
        "failed": "failed",
        "expired": "failed",
    }


# --- auth -----------------------------------------------------------------------------


def test_auth_is_bearer_of_the_deployment_key() -> None:
    assert ADAPTER.auth_headers(None) == {"Authorization": "Bearer xai-secret-key"}
    keyless = Deployment("d", "m", "xai", "grok-imagine-video", CAPS, api_base="http://x/v1")
    assert XAIAdapter(keyless).auth_headers(None) == {}


# --- create ---------------------------------------------------------------------------


def test_create_maps_size_to_ratio_and_resolution_and_seconds_to_duration() -> None:
    call = ADAPTER.build_submit(request(width=720, height=1280, seconds=5), "video_1")
    assert (call.method, call.path) == ("POST", "/videos/generations")
    assert call.json == {
        "prompt": "a comet over the sea",
        "model": "grok-imagine-video",
        "duration": 5,
        "aspect_ratio": "9:16",
        "resolution": "720p",
    }
    assert "output" not in call.json and "size" not in call.json


@pytest.mark.parametrize(("size", "pair"), sorted(SIZES.items()))
def test_every_size_maps(size: str, pair: tuple[str, str]) -> None:
    width, height = map(int, size.split("x"))
    body = ADAPTER.build_submit(request(width=width, height=height), "k").json
    assert (body["aspect_ratio"], body["resolution"]) == pair
    assert isinstance(body["duration"], int)


def test_default_duration_is_sent_as_8() -> None:
    assert ADAPTER.build_submit(request(), "k").json["duration"] == 8


def test_unknown_size_is_rejected() -> None:
    rejects("size", size=(1920, 1080))


def test_an_image_url_is_passed_through_and_bytes_become_a_data_uri() -> None:
    url = Asset("url", "https://img.test/cat.png")
    body = ADAPTER.build_submit(request(images=(ImageInput("first_frame", url),)), "k").json
    assert body["image"] == {"url": "https://img.test/cat.png"}
    data = Asset("url", "data:image/png;base64,AAAA")
    body = ADAPTER.build_submit(request(images=(ImageInput("first_frame", data),)), "k").json
    assert body["image"] == {"url": Inline(data, "data_uri")}  # the same data URI, once sent
    body = ADAPTER.build_submit(request(images=(ImageInput("first_frame", PNG),)), "k").json
    assert body["image"] == {"url": Inline(PNG, "data_uri")}


def test_file_id_image_is_rejected() -> None:
    rejects("input_reference", image=Asset("file_id", "file_1"))


def test_user_option_is_forwarded_and_must_be_a_string() -> None:
    body = ADAPTER.build_submit(resolved(options={"user": "end-user-7"}), "k").json
    assert body["user"] == "end-user-7"
    error = rejects("metadata.user", options={"user": 7})
    assert error.code == "invalid_value" and "expected a string" in error.message


def test_options_xai_does_not_take_are_refused() -> None:
    error = rejects("metadata.output", options={"output": {"upload_url": "https://x"}})
    assert error.code == "unknown_parameter"


@pytest.mark.parametrize("operation", ["remix", "edit", "extend"])
def test_other_operations_are_unsupported(operation: str) -> None:
    with pytest.raises(UnsupportedOperation):
        resolved(operation=operation)


def test_poll_download_delete_calls() -> None:
    assert ADAPTER.build_poll(REQUEST_ID).path == f"/videos/{REQUEST_ID}"
    plan = ADAPTER.build_download(REQUEST_ID, "video", "https://vidgen.x.ai/a/video.mp4")
    assert plan is not None and plan.auth is False
    assert (plan.call.method, plan.call.path) == ("GET", "https://vidgen.x.ai/a/video.mp4")
    assert ADAPTER.build_download(REQUEST_ID, "thumbnail", "https://x/t.jpg") is None
    assert ADAPTER.build_download(REQUEST_ID, "video", None) is None
    assert ADAPTER.build_delete(REQUEST_ID) is None


# --- parse_state ----------------------------------------------------------------------


def test_create_reply_is_a_running_request() -> None:
    submitted = CallContext("submit", None, request())
    state = ADAPTER.parse_state(reply(200, {"request_id": REQUEST_ID}), submitted)
    assert (state.upstream_id, state.status, state.progress) == (REQUEST_ID, "in_progress", 0)


def test_pending_is_running_without_progress() -> None:
    state = ADAPTER.parse_state(reply(200, {"status": "pending"}), POLL)
    assert (state.status, state.progress, state.raw_status) == ("in_progress", 0, "pending")
    assert state.upstream_id == REQUEST_ID  # the poll's own id: the body does not repeat it


def test_unknown_status_is_still_running() -> None:
    state = ADAPTER.parse_state(reply(200, {"status": "rendering", "request_id": REQUEST_ID}), POLL)
    assert (state.status, state.raw_status) == ("in_progress", "rendering")


def test_done_with_url_is_completed_with_result_and_ticks() -> None:
    state = ADAPTER.parse_state(reply(200, done()), POLL)
    assert (state.status, state.progress) == ("completed", 100)
    assert state.results == {"video": "https://vidgen.x.ai/a/video.mp4"}
    assert state.cost_units == 4_000_000_000.0


@pytest.mark.parametrize(
    "video", [None, {}, {"url": ""}, {"url": None, "duration": 0}, "https://x/v.mp4"]
)
def test_done_without_a_url_is_a_failure(video: Any) -> None:
    state = ADAPTER.parse_state(reply(200, done(video=video)), POLL)
    assert state.status == "failed" and state.error_code == "no_result"
    assert state.results == {}


def test_done_with_an_error_is_a_failure() -> None:
    error = {"code": "internal_error", "message": "boom"}
    state = ADAPTER.parse_state(reply(200, done(error=error)), POLL)
    assert (state.status, state.error_code, state.error_message) == (
        "failed",
        "internal_error",
        "boom",
    )


def test_failed_carries_code_and_scrubbed_message() -> None:
    body = {
        "status": "failed",
        "video": {"duration": 0, "respect_moderation": True},
        "model": "",
        "error": {
            "code": "internal_error",
            "message": f"Job {REQUEST_ID} failed, see https://vidgen.x.ai/x and status.x.ai",
        },
    }
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert (state.status, state.error_code) == ("failed", "internal_error")
    assert state.error_message is not None
    assert REQUEST_ID not in state.error_message and "x.ai" not in state.error_message


def test_failed_without_error_details_still_fails_with_a_reason() -> None:
    state = ADAPTER.parse_state(reply(200, {"status": "failed"}), POLL)
    assert state.status == "failed" and state.error_code == "upstream_failed"
    assert state.error_message


def test_expired_is_a_failure_with_code_expired() -> None:
    state = ADAPTER.parse_state(reply(200, {"status": "expired"}), POLL)
    assert (state.status, state.error_code) == ("failed", "expired")


@pytest.mark.parametrize(
    "body", [{}, '{"status":"pend', None, [], {"status": 3}, {"model": "grok-imagine-video"}]
)
def test_malformed_bodies_are_upstream_errors_not_failures(body: Any) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, body), POLL)


@pytest.mark.parametrize("ticks", [None, "5", True, -1])
def test_odd_ticks_are_ignored(ticks: Any) -> None:
    assert (
        ADAPTER.parse_state(reply(200, done(usage={"cost_in_usd_ticks": ticks})), POLL).cost_units
        is None
    )


# --- parse_error ----------------------------------------------------------------------


def xai_error(message: str, code: str = "Client specified an invalid argument") -> dict[str, str]:
    return {"code": code, "error": message}


@pytest.mark.parametrize(
    "message",
    [
        "Incorrect API key provided: xa***ey. You can obtain an API key from https://console.x.ai.",
        "No API key provided. You can obtain an API key from https://console.x.ai.",
    ],
)
def test_400_bad_key_is_an_upstream_auth_error(message: str) -> None:
    error = ADAPTER.parse_error(reply(400, xai_error(message)), POLL)
    assert isinstance(error, UpstreamAuthError) and not error.retryable
    assert "x.ai" not in error.message.replace("xAI", "") and "xa***ey" not in error.message


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_upstream_auth_errors(status: int) -> None:
    assert isinstance(
        ADAPTER.parse_error(reply(status, xai_error("denied")), POLL), UpstreamAuthError
    )


@pytest.mark.parametrize("status", [400, 422])
def test_400_and_422_are_invalid_requests_with_the_upstream_message(status: int) -> None:
    error = ADAPTER.parse_error(
        reply(status, xai_error("Invalid duration 20: see https://docs.x.ai/video")), POLL
    )
    assert type(error) is InvalidRequest and error.status == 400
    assert "Invalid duration 20" in error.message and "docs.x.ai" not in error.message


def test_422_plain_text_body() -> None:
    error = ADAPTER.parse_error(reply(422, "missing field `prompt`"), POLL)
    assert isinstance(error, InvalidRequest) and "missing field" in error.message


def test_404_is_not_found() -> None:
    message = f"Video generation request {REQUEST_ID} not found."
    error = ADAPTER.parse_error(reply(404, xai_error(message, "Some requested entity")), POLL)
    assert isinstance(error, NotFound) and REQUEST_ID not in error.message


def test_429_is_rate_limited_with_retry_after() -> None:
    error = ADAPTER.parse_error(reply(429, xai_error("slow down"), **{"retry-after": "7"}), POLL)
    assert isinstance(error, RateLimited) and error.retry_after_s == 7.0
    bare = ADAPTER.parse_error(
        reply(429, xai_error("Your team 6d3c1f0e-2b4a-4c55-9f7e-0a1b2c3d4e5f")), POLL
    )
    assert isinstance(bare, RateLimited) and bare.retry_after_s == DEFAULT_RETRY_AFTER_S
    assert REQUEST_ID not in bare.message


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_an_upstream_error(status: int) -> None:
    error = ADAPTER.parse_error(reply(status, xai_error("oops", "Internal error")), POLL)
    assert type(error) is UpstreamError and error.retryable and str(status) in error.message


def test_openai_shaped_error_bodies_from_relays_are_read() -> None:
    error = ADAPTER.parse_error(reply(400, {"error": {"message": "bad aspect", "code": "x"}}), POLL)
    assert isinstance(error, InvalidRequest) and "bad aspect" in error.message
