"""The pure fal adapter: requests built and replies parsed as data, no network."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from vidgate.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import HttpReply, Inline
from vidgate.providers.fal import PROVIDER
from vidgate.providers.fal.adapter import MEMORY, FalAdapter, app_path, split_id
from vidgate.providers.fal.spec import MODELS, SIZES, SPEC
from vidgate.values import Asset, Deployment, ImageInput, ResolvedRequest

RAY = "fal-ai/luma-dream-machine/ray-2-flash"
KLING = "fal-ai/kling-video/v2.1/master/text-to-video"
KLING_I2V = "fal-ai/kling-video/v2.1/standard/image-to-video"
RID = "764cabcf-b745-4b3e-ae38-1200304cf45b"
UID = f"fal-ai/luma-dream-machine|{RID}"
PNG = Asset("blob", "inputs/u1/first.png", "image/png", "first.png", "d1")


def deployment(model: str = RAY, **changes: Any) -> Deployment:
    caps = SPEC.capabilities(model)
    assert caps is not None
    base = Deployment(
        id="fal-test",
        model_name="m",
        provider="fal",
        model=model,
        capabilities=caps,
        api_base="https://queue.fal.run",
        api_key="key-id:key-secret",
    )
    return dataclasses.replace(base, **changes)


def request(**changes: Any) -> ResolvedRequest:
    base: dict[str, Any] = {
        "operation": "create",
        "prompt": "a lighthouse at dusk",
        "upstream_model": RAY,
        "seconds": 5,
        "width": 960,
        "height": 540,
        "fps": 24,
    }
    return ResolvedRequest(**(base | changes))


def submit(adapter: FalAdapter, req: ResolvedRequest, dep: Deployment | None = None) -> Any:
    return adapter.build_submit(req, dep or deployment(req.upstream_model), "idem")


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpReply:
    return HttpReply(status, headers or {}, body)


# --- spec ------------------------------------------------------------------------------


def test_spec_basics() -> None:
    assert PROVIDER.spec is SPEC and SPEC.default_api_base == "https://queue.fal.run"
    assert SPEC.env == {"api_key": "FAL_KEY"}
    assert SPEC.map_status("IN_QUEUE") == "queued"
    assert SPEC.map_status("IN_PROGRESS") == "in_progress"
    assert SPEC.map_status("SOMETHING_NEW") == "in_progress"
    assert SPEC.capabilities("someone/any-app/v9") is SPEC.any_model
    assert SPEC.any_model is not None and SPEC.any_model.option_keys is None
    assert set(SPEC.auto_models) <= set(SPEC.models) and set(SPEC.prices) == set(SPEC.models)


def test_sizes_map_to_aspect_and_tier() -> None:
    assert SIZES["1280x720"] == ("16:9", "720p")
    assert SIZES["720x1280"] == ("9:16", "720p")
    assert SIZES["1920x1080"] == ("16:9", "1080p")
    assert SIZES["854x480"] == ("16:9", "480p")
    assert SIZES["1366x768"] == ("16:9", "768p")
    for caps in MODELS.values():
        assert set(caps.sizes) <= set(SIZES) and caps.default_size in caps.sizes
        assert caps.default_seconds in caps.seconds


def test_prices() -> None:
    assert SPEC.prices[RAY].usd(5, "540p") == pytest.approx(0.20)
    assert SPEC.prices[RAY].usd(5, "720p") == pytest.approx(0.40)
    assert SPEC.prices["fal-ai/veo3"].usd(8, "720p", audio=True) == pytest.approx(3.20)
    assert all(p.source for p in SPEC.prices.values())


# --- submit ----------------------------------------------------------------------------


def test_auth_header_uses_key_scheme() -> None:
    assert FalAdapter().auth_headers(deployment(), None) == {
        "Authorization": "Key key-id:key-secret"
    }
    assert FalAdapter().auth_headers(deployment(api_key=None), None) == {}


def test_submit_posts_the_full_model_path() -> None:
    call = submit(FalAdapter(), request(seed=3))
    assert (call.method, call.path) == ("POST", f"/{RAY}")
    assert call.json == {
        "prompt": "a lighthouse at dusk",
        "duration": "5s",
        "aspect_ratio": "16:9",
        "resolution": "540p",
        "seed": 3,
    }
    assert call.params is None


def test_kling_duration_and_fields() -> None:
    req = request(
        upstream_model=KLING,
        seconds=10,
        width=1080,
        height=1920,
        negative_prompt="blur",
        options={"cfg_scale": 0.4},
    )
    assert submit(FalAdapter(), req).json == {
        "prompt": "a lighthouse at dusk",
        "duration": "10",
        "aspect_ratio": "9:16",
        "negative_prompt": "blur",
        "cfg_scale": 0.4,
    }


def test_image_to_video_needs_an_image_and_inlines_it() -> None:
    req = request(upstream_model=KLING_I2V, width=1280, height=720)
    with pytest.raises(InvalidRequest) as info:
        submit(FalAdapter(), req)
    assert info.value.param == "input_reference"
    with_image = dataclasses.replace(req, images=(ImageInput("first_frame", PNG),))
    body = submit(FalAdapter(), with_image).json
    image = Inline(PNG, "data_uri")
    assert body == {"prompt": "a lighthouse at dusk", "duration": "5", "image_url": image}
    https = Asset("url", "https://example.com/a.png")
    by_url = dataclasses.replace(req, images=(ImageInput("first_frame", https),))
    assert submit(FalAdapter(), by_url).json["image_url"] == "https://example.com/a.png"
    by_file = dataclasses.replace(req, images=(ImageInput("first_frame", Asset("file_id", "f")),))
    with pytest.raises(InvalidRequest):
        submit(FalAdapter(), by_file)


def test_veo3_audio_and_duration_suffix() -> None:
    req = request(upstream_model="fal-ai/veo3", seconds=8, width=1920, height=1080, audio=False)
    assert submit(FalAdapter(), req).json == {
        "prompt": "a lighthouse at dusk",
        "duration": "8s",
        "aspect_ratio": "16:9",
        "resolution": "1080p",
        "generate_audio": False,
    }


def test_text_only_model_refuses_an_image() -> None:
    req = request(upstream_model=KLING, width=1920, height=1080)
    req = dataclasses.replace(req, images=(ImageInput("first_frame", PNG),))
    with pytest.raises(InvalidRequest) as info:
        submit(FalAdapter(), req)
    assert info.value.param == "input_reference"


def test_any_model_generic_fields_and_deployment_options() -> None:
    model = "fal-ai/wan/v2.2-a14b/text-to-video"
    req = request(upstream_model=model, seconds=4, width=854, height=480, options={"fps": 16})
    assert submit(FalAdapter(), req).json == {
        "prompt": "a lighthouse at dusk",
        "duration": "4",
        "aspect_ratio": "16:9",
        "resolution": "480p",
        "fps": 16,
    }
    dep = deployment(
        model,
        options={
            "duration_format": "int",
            "send_resolution": False,
            "last_frame_field": "end_image_url",
            "max_queue_length": 5,
        },
    )
    images = (ImageInput("first_frame", PNG), ImageInput("last_frame", PNG))
    call = submit(FalAdapter(), dataclasses.replace(req, images=images), dep)
    assert call.json["duration"] == 4 and "resolution" not in call.json
    assert call.json["end_image_url"] == Inline(PNG, "data_uri")
    assert call.params == {"fal_max_queue_length": "5"}
    with pytest.raises(InvalidRequest) as last:
        submit(FalAdapter(), dataclasses.replace(req, images=images))
    assert last.value.param == "metadata.last_frame"
    with pytest.raises(InvalidRequest):
        submit(FalAdapter(), req, deployment(model, options={"duration_format": "weird"}))


def test_options_cannot_overwrite_mapped_fields() -> None:
    req = request(upstream_model="a/b", options={"duration": "9"})
    with pytest.raises(InvalidRequest) as info:
        submit(FalAdapter(), req)
    assert info.value.param == "metadata.duration"


def test_remix_edit_extend_have_no_fal_equivalent() -> None:
    for operation in ("remix", "edit", "extend"):
        with pytest.raises(UnsupportedOperation):
            submit(FalAdapter(), request(operation=operation))
        for caps in [*MODELS.values(), SPEC.any_model]:
            assert caps is not None and operation not in caps.operations


def test_app_paths_and_ids() -> None:
    assert app_path("fal-ai/kling-video/v2/master/text-to-video") == "fal-ai/kling-video"
    assert app_path("fal-ai/veo3") == "fal-ai/veo3"
    assert app_path("workflows/me/flow/run") == "workflows/me/flow"
    with pytest.raises(InvalidRequest):
        app_path("veo3")
    assert split_id(UID) == ("fal-ai/luma-dream-machine", RID)
    with pytest.raises(NotFound):
        split_id("no-separator")


# --- replies ---------------------------------------------------------------------------


def test_submit_reply_prefers_the_urls_fal_returns() -> None:
    adapter = FalAdapter()
    submit(adapter, request())
    body = {
        "request_id": RID,
        "response_url": f"https://queue.fal.run/fal-ai/luma-dream-machine/requests/{RID}",
        "status_url": f"https://queue.fal.run/fal-ai/luma-dream-machine/requests/{RID}/status",
        "cancel_url": f"https://queue.fal.run/fal-ai/luma-dream-machine/requests/{RID}/cancel",
        "queue_position": 0,
    }
    state = adapter.parse_state(reply(body))
    assert (state.upstream_id, state.status, state.raw_status) == (UID, "queued", "IN_QUEUE")
    other = body | {"response_url": f"https://proxy.example/fal/owner/app/requests/{RID}"}
    submit(adapter, request())
    assert adapter.parse_state(reply(other)).upstream_id == f"owner/app|{RID}"
    submit(adapter, request())  # no urls: the model path's first two segments
    assert adapter.parse_state(reply({"request_id": RID})).upstream_id == UID
    submit(adapter, request())
    with pytest.raises(UpstreamError):
        adapter.parse_state(reply({"queue_position": 0}))


def test_poll_status_then_result_then_completed() -> None:
    adapter = FalAdapter()
    call = adapter.build_poll(UID)
    assert (call.method, call.path) == (
        "GET",
        f"/fal-ai/luma-dream-machine/requests/{RID}/status",
    )
    queued = adapter.parse_state(reply({"status": "IN_QUEUE", "queue_position": 3}, 202))
    assert (queued.status, queued.progress) == ("queued", 0)
    adapter.build_poll(UID)
    running = adapter.parse_state(reply({"status": "IN_PROGRESS", "logs": None}, 202))
    assert running.status == "in_progress"
    adapter.build_poll(UID)
    seen = adapter.parse_state(reply({"status": "COMPLETED", "logs": None, "metrics": {}}))
    assert (seen.status, seen.raw_status, seen.progress) == ("in_progress", "COMPLETED", 99)
    assert seen.poll_after_s == 0.0
    call = adapter.build_poll(UID)
    assert call.path == f"/fal-ai/luma-dream-machine/requests/{RID}"
    url = "https://v3.fal.media/files/x/output.mp4"
    done = adapter.parse_state(reply({"video": {"url": url}, "seed": 1}))
    assert (done.status, done.progress, done.results) == ("completed", 100, {"video": url})
    assert adapter.build_poll(UID).path.endswith("/status")  # forgotten once decided


def test_unknown_status_is_still_running() -> None:
    adapter = FalAdapter()
    adapter.build_poll(UID)
    state = adapter.parse_state(reply({"status": "WARMING_UP"}, 202))
    assert (state.status, state.raw_status) == ("in_progress", "WARMING_UP")


@pytest.mark.parametrize(
    "body",
    [{"seed": 1}, {"video": {"url": "file:///x"}}, {"video": None}, {"error": "boom"}],
)
def test_completed_without_video_is_a_failure(body: dict[str, Any]) -> None:
    adapter = FalAdapter()
    adapter.build_poll(UID)
    adapter.parse_state(reply({"status": "COMPLETED", "logs": None}))
    adapter.build_poll(UID)
    state = adapter.parse_state(reply(body))
    assert state.status == "failed"
    assert state.error_code in ("upstream_no_output", "upstream_failed")
    assert state.error_message


def test_completed_with_error_on_status_fails_at_once() -> None:
    adapter = FalAdapter()
    adapter.build_poll(UID)
    body = {
        "status": "COMPLETED",
        "logs": None,
        "error": "flagged, see https://fal.ai/x",
        "error_type": "content_policy_violation",
    }
    state = adapter.parse_state(reply(body))
    assert (state.status, state.error_code) == ("failed", "moderation_blocked")
    assert "https://" not in (state.error_message or "")


def test_result_refused_with_422_fails_on_the_next_poll() -> None:
    adapter = FalAdapter()
    adapter.build_poll(UID)
    adapter.parse_state(reply({"status": "COMPLETED", "logs": None}))
    adapter.build_poll(UID)
    detail = [{"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}]
    error = adapter.parse_error(reply({"detail": detail}, 422))
    assert isinstance(error, UpstreamError)
    assert adapter.build_poll(UID).path.endswith("/status")
    state = adapter.parse_state(reply({"status": "COMPLETED", "logs": None}))
    assert (state.status, state.error_code) == ("failed", "moderation_blocked")
    assert "flagged" in (state.error_message or "")


def test_result_fetch_transient_error_keeps_fetching() -> None:
    adapter = FalAdapter()
    adapter.build_poll(UID)
    adapter.parse_state(reply({"status": "COMPLETED", "logs": None}))
    adapter.build_poll(UID)
    assert isinstance(adapter.parse_error(reply({"detail": "busy"}, 503)), UpstreamError)
    assert not adapter.build_poll(UID).path.endswith("/status")


def test_failed_and_canceled_statuses() -> None:
    adapter = FalAdapter()
    adapter.build_poll(UID)
    failed = adapter.parse_state(reply({"status": "FAILED", "error": "runner died"}))
    assert (failed.status, failed.error_code) == ("failed", "upstream_failed")
    adapter.build_poll(UID)
    canceled = adapter.parse_state(reply({"status": "CANCELED"}))
    assert (canceled.status, canceled.error_code) == ("failed", "cancelled")


def test_malformed_replies_are_upstream_errors() -> None:
    adapter = FalAdapter()
    for body in ('{"status": "IN_PROG', {}, {"status": 3}):
        adapter.build_poll(UID)
        with pytest.raises(UpstreamError):
            adapter.parse_state(reply(body))


def test_memory_is_bounded() -> None:
    adapter = FalAdapter()
    for n in range(MEMORY + 5):
        adapter.build_poll(f"a/b|{n}")
        adapter.parse_state(reply({"status": "COMPLETED", "logs": None}))
    assert len(adapter._due) == MEMORY
    assert adapter.build_poll("a/b|0").path.endswith("/status")


def test_download_and_cancel() -> None:
    adapter = FalAdapter()
    url = "https://v3.fal.media/files/x/output.mp4"
    plan = adapter.build_download(UID, "video", url)
    assert plan is not None and plan.call.path == url and plan.auth is False
    assert adapter.build_download(UID, "thumbnail", url) is None
    assert adapter.build_download(UID, "video", None) is None
    call = adapter.build_delete(UID)
    assert call is not None and (call.method, call.path) == (
        "PUT",
        f"/fal-ai/luma-dream-machine/requests/{RID}/cancel",
    )


# --- errors ----------------------------------------------------------------------------


def test_422_names_the_parameter() -> None:
    adapter = FalAdapter()
    submit(adapter, request())
    detail = [{"loc": ["body", "duration"], "msg": "unexpected value", "type": "literal_error"}]
    error = adapter.parse_error(reply({"detail": detail}, 422))
    assert isinstance(error, InvalidRequest) and error.param == "seconds"
    assert "duration: unexpected value" in error.message
    other = [{"loc": ["body", "cfg_scale"], "msg": "too big", "type": "x"}]
    assert adapter.parse_error(reply({"detail": other}, 422)).param == "metadata.cfg_scale"
    plain = adapter.parse_error(reply({"detail": "bad input at https://secret.host/x"}, 400))
    assert isinstance(plain, InvalidRequest) and "secret.host" not in plain.message


def test_error_classes() -> None:
    adapter = FalAdapter()
    adapter.build_poll(UID)
    assert isinstance(adapter.parse_error(reply({"detail": "no"}, 401)), UpstreamAuthError)
    assert isinstance(adapter.parse_error(reply({"detail": "no"}, 403)), UpstreamAuthError)
    assert isinstance(adapter.parse_error(reply({"detail": "gone"}, 404)), NotFound)
    limited = adapter.parse_error(reply({"detail": "slow"}, 429, {"retry-after": "7"}))
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 7
    assert isinstance(adapter.parse_error(reply("<html>", 500)), UpstreamError)
    assert isinstance(adapter.parse_error(reply({"detail": "x"}, 502)), UpstreamError)
