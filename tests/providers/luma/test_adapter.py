"""The pure Luma adapter: requests built and replies parsed as data, no network."""

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
from vidgate.providers.base import CallContext
from vidgate.providers.luma import PROVIDER
from vidgate.providers.luma.adapter import LumaAdapter
from vidgate.providers.luma.spec import RAY_1_6, RAY_2, SIZES, SPEC, frame_size
from vidgate.request import VideoRequest, resolve
from vidgate.values import Asset, ImageInput, ResolvedRequest, SourceVideo

DEPLOYMENT = deployment_maker(
    SPEC, "ray-2", "luma-test", "https://api.lumalabs.ai/dream-machine/v1", "luma-secret"
)()
URL_A = Asset("url", "https://img.example/a.jpg")
URL_B = Asset("url", "https://img.example/b.png")
GEN_ID = "d1f6a3c2-8e4b-4b7a-9c55-0f3e2a71b9d4"
CDN = "https://cdn.example/d1/video.mp4"
ADAPTER = LumaAdapter(DEPLOYMENT)
POLL = CallContext("poll", GEN_ID)

request = request_maker("a balloon", "ray-2", 5, (1280, 720))


def body_of(req: ResolvedRequest) -> dict[str, Any]:
    call = ADAPTER.build_submit(req, "video_" + "0" * 32)
    assert call.method == "POST" and call.path == "/generations/video"
    assert isinstance(call.json, dict)
    return call.json


RESOLVER = Resolver(SPEC, "ray-2", "a balloon")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


def generation(state: str, **extra: Any) -> dict[str, Any]:
    return {"id": GEN_ID, "generation_type": "video", "state": state, **extra}


# --- spec ----------------------------------------------------------------------------


def test_provider_is_registered_with_its_spec() -> None:
    from vidgate.providers.registry import PROVIDERS

    assert PROVIDERS["luma"] is PROVIDER and PROVIDER.spec is SPEC
    assert PROVIDER.adapter is not None
    assert isinstance(PROVIDER.adapter(DEPLOYMENT), LumaAdapter)
    assert SPEC.env == {"api_key": "LUMAAI_API_KEY"}
    assert SPEC.default_api_base == "https://api.lumalabs.ai/dream-machine/v1"
    assert set(SPEC.auto_models) <= set(SPEC.models)


def test_key_in_the_environment_registers_auto_models() -> None:
    from vidgate.providers.registry import PROVIDERS
    from vidgate.routing.config import env_entries

    entries = env_entries({"luma": PROVIDERS["luma"]}, {"LUMAAI_API_KEY": "k"}, set())
    assert [(e.model_name, e.model, e.api_key) for e in entries] == [
        ("luma/ray-2", "ray-2", "k"),
        ("luma/ray-flash-2", "ray-flash-2", "k"),
    ]
    assert {e.api_base for e in entries} == {"https://api.lumalabs.ai/dream-machine/v1"}


@pytest.mark.parametrize(
    ("ratio", "resolution", "size"),
    [
        ("16:9", "720p", "1280x720"),
        ("9:16", "720p", "720x1280"),
        ("16:9", "1080p", "1920x1080"),
        ("16:9", "540p", "960x540"),
        ("16:9", "4k", "3840x2160"),
        ("1:1", "720p", "720x720"),
        ("4:3", "1080p", "1440x1080"),
        ("3:4", "540p", "540x720"),
        ("21:9", "720p", "1680x720"),
        ("9:21", "1080p", "1080x2520"),
    ],
)
def test_sizes_stand_for_ratio_and_resolution(ratio: str, resolution: str, size: str) -> None:
    assert frame_size(ratio, resolution) == size
    assert SIZES[size] == (ratio, resolution)


def test_capabilities() -> None:
    assert len(RAY_2.sizes) == 28 and RAY_2.seconds == (5, 9)
    assert RAY_2.operations == {"create", "extend"}
    assert RAY_2.image_roles == {"first_frame", "last_frame"}
    assert not RAY_2.seed and not RAY_2.negative_prompt and RAY_2.audio is None
    assert RAY_1_6.seconds == (5,) and all(SIZES[s][1] == "720p" for s in RAY_1_6.sizes)
    assert SPEC.models["ray-flash-2"].sizes == RAY_2.sizes


def test_prices() -> None:
    assert SPEC.prices["ray-2"].usd(5, "720p") == 0.4
    assert SPEC.prices["ray-flash-2"].usd(5, "540p") == 0.2
    assert SPEC.prices["ray-flash-2"].usd(5, "720p") == 0.4
    assert SPEC.prices["ray-flash-2"].usd(5, "4k") is None  # no published figure


def test_remix_and_edit_are_rejected_by_capabilities() -> None:
    with pytest.raises(UnsupportedOperation):
        resolve(
            VideoRequest("remix", "again", source_video_id="video_x"),
            RAY_2,
            model_name="ray-2",
            upstream_model="ray-2",
        )
    with pytest.raises(UnsupportedOperation):
        resolved(operation="edit", source=SourceVideo(None, "video_src", GEN_ID, 5))


# --- submit ---------------------------------------------------------------------------


def test_auth_header_is_bearer() -> None:
    assert ADAPTER.auth_headers(None) == {"Authorization": "Bearer luma-secret"}
    keyless = dataclasses.replace(DEPLOYMENT, api_key=None)
    assert LumaAdapter(keyless).auth_headers(None) == {}


def test_create_body() -> None:
    assert body_of(request()) == {
        "generation_type": "video",
        "model": "ray-2",
        "prompt": "a balloon",
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "duration": "5s",
    }


@pytest.mark.parametrize(
    ("size", "seconds", "ratio", "resolution", "duration"),
    [
        ((720, 1280), 9, "9:16", "720p", "9s"),
        ((1920, 1080), 5, "16:9", "1080p", "5s"),
        ((3840, 2160), 9, "16:9", "4k", "9s"),
        ((540, 540), 5, "1:1", "540p", "5s"),
        ((2520, 1080), 5, "21:9", "1080p", "5s"),
    ],
)
def test_size_and_seconds_conversions(
    size: tuple[int, int], seconds: int, ratio: str, resolution: str, duration: str
) -> None:
    body = body_of(request(width=size[0], height=size[1], seconds=seconds))
    assert (body["aspect_ratio"], body["resolution"], body["duration"]) == (
        ratio,
        resolution,
        duration,
    )


def test_legacy_model_sends_no_resolution_or_duration() -> None:
    body = body_of(request(upstream_model="ray-1-6", width=720, height=1280))
    assert body["aspect_ratio"] == "9:16"
    assert "resolution" not in body and "duration" not in body


def test_callback_url_is_never_sent() -> None:
    assert "callback_url" not in body_of(request(options={"loop": True}))


def test_first_and_last_frame_are_image_keyframes() -> None:
    images = (
        ImageInput("first_frame", Asset("url", "https://img.example/a.jpg")),
        ImageInput("last_frame", Asset("url", "https://img.example/b.png")),
    )
    assert body_of(request(images=images))["keyframes"] == {
        "frame0": {"type": "image", "url": "https://img.example/a.jpg"},
        "frame1": {"type": "image", "url": "https://img.example/b.png"},
    }


@pytest.mark.parametrize(
    ("field", "asset", "param"),
    [
        ("image", Asset("blob", "inputs/u/a.png", "image/png"), "input_reference"),
        ("image", Asset("url", "data:image/png;base64,AAAA"), "input_reference"),
        ("last_frame", Asset("blob", "inputs/u/b.png", "image/png"), "metadata.last_frame"),
    ],
)
def test_images_that_are_not_urls_are_refused(field: str, asset: Asset, param: str) -> None:
    assert "https image URL" in rejects(param, **{field: asset}).message


def test_image_file_ids_and_listed_images_are_refused_by_name() -> None:
    assert "file id" in rejects("input_reference", image=Asset("file_id", "file_1")).message
    upload = Asset("blob", "inputs/u/a.png", "image/png")
    assert "https image URL" in rejects("images[1]", images=[URL_A, upload]).message


def test_resolved_images_become_keyframes() -> None:
    body = body_of(resolved(images=[URL_A, URL_B]))
    assert body["keyframes"] == {
        "frame0": {"type": "image", "url": URL_A.value},
        "frame1": {"type": "image", "url": URL_B.value},
    }


def test_extend_points_frame0_at_the_source_generation() -> None:
    source = SourceVideo(None, "video_src", GEN_ID, 5)
    end = (ImageInput("last_frame", Asset("url", "https://img.example/end.jpg")),)
    body = body_of(request(operation="extend", source=source, seconds=9, images=end))
    assert body["keyframes"] == {
        "frame0": {"type": "generation", "id": GEN_ID},
        "frame1": {"type": "image", "url": "https://img.example/end.jpg"},
    }
    assert body["duration"] == "9s" and body["aspect_ratio"] == "16:9"


@pytest.mark.parametrize(
    "source",
    [None, SourceVideo(Asset("blob", "videos/x/video.mp4", "video/mp4"), "video_src", None, 5)],
)
def test_extend_without_a_same_deployment_source_is_400(source: SourceVideo | None) -> None:
    assert "same Luma deployment" in rejects("video", operation="extend", source=source).message


def test_extend_of_a_size_luma_never_makes_is_400() -> None:
    source = SourceVideo(None, "video_src", GEN_ID, 5)
    video = VideoRequest("extend", "more", seconds=5)
    with pytest.raises(InvalidRequest) as caught:
        resolve(
            video,
            RAY_2,
            model_name="ray-2",
            upstream_model="ray-2",
            source=source,
            source_size=(640, 480),
        )
    assert caught.value.param == "size"
    ok = resolved(operation="extend", source=source, seconds=9)
    assert body_of(ok)["keyframes"] == {"frame0": {"type": "generation", "id": GEN_ID}}


def test_options() -> None:
    options = {"loop": False, "concepts": ["dolly_zoom", {"key": "aerial"}]}
    body = body_of(resolved(options=options))
    assert body["loop"] is False
    assert body["concepts"] == [{"key": "dolly_zoom"}, {"key": "aerial"}]


def test_bad_option_values_are_refused_before_the_job() -> None:
    loop = rejects("metadata.loop", options={"loop": "yes"})
    assert loop.code == "invalid_value" and "true or false" in loop.message
    for bad in ("dolly_zoom", [1], [{"name": "x"}], [""], []):
        rejects("metadata.concepts", options={"concepts": bad})
    assert rejects("metadata.concepts", "ray-1-6", options={"concepts": ["x"]}).code == (
        "unknown_parameter"
    )


def test_unknown_options_are_rejected_at_resolve() -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        resolve(
            VideoRequest("create", "x", options={"callback_url": "https://evil"}),
            RAY_2,
            model_name="ray-2",
            upstream_model="ray-2",
        )
    assert excinfo.value.param == "metadata.callback_url"


# --- poll, download, delete -------------------------------------------------------------


def test_poll_delete_and_download_calls() -> None:
    assert ADAPTER.build_poll(GEN_ID).path == f"/generations/{GEN_ID}"
    delete = ADAPTER.build_delete(GEN_ID)
    assert delete is not None and (delete.method, delete.path) == (
        "DELETE",
        f"/generations/{GEN_ID}",
    )
    plan = ADAPTER.build_download(GEN_ID, "video", CDN)
    assert plan is not None and plan.call.path == CDN and plan.auth is False
    thumb = ADAPTER.build_download(GEN_ID, "thumbnail", "https://cdn.example/t.jpg")
    assert thumb is not None and thumb.auth is False
    assert ADAPTER.build_download(GEN_ID, "thumbnail", None) is None
    assert ADAPTER.build_download(GEN_ID, "spritesheet", "https://x") is None
    assert SPEC.upstream_previews == {"thumbnail"}


@pytest.mark.parametrize(("state", "status"), [("queued", "queued"), ("dreaming", "in_progress")])
def test_running_states(state: str, status: str) -> None:
    parsed = ADAPTER.parse_state(reply(200, generation(state, assets=None)), POLL)
    assert (parsed.upstream_id, parsed.status, parsed.progress, parsed.raw_status) == (
        GEN_ID,
        status,
        0,
        state,
    )
    assert parsed.results == {} and parsed.error_code is None


def test_unknown_state_is_still_running() -> None:
    parsed = ADAPTER.parse_state(reply(200, generation("processing")), POLL)
    assert parsed.status == "in_progress" and parsed.raw_status == "processing"


def test_completed_has_video_and_thumbnail() -> None:
    assets = {"video": CDN, "image": "https://cdn.example/t.jpg", "progress_video": None}
    parsed = ADAPTER.parse_state(reply(200, generation("completed", assets=assets)), POLL)
    assert parsed.status == "completed" and parsed.progress == 100
    assert parsed.results == {"video": CDN, "thumbnail": "https://cdn.example/t.jpg"}
    assert parsed.cost_units is None


@pytest.mark.parametrize("assets", [None, {}, {"video": None, "image": "x"}, {"video": ""}])
def test_completed_without_video_is_a_failure(assets: Any) -> None:
    parsed = ADAPTER.parse_state(reply(200, generation("completed", assets=assets)), POLL)
    assert parsed.status == "failed" and parsed.error_code == "upstream_no_result"
    assert parsed.error_message


def test_failed_carries_the_reason() -> None:
    reason = "400: prompt not allowed because advanced moderation failed"
    parsed = ADAPTER.parse_state(reply(200, generation("failed", failure_reason=reason)), POLL)
    assert parsed.status == "failed" and parsed.error_code == "content_policy_violation"
    assert parsed.error_message == reason
    other = ADAPTER.parse_state(
        reply(200, generation("failed", failure_reason=f"Job {GEN_ID} crashed")), POLL
    )
    assert other.error_code == "generation_failed"
    assert other.error_message == "Job <upstream id> crashed"
    bare = ADAPTER.parse_state(reply(200, generation("failed", failure_reason=None)), POLL)
    assert bare.status == "failed" and bare.error_message


@pytest.mark.parametrize(
    "body", [{}, '{"id": "d1f6a3c2-8e4b', [], {"id": GEN_ID}, {"id": 7, "state": "queued"}]
)
def test_malformed_bodies_raise(body: Any) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, body), POLL)


# --- errors ---------------------------------------------------------------------------


def test_400_keeps_the_message_without_ids_or_urls() -> None:
    body = {"detail": f"Generation {GEN_ID} not found at https://api.lumalabs.ai/x"}
    error = ADAPTER.parse_error(reply(400, body), POLL)
    assert isinstance(error, InvalidRequest) and error.status == 400
    assert GEN_ID not in error.message and "lumalabs" not in error.message
    assert "not found" in error.message


def test_422_detail_list_names_the_field() -> None:
    detail = [
        {"type": "string_type", "loc": ["body", "duration"], "msg": "Input should be a string"}
    ]
    error = ADAPTER.parse_error(reply(422, {"detail": detail}), POLL)
    assert isinstance(error, InvalidRequest) and error.param == "duration"
    assert "duration: Input should be a string" in error.message


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors(status: int) -> None:
    error = ADAPTER.parse_error(reply(status, {"detail": "Invalid API key provided"}), POLL)
    assert isinstance(error, UpstreamAuthError) and not error.retryable


def test_402_is_an_upstream_error() -> None:
    error = ADAPTER.parse_error(reply(402, {"detail": "Insufficient credits"}), POLL)
    assert type(error) is UpstreamError and error.retryable
    assert error.code == "upstream_insufficient_credits"


def test_404_429_5xx() -> None:
    assert isinstance(
        ADAPTER.parse_error(reply(404, {"detail": "Generation not found"}), POLL), NotFound
    )
    limited = ADAPTER.parse_error(reply(429, {"detail": "slow down"}, **{"Retry-After": "7"}), POLL)
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 7
    broken = ADAPTER.parse_error(reply(503, "<html>bad gateway</html>"), POLL)
    assert type(broken) is UpstreamError and "503" in broken.message
