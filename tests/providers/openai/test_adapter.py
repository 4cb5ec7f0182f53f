"""The pure OpenAI Videos adapter: requests built and replies parsed as data, no network."""

from __future__ import annotations

from typing import Any

import pytest

from tests.providers.adapters import Resolver, deployment_maker, reply, request_maker
from vidgate.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, FilePart
from vidgate.providers.openai import PROVIDER
from vidgate.providers.openai.adapter import OpenAIAdapter, _flatten
from vidgate.providers.openai.spec import SORA_2, SPEC
from vidgate.providers.registry import PROVIDERS
from vidgate.values import Asset, Deployment, ImageInput, SourceVideo

DEPLOYMENT = deployment_maker(
    SPEC, "sora-2", "openai-test", "http://upstream.test/v1", "sk-upstream-secret"
)()
UPSTREAM_ID = "video_" + "ab" * 24
PNG = Asset("blob", "inputs/u1/ref.png", "image/png", "ref.png", "d1")
MP4 = Asset("blob", "inputs/u2/in.mp4", "video/mp4", "in.mp4", "d2")
ADAPTER = OpenAIAdapter(DEPLOYMENT)
POLL = CallContext("poll", UPSTREAM_ID)

request = request_maker("a calico cat on a skateboard", "sora-2", 8, (1280, 720))
RESOLVER = Resolver(SPEC, "sora-2", "a calico cat")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


def video(**changes: Any) -> dict[str, Any]:
    return {"id": UPSTREAM_ID, "object": "video", "status": "queued", "progress": 0} | changes


# --- registration and auth -------------------------------------------------------------


def test_provider_is_registered_with_a_per_deployment_adapter() -> None:
    assert PROVIDERS["openai"] is PROVIDER and PROVIDER.spec is SPEC
    assert PROVIDER.adapter is not None
    assert isinstance(PROVIDER.adapter(DEPLOYMENT), OpenAIAdapter)


def test_auth_header_is_bearer_of_the_deployment_key() -> None:
    assert ADAPTER.auth_headers(None) == {"Authorization": "Bearer sk-upstream-secret"}
    keyless = Deployment("d", "m", "openai", "sora-2", SORA_2, api_base="http://x/v1")
    assert OpenAIAdapter(keyless).auth_headers(None) == {}


# --- create ---------------------------------------------------------------------------


def test_create_without_files_is_json_with_seconds_as_string() -> None:
    call = ADAPTER.build_submit(request(), "video_gw1")
    assert (call.method, call.path) == ("POST", "/videos")
    assert call.headers == {"Idempotency-Key": "video_gw1"}
    assert call.json == {
        "prompt": "a calico cat on a skateboard",
        "model": "sora-2",
        "seconds": "8",
        "size": "1280x720",
    }
    assert call.data is None and call.files == ()


@pytest.mark.parametrize(
    ("asset", "expected"),
    [
        (Asset("url", "https://example.com/a.png"), {"image_url": "https://example.com/a.png"}),
        (Asset("url", "data:image/png;base64,AAAA"), {"image_url": "data:image/png;base64,AAAA"}),
        (Asset("file_id", "file_123"), {"file_id": "file_123"}),
    ],
)
def test_create_with_reference_object_stays_json(asset: Asset, expected: dict[str, str]) -> None:
    images = (ImageInput("first_frame", asset),)
    call = ADAPTER.build_submit(request(images=images), "video_gw1")
    assert call.files == () and call.data is None
    assert call.json["input_reference"] == expected


def test_create_with_uploaded_image_is_multipart_with_a_file_part() -> None:
    images = (ImageInput("first_frame", PNG),)
    call = ADAPTER.build_submit(request(images=images, seconds=4), "video_gw2")
    assert call.json is None
    assert call.headers["Idempotency-Key"] == "video_gw2"
    assert call.files == (FilePart("input_reference", PNG, "ref.png", "image/png"),)
    assert call.data == {
        "prompt": "a calico cat on a skateboard",
        "model": "sora-2",
        "seconds": "4",
        "size": "1280x720",
    }


def test_uploaded_image_without_a_name_gets_one_from_its_type() -> None:
    anonymous = Asset("blob", "inputs/u3/upload", "image/webp")
    call = ADAPTER.build_submit(request(images=(ImageInput("first_frame", anonymous),)), "k")
    assert call.files == (FilePart("input_reference", anonymous, "image.webp", "image/webp"),)


def test_metadata_options_become_extra_fields_json_and_multipart() -> None:
    options = {"quality": "high", "n_variants": 2, "loop": True, "style": {"preset": "film"}}
    as_json = ADAPTER.build_submit(request(options=options), "k")
    assert as_json.json is not None
    assert as_json.json["quality"] == "high" and as_json.json["n_variants"] == 2
    assert as_json.json["style"] == {"preset": "film"} and as_json.json["seconds"] == "8"
    images = (ImageInput("first_frame", PNG),)
    multipart = ADAPTER.build_submit(request(options=options, images=images), "k")
    assert multipart.data is not None
    assert multipart.data["quality"] == "high"
    assert multipart.data["n_variants"] == "2" and multipart.data["loop"] == "true"
    assert multipart.data["style[preset]"] == "film"
    assert all(isinstance(v, str) for v in multipart.data.values())


def test_bracket_flattening_of_objects_for_multipart() -> None:
    flat = _flatten(
        {
            "prompt": "p",
            "seconds": "4",
            "input_reference": {"image_url": "https://example.com/a.png"},
            "video": {"id": UPSTREAM_ID},
            "count": 3,
        }
    )
    assert flat == {
        "prompt": "p",
        "seconds": "4",
        "input_reference[image_url]": "https://example.com/a.png",
        "video[id]": UPSTREAM_ID,
        "count": "3",
    }


# --- remix, edit, extend --------------------------------------------------------------


def test_remix_posts_to_the_source_upstream_id() -> None:
    source = SourceVideo(MP4, job_id="video_" + "1" * 32, upstream_id=UPSTREAM_ID, seconds=8)
    call = ADAPTER.build_submit(
        request(operation="remix", prompt="now in blue", source=source), "video_gw3"
    )
    assert (call.method, call.path) == ("POST", f"/videos/{UPSTREAM_ID}/remix")
    assert call.json == {"prompt": "now in blue"}
    assert call.headers == {"Idempotency-Key": "video_gw3"} and call.files == ()


def test_remix_needs_a_source_made_on_the_same_deployment() -> None:
    elsewhere = SourceVideo(MP4, job_id="video_" + "1" * 32, upstream_id=None)
    error = rejects("video", operation="remix", source=elsewhere)
    assert "same deployment" in error.message
    here = SourceVideo(MP4, job_id="video_" + "1" * 32, upstream_id=UPSTREAM_ID)
    call = ADAPTER.build_submit(resolved(operation="remix", source=here), "k")
    assert call.path == f"/videos/{UPSTREAM_ID}/remix"


def test_edit_and_extend_by_upstream_id_are_json() -> None:
    source = SourceVideo(MP4, job_id="video_" + "1" * 32, upstream_id=UPSTREAM_ID, seconds=8)
    edit = ADAPTER.build_submit(request(operation="edit", source=source), "k")
    assert (edit.path, edit.files) == ("/videos/edits", ())
    assert edit.json == {"prompt": "a calico cat on a skateboard", "video": {"id": UPSTREAM_ID}}
    extend = ADAPTER.build_submit(request(operation="extend", seconds=4, source=source), "k")
    assert (extend.path, extend.files) == ("/videos/extensions", ())
    assert extend.json == {
        "prompt": "a calico cat on a skateboard",
        "seconds": "4",
        "video": {"id": UPSTREAM_ID},
    }
    assert extend.headers == {"Idempotency-Key": "k"}


def test_edit_and_extend_without_upstream_id_upload_the_video() -> None:
    source = SourceVideo(MP4, seconds=4)
    edit = ADAPTER.build_submit(request(operation="edit", source=source), "k")
    assert edit.json is None and edit.path == "/videos/edits"
    assert edit.data == {"prompt": "a calico cat on a skateboard"}
    assert edit.files == (FilePart("video", MP4, "video.mp4", "video/mp4"),)
    extend = ADAPTER.build_submit(request(operation="extend", seconds=8, source=source), "k")
    assert extend.data == {"prompt": "a calico cat on a skateboard", "seconds": "8"}
    assert extend.files == (FilePart("video", MP4, "video.mp4", "video/mp4"),)


@pytest.mark.parametrize("operation", ["edit", "extend"])
def test_edit_and_extend_need_a_source_id_or_its_bytes(operation: str) -> None:
    rejects("video", operation=operation)
    rejects("video", operation=operation, source=SourceVideo(None, "video_" + "1" * 32))
    uploaded = resolved(operation=operation, source=SourceVideo(MP4))
    assert ADAPTER.build_submit(uploaded, "k").files[0].asset == MP4


# --- options ----------------------------------------------------------------------------


def test_free_form_options_pass_resolve_and_reach_the_body() -> None:
    req = resolved(options={"quality": "high", "n_variants": 2}, size=(1280, 720))
    assert req.options == {"quality": "high", "n_variants": 2}
    body = ADAPTER.build_submit(req, "k").json
    assert body["quality"] == "high" and body["n_variants"] == 2 and body["size"] == "1280x720"


@pytest.mark.parametrize("name", ["seconds", "size", "prompt", "input_reference", "video"])
def test_options_cannot_override_what_the_request_sets(name: str) -> None:
    """``metadata.seconds: "20"`` would run (and bill) 20 s where 4 s were resolved."""
    error = rejects(f"metadata.{name}", options={name: "20"})
    assert f"'metadata.{name}'" in error.message
    for model in ("sora-2-pro", "my-compatible-model"):
        rejects(f"metadata.{name}", model, options={name: "x"})


# --- poll, download, delete -----------------------------------------------------------


def test_poll_download_delete_calls() -> None:
    poll = ADAPTER.build_poll(UPSTREAM_ID)
    assert (poll.method, poll.path, poll.json, poll.params) == (
        "GET",
        f"/videos/{UPSTREAM_ID}",
        None,
        None,
    )
    for variant in ("video", "thumbnail", "spritesheet"):
        plan = ADAPTER.build_download(UPSTREAM_ID, variant, None)  # type: ignore[arg-type]
        assert plan.auth and plan.base64_field is None
        download = plan.call
        assert (download.method, download.path) == ("GET", f"/videos/{UPSTREAM_ID}/content")
        assert download.params == {"variant": variant}
        assert download.headers == {"Accept": "application/binary"}
    delete = ADAPTER.build_delete(UPSTREAM_ID)
    assert delete is not None and (delete.method, delete.path) == (
        "DELETE",
        f"/videos/{UPSTREAM_ID}",
    )


# --- parse_state ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("queued", "queued"),
        ("in_progress", "in_progress"),
        ("completed", "completed"),
        ("failed", "failed"),
        ("rendering", "in_progress"),
        ("", "in_progress"),
        (None, "in_progress"),
    ],
)
def test_status_map_unknown_means_still_running(raw: str | None, status: str) -> None:
    state = ADAPTER.parse_state(reply(200, video(status=raw)), POLL)
    assert state.status == status and state.upstream_id == UPSTREAM_ID
    assert state.raw_status == (raw or "")


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        (0.37, 37),
        (0.29, 29),
        (0.57, 57),
        (37, 37),
        ("42", 42),
        (0, 0),
        (100, 100),
        (140, 100),
        (-5, 0),
        (None, 0),
        ("soon", 0),
        (float("nan"), 0),
        ("inf", 0),
    ],
)
def test_progress_as_integer_percent(progress: Any, expected: int) -> None:
    state = ADAPTER.parse_state(reply(200, video(status="in_progress", progress=progress)), POLL)
    assert state.progress == expected


def test_failed_job_carries_error_code_and_message() -> None:
    error = {"code": "moderation_blocked", "message": "Blocked by the moderation system."}
    state = ADAPTER.parse_state(reply(200, video(status="failed", error=error)), POLL)
    assert state.status == "failed"
    assert state.error_code == "moderation_blocked"
    assert state.error_message == "Blocked by the moderation system."
    running = ADAPTER.parse_state(reply(200, video(status="in_progress", error=None)), POLL)
    assert running.error_code is None and running.error_message is None


def test_upstream_ids_are_hidden_from_messages() -> None:
    gateway_id = "video_" + "c" * 32
    error = {"code": "moderation_blocked", "message": f"Video {UPSTREAM_ID} was blocked."}
    state = ADAPTER.parse_state(reply(200, video(status="failed", error=error)), POLL)
    assert state.error_message == "Video <upstream id> was blocked."
    assert state.upstream_id == UPSTREAM_ID  # kept for the gateway itself
    for status in (400, 404, 429, 500):
        body = envelope(f"Video with id '{UPSTREAM_ID}' (for {gateway_id}) not found.")
        message = ADAPTER.parse_error(reply(status, body), POLL).message
        assert UPSTREAM_ID not in message and "'<upstream id>'" in message
        assert gateway_id in message
    compatible = envelope("No video_MTIzNDU2Nzg5MGFiY2RlZg== here.")
    assert "MTIz" not in ADAPTER.parse_error(reply(404, compatible), POLL).message


def test_poll_after_header_becomes_seconds() -> None:
    hinted = ADAPTER.parse_state(reply(200, video(), **{"OpenAI-Poll-After-Ms": "250"}), POLL)
    assert hinted.poll_after_s == pytest.approx(0.25)
    assert ADAPTER.parse_state(reply(200, video()), POLL).poll_after_s is None
    junk = ADAPTER.parse_state(reply(200, video(), **{"openai-poll-after-ms": "soon"}), POLL)
    assert junk.poll_after_s is None


@pytest.mark.parametrize("body", [{"object": "video"}, "<html>oops</html>", None, [1], {"id": 7}])
def test_malformed_video_object_is_an_upstream_error(body: Any) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, body), POLL)


# --- parse_error ----------------------------------------------------------------------


def envelope(message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }


def test_400_is_invalid_request_with_the_upstream_param_and_code() -> None:
    error = ADAPTER.parse_error(
        reply(400, envelope("Invalid 'size': 640x480.", "size", "invalid_value")), POLL
    )
    assert isinstance(error, InvalidRequest)
    assert (error.status, error.param, error.code) == (400, "size", "invalid_value")
    assert "Invalid 'size'" in error.message and not error.retryable
    bare = ADAPTER.parse_error(reply(422, envelope("nope")), POLL)
    assert isinstance(bare, InvalidRequest) and bare.code == "invalid_request"


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_upstream_auth_errors(status: int) -> None:
    error = ADAPTER.parse_error(
        reply(status, envelope("Incorrect API key provided: sk-upstr****cret.", None, "x")),
        POLL,
    )
    assert isinstance(error, UpstreamAuthError)
    assert (error.status, error.code, error.retryable) == (502, "upstream_auth_error", False)
    assert "sk-" not in error.message


def test_404_is_not_found() -> None:
    error = ADAPTER.parse_error(reply(404, envelope("Video not found.", None, "not_found")), POLL)
    assert isinstance(error, NotFound) and error.status == 404


def test_429_is_rate_limited_with_retry_after() -> None:
    body = envelope("Rate limit reached for requests.", None, "rate_limit_exceeded")
    error = ADAPTER.parse_error(reply(429, body, **{"Retry-After": "7"}), POLL)
    assert isinstance(error, RateLimited)
    assert (error.status, error.retry_after_s, error.retryable) == (429, 7.0, True)
    without = ADAPTER.parse_error(reply(429, body), POLL)
    assert isinstance(without, RateLimited) and without.retry_after_s is None


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, envelope("The server had an error.", None, "server_error")),
        (502, "<html>bad gateway</html>"),
        (503, None),
    ],
)
def test_server_errors_are_retryable_upstream_errors(status: int, body: Any) -> None:
    error = ADAPTER.parse_error(reply(status, body), POLL)
    assert type(error) is UpstreamError
    assert (error.status, error.code, error.retryable) == (502, "upstream_error", True)
    assert str(status) in error.message
