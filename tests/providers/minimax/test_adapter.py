"""The pure MiniMax adapter: requests built and replies parsed as data, no network; the
checks before any job go through ``resolve``.

Replies use the JSON examples of ``shared/reference/providers/minimax.md`` verbatim.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.providers.adapters import STATUS_ERRORS, Resolver, deployment_maker, reply, request_maker
from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    RateLimited,
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
    UpstreamTimeout,
)
from vidgate.providers.base import CallContext, HttpReply, Inline
from vidgate.providers.minimax import PROVIDER
from vidgate.providers.minimax.adapter import MinimaxAdapter
from vidgate.providers.minimax.spec import SPEC
from vidgate.request import VideoRequest, resolve
from vidgate.values import Asset, ResolvedRequest

# --- the reference's examples, verbatim ---------------------------------------------------
CREATE = {"task_id": "106916112212032", "base_resp": {"status_code": 0, "status_msg": "success"}}
QUERY = {
    "task_id": "176843862716480",
    "status": "Success",
    "file_id": "176844028768320",
    "video_width": 1920,
    "video_height": 1080,
    "base_resp": {"status_code": 0, "status_msg": "success"},
}
RETRIEVE = {
    "file": {
        "file_id": 176844028768320,
        "bytes": 5242880,
        "created_at": 1768440300,
        "filename": "output.mp4",
        "purpose": "video_generation",
        "download_url": "https://…",
    },
    "base_resp": {"status_code": 0, "status_msg": "success"},
}
V2_REQUEST = {
    "model": "MiniMax-H3",
    "content": [
        {"type": "text", "text": "A paper boat drifting down a rainy street"},
        {
            "type": "image_url",
            "image_url": {"url": "https://…/first.png"},
            "role": "first_frame",
        },
    ],
    "resolution": "768P",
    "duration": 5,
    "ratio": "16:9",
    "callback_url": "https://…",
    "aigc_watermark": False,
}
V2_QUERY = {
    "task": {
        "id": "…",
        "model": "MiniMax-H3",
        "status": "succeeded",
        "error": None,
        "created_at": 1778754737,
        "updated_at": 1778755025,
        "content": {"url": "https://…mp4"},
        "resolution": "768P",
        "duration": 5,
        "ratio": "16:9",
        "usage": {
            "total_seconds": 5,
            "input_seconds": 0,
            "output_seconds": 5,
            "input_image_count": 1,
        },
        "task_type": "…",
    }
}
# -------------------------------------------------------------------------------------------

PNG = Asset("blob", "inputs/u1/first.png", "image/png", "first.png", "d1")
LAST = Asset("url", "https://cdn.example.com/last.png")
DATA = Asset("url", "data:image/jpeg;base64,/9j/4AAQ")

deployment = deployment_maker(
    SPEC, "MiniMax-Hailuo-2.3", "minimax-test", "https://api.minimax.io", "sk-api-secret"
)


def adapter(model: str = "MiniMax-Hailuo-2.3") -> MinimaxAdapter:
    return MinimaxAdapter(deployment(model))


request = request_maker("a paper boat [Push in]", "MiniMax-Hailuo-2.3", 6, (1366, 768))
RESOLVER = Resolver(SPEC, "MiniMax-Hailuo-2.3", "a paper boat [Push in]", model_name="m")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


def submit(req: ResolvedRequest) -> Any:
    return adapter(req.upstream_model).build_submit(req, "idem")


SUBMIT = CallContext("submit", None, request())
POLL = CallContext("poll", "176843862716480")


def business(code: int, message: str = "msg", **extra: Any) -> HttpReply:
    return reply(200, {**extra, "base_resp": {"status_code": code, "status_msg": message}})


# --- auth and wiring ------------------------------------------------------------------------


def test_provider_wiring_and_auth_header() -> None:
    assert PROVIDER.adapter is not None
    assert isinstance(PROVIDER.adapter(deployment()), MinimaxAdapter)
    assert SPEC.env == {"api_key": "MINIMAX_API_KEY"}
    assert SPEC.default_api_base == "https://api.minimax.io"
    headers = adapter().auth_headers(None)
    assert headers == {"Authorization": "Bearer sk-api-secret"}
    assert MinimaxAdapter(deployment(api_key=None)).auth_headers(None) == {}


def test_protocol_is_chosen_per_model_not_per_provider() -> None:
    assert adapter("MiniMax-H3").v2 and not adapter("MiniMax-Hailuo-02").v2
    v2 = submit(resolved("MiniMax-H3", seconds=5))
    v1 = submit(resolved())
    assert (v2.method, v2.path) == ("POST", "/v2/video_generation")
    assert (v1.method, v1.path) == ("POST", "/v1/video_generation")


# --- v1 request mapping ---------------------------------------------------------------------


def test_v1_text_to_video_body() -> None:
    call = submit(resolved(options={"prompt_optimizer": False, "fast_pretreatment": True}))
    assert call.json == {
        "model": "MiniMax-Hailuo-2.3",
        "prompt": "a paper boat [Push in]",
        "duration": 6,
        "resolution": "768P",
        "prompt_optimizer": False,
        "fast_pretreatment": True,
    }
    assert "callback_url" not in call.json


@pytest.mark.parametrize(
    ("size", "resolution"),
    [((912, 512), "512P"), ((1366, 768), "768P"), ((1920, 1080), "1080P")],
)
def test_v1_size_maps_to_resolution(size: tuple[int, int], resolution: str) -> None:
    assert submit(resolved("MiniMax-Hailuo-02", size=size)).json["resolution"] == resolution


def test_v1_ten_seconds_only_below_1080p() -> None:
    ok = submit(resolved("MiniMax-Hailuo-02", seconds=10, size=(912, 512)))
    assert ok.json["duration"] == 10
    assert submit(resolved(seconds=10)).json["duration"] == 10  # 768P
    caught = rejects("seconds", seconds=10, size=(1920, 1080))
    assert caught.code == "invalid_value" and "1080P" in caught.message
    rejects("seconds", "MiniMax-Hailuo-02", seconds=10, size=(1920, 1080))
    renamed = VideoRequest(
        "create", "p", seconds=10, size=(1920, 1080), names={"seconds": "duration"}
    )
    caps = SPEC.capabilities("MiniMax-Hailuo-2.3")
    assert caps is not None
    with pytest.raises(InvalidRequest) as named:  # named as the client sent it
        resolve(renamed, caps, model_name="m", upstream_model="MiniMax-Hailuo-2.3")
    assert named.value.param == "duration"


def test_v1_frames_inline_as_data_uri_or_url() -> None:
    call = submit(resolved("MiniMax-Hailuo-02", image=PNG, last_frame=LAST))
    assert call.json["first_frame_image"] == Inline(PNG, "data_uri")
    assert call.json["last_frame_image"] == "https://cdn.example.com/last.png"
    data = submit(resolved(image=DATA))  # sent as the same data URI, once decoded and checked
    assert data.json["first_frame_image"] == Inline(DATA, "data_uri")


def test_v1_image_only_and_subject_models() -> None:
    rejects("input_reference", "MiniMax-Hailuo-2.3-Fast")
    for model in ("I2V-01", "I2V-01-Director", "I2V-01-live"):
        rejects("input_reference", model)
    fast = submit(resolved("MiniMax-Hailuo-2.3-Fast", image=PNG))
    assert fast.json["first_frame_image"] == Inline(PNG, "data_uri")
    rejects("metadata.reference_images", "S2V-01")
    body = submit(resolved("S2V-01", reference_images=[LAST])).json
    assert body == {
        "model": "S2V-01",
        "prompt": "a paper boat [Push in]",
        "subject_reference": [{"type": "character", "image": [LAST.value]}],
    }


def test_v1_01_series_sends_no_duration_or_resolution() -> None:
    req = resolved("T2V-01", options={"aigc_watermark": True})
    assert submit(req).json == {
        "model": "T2V-01",
        "prompt": "a paper boat [Push in]",
        "aigc_watermark": True,
    }


@pytest.mark.parametrize(
    ("model", "options", "code"),
    [
        ("MiniMax-Hailuo-2.3", {"prompt_optimizer": "yes"}, "invalid_value"),
        ("MiniMax-Hailuo-02", {"fast_pretreatment": 1}, "invalid_value"),
        ("T2V-01", {"aigc_watermark": "no"}, "invalid_value"),
        ("T2V-01", {"fast_pretreatment": True}, "unknown_parameter"),  # Hailuo only
        ("MiniMax-H3", {"prompt_optimizer": True}, "unknown_parameter"),  # v2: watermark only
    ],
)
def test_bad_options_are_refused_before_a_job(
    model: str, options: dict[str, Any], code: str
) -> None:
    (name,) = options
    assert rejects(f"metadata.{name}", model, options=options).code == code


def test_bad_inputs_are_rejected() -> None:
    caught = rejects("metadata.prompt_optimizer", options={"prompt_optimizer": "yes"})
    assert caught.message == (
        "Invalid value for 'metadata.prompt_optimizer': \"yes\"; expected true or false."
    )
    rejects("input_reference", image=Asset("file_id", "file-123"))
    with pytest.raises(UnsupportedOperation):
        resolved(operation="remix")
    # prompt rewriting under another provider's name reaches MiniMax's own option
    assert resolved(options={"enhance_prompt": False}).options == {"prompt_optimizer": False}


def test_capabilities_follow_the_reference() -> None:
    caps = {name: SPEC.capabilities(name) for name in SPEC.models}
    assert caps["MiniMax-Hailuo-02"].seconds == (6, 10)  # type: ignore[union-attr]
    assert "last_frame" in caps["MiniMax-Hailuo-02"].image_roles  # type: ignore[union-attr]
    assert "last_frame" not in caps["MiniMax-Hailuo-2.3"].image_roles  # type: ignore[union-attr]
    assert caps["T2V-01"].seconds == (6,)  # type: ignore[union-attr]
    assert caps["MiniMax-H3"].seconds == tuple(range(4, 16))  # type: ignore[union-attr]
    assert all(c is not None and c.operations == {"create"} for c in caps.values())
    assert SPEC.prices["MiniMax-Hailuo-2.3"].usd(6, "720p") == pytest.approx(0.28)
    assert SPEC.prices["MiniMax-Hailuo-02"].usd(6, "1080p") == pytest.approx(0.49)
    assert SPEC.prices["MiniMax-H3"].usd(5, "1440p") == pytest.approx(0.65)


# --- v2 request mapping ---------------------------------------------------------------------


def test_v2_body_matches_the_reference_example() -> None:
    first = Asset("url", "https://…/first.png")
    req = resolved(
        "MiniMax-H3",
        prompt="A paper boat drifting down a rainy street",
        seconds=5,
        image=first,
        options={"aigc_watermark": False},
    )
    expected = {k: v for k, v in V2_REQUEST.items() if k != "callback_url"}
    assert submit(req).json == expected


def test_v2_roles_and_sizes() -> None:
    req = resolved(
        "MiniMax-H3",
        seconds=15,
        size=(1440, 2560),
        image=PNG,
        last_frame=LAST,
        reference_images=[DATA],
    )
    body = submit(req).json
    assert (body["ratio"], body["resolution"], body["duration"]) == ("9:16", "2K", 15)
    assert [(c.get("role"), c["type"]) for c in body["content"]] == [
        (None, "text"),
        ("first_frame", "image_url"),
        ("last_frame", "image_url"),
        ("reference_image", "image_url"),
    ]
    assert body["content"][1]["image_url"]["url"] == Inline(PNG, "data_uri")


# --- polling and the two-step v1 result -------------------------------------------------


def test_v1_create_reply_is_queued() -> None:
    state = adapter().parse_state(reply(200, CREATE), SUBMIT)
    assert (state.upstream_id, state.status) == ("106916112212032", "queued")


def test_v1_success_retrieves_the_file_then_completes() -> None:
    bound = adapter()
    poll = bound.build_poll("176843862716480")
    assert (poll.method, poll.path) == ("GET", "/v1/query/video_generation")
    assert poll.params == {"task_id": "176843862716480"}
    seen = bound.parse_state(reply(200, QUERY), POLL)
    assert (seen.status, seen.progress, seen.raw_status) == ("in_progress", 99, "Success")
    assert seen.poll_after_s == 0 and not seen.results
    # The step travels in the moved id the poller saves, not in the adapter.
    assert seen.upstream_id == "176843862716480|file:176844028768320"
    retrieve = adapter().build_poll(seen.upstream_id)
    assert (retrieve.method, retrieve.path, retrieve.params) == (
        "GET",
        "/v1/files/retrieve",
        {"file_id": "176844028768320"},
    )
    retrieved = CallContext("poll", seen.upstream_id)
    done = bound.parse_state(reply(200, RETRIEVE), retrieved)  # file_id is a JSON number here
    assert done.upstream_id == seen.upstream_id  # names no task: the id it was polled by
    assert (done.status, done.progress) == ("completed", 100)
    assert done.results == {"video": "https://…"}
    # Stateless: the same id polls the same way, before and after the retrieve.
    assert bound.build_poll("176843862716480").path == "/v1/query/video_generation"
    assert bound.build_poll(seen.upstream_id).path == "/v1/files/retrieve"
    download = bound.build_download(seen.upstream_id, "video", "https://…")
    assert download is not None and not download.auth
    assert download.call.path == "https://…"
    assert bound.build_download(seen.upstream_id, "thumbnail", "https://…") is None
    assert bound.build_delete(seen.upstream_id) is None


def test_v1_lost_step_queries_again_and_never_double_completes() -> None:
    # A move that was not saved: the task id is polled again and Success is seen again.
    first, second = adapter(), adapter()
    moved = first.parse_state(reply(200, QUERY), POLL).upstream_id
    assert second.build_poll("176843862716480").path == "/v1/query/video_generation"
    again = second.parse_state(reply(200, QUERY), POLL)
    assert (again.status, again.upstream_id) == ("in_progress", moved)
    # A failed retrieve is a failed poll (the job is not failed) and the id is retried as is.
    retrieve = CallContext("poll", moved)
    with pytest.raises(InvalidRequest):
        second.parse_state(business(2013, "invalid params, file_id not found"), retrieve)
    with pytest.raises(UpstreamError):
        failing = reply(200, {"base_resp": {"status_code": 1000, "status_msg": "x"}})
        second.parse_state(failing, retrieve)
    assert second.parse_error(reply(503, business(1000).body), retrieve).status >= 500
    assert second.build_poll(moved).params == {"file_id": "176844028768320"}
    # Only a retrieve reply completes; a repeated Success query never does.
    assert second.parse_state(reply(200, QUERY), POLL).status == "in_progress"
    # Another replica finishes the job from the saved id alone.
    done = adapter().parse_state(reply(200, RETRIEVE), retrieve)
    assert (done.upstream_id, done.status) == (moved, "completed")


def test_v1_ids_tell_the_steps_apart() -> None:
    bound = adapter()
    assert bound.build_poll("7|file:").params == {"task_id": "7"}
    assert bound.build_poll("7|file:9").path == "/v1/files/retrieve"
    assert adapter("MiniMax-H3").build_poll("v2:7").path == "/v2/query/video_generation/7"
    with pytest.raises(UpstreamError):
        no_id = reply(200, {"file": {"download_url": "https://x"}, "base_resp": {}})
        bound.parse_state(no_id, CallContext("poll", "7|file:9"))


def test_success_without_a_result_is_a_failure() -> None:
    state = adapter().parse_state(reply(200, {**QUERY, "file_id": ""}), POLL)
    assert (state.status, state.error_code) == ("failed", "upstream_no_output")
    file = {**RETRIEVE["file"], "download_url": ""}
    state = adapter().parse_state(reply(200, {**RETRIEVE, "file": file}), POLL)
    assert (state.status, state.error_code) == ("failed", "upstream_no_output")
    task = {**V2_QUERY["task"], "content": None}
    state = adapter("MiniMax-H3").parse_state(reply(200, {"task": task}), POLL)
    assert (state.status, state.error_code) == ("failed", "upstream_no_output")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("Preparing", "queued"),
        ("Queueing", "queued"),
        ("Processing", "in_progress"),
        ("Rendering", "in_progress"),  # unknown: still running
    ],
)
def test_v1_running_statuses(raw: str, status: str) -> None:
    state = adapter().parse_state(reply(200, {**QUERY, "status": raw, "file_id": ""}), POLL)
    assert (state.status, state.raw_status, state.progress) == (status, raw, 0)


@pytest.mark.parametrize("raw", ["Fail", "Failed"])
def test_v1_both_failure_spellings(raw: str) -> None:
    ok = adapter().parse_state(reply(200, {**QUERY, "status": raw, "file_id": ""}), POLL)
    assert (ok.status, ok.error_code) == ("failed", "upstream_failed")
    body = {"task_id": "1", "status": raw, "file_id": ""}
    flagged = adapter().parse_state(business(1027, "output new_sensitive", **body), POLL)
    assert (flagged.status, flagged.error_code) == ("failed", "moderation_blocked")
    assert flagged.error_message and "new_sensitive" in flagged.error_message


def test_v2_create_and_poll_and_delete() -> None:
    bound = adapter("MiniMax-H3")
    sent = CallContext("submit", None, request(upstream_model="MiniMax-H3", seconds=5))
    created = bound.parse_state(reply(200, {"task_id": "7788"}), sent)
    assert (created.upstream_id, created.status) == ("v2:7788", "queued")
    # the protocol of a submit's reply is the request's, whichever adapter reads it
    assert adapter().parse_state(reply(200, {"task_id": "7788"}), sent).upstream_id == "v2:7788"
    assert bound.build_poll("v2:7788").path == "/v2/query/video_generation/7788"
    delete = bound.build_delete("v2:7788")
    assert delete is not None and (delete.method, delete.path) == (
        "DELETE",
        "/v2/video_generation/7788",
    )
    assert adapter().build_delete("7788") is None  # v1 has no cancel
    done = bound.parse_state(reply(200, V2_QUERY), CallContext("poll", "v2:7788"))
    assert (done.upstream_id, done.status, done.progress) == ("v2:…", "completed", 100)
    assert done.results == {"video": "https://…mp4"}


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("queued", "queued", None),
        ("running", "in_progress", None),
        ("processing", "in_progress", None),  # unknown
        ("failed", "failed", "moderation_blocked"),
        ("cancelled", "failed", "cancelled"),
        ("expired", "failed", "expired"),
    ],
)
def test_v2_statuses(raw: str, status: str, code: str | None) -> None:
    error = {"code": 1026, "message": "input new_sensitive"} if raw == "failed" else None
    task = {**V2_QUERY["task"], "status": raw, "error": error, "content": None}
    state = adapter("MiniMax-H3").parse_state(reply(200, {"task": task}), POLL)
    assert (state.status, state.error_code, state.raw_status) == (status, code, raw)


@pytest.mark.parametrize("body", [{}, "not json", {"task_id": ""}, {"task": {"status": 3}}])
def test_malformed_replies_are_upstream_errors(body: Any) -> None:
    with pytest.raises(UpstreamError):
        adapter().parse_state(reply(200, body), POLL)


# --- errors: business codes inside HTTP 200 -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "gateway_code"),
    [
        (1000, UpstreamError, "upstream_error"),
        (1001, UpstreamTimeout, "upstream_timeout"),
        (1002, RateLimited, "rate_limit_exceeded"),
        (1004, UpstreamAuthError, "upstream_auth_error"),
        (1008, UpstreamError, "upstream_insufficient_balance"),
        (1024, UpstreamError, "upstream_error"),
        (1026, InvalidRequest, "moderation_blocked"),
        (1027, InvalidRequest, "moderation_blocked"),
        (1028, RateLimited, "upstream_quota_exhausted"),
        (1030, RateLimited, "upstream_quota_exhausted"),
        (1033, UpstreamError, "upstream_error"),
        (1039, RateLimited, "rate_limit_exceeded"),
        (2013, InvalidRequest, "invalid_request"),
        (2049, UpstreamAuthError, "upstream_auth_error"),
        (2061, UpstreamError, "upstream_model_not_in_plan"),
    ],
)
def test_business_codes_in_create_replies(
    code: int, error: type[GatewayError], gateway_code: str
) -> None:
    with pytest.raises(error) as caught:
        adapter().parse_state(business(code, "invalid params, duration", task_id=""), SUBMIT)
    assert type(caught.value) is error and caught.value.code == gateway_code
    assert str(code) in caught.value.message


def test_business_codes_in_polls_raise() -> None:
    body = {"task_id": "1", "status": "Processing", "file_id": ""}
    with pytest.raises(UpstreamAuthError):
        adapter().parse_state(business(1004, "login fail", **body), POLL)
    with pytest.raises(RateLimited) as caught:
        adapter("MiniMax-H3").parse_state(business(1002, task=V2_QUERY["task"]), POLL)
    assert caught.value.retry_after_s == 10
    with pytest.raises(InvalidRequest):
        adapter().parse_state(business(2013, "file_id not found"), POLL)


def test_rate_limit_honours_retry_after() -> None:
    headers = {"retry-after": "3"}
    with pytest.raises(RateLimited) as caught:
        adapter().parse_state(reply(200, business(1002).body, **headers), POLL)
    assert caught.value.retry_after_s == 3


def test_messages_never_echo_secrets_or_hosts() -> None:
    message = "bad key sk-api-abcdef0123 at https://api.minimax.io/v1 Bearer tok123"
    with pytest.raises(InvalidRequest) as caught:
        adapter().parse_state(business(2013, message), POLL)
    text = caught.value.message
    assert "sk-api" not in text and "minimax.io" not in text and "tok123" not in text


@pytest.mark.parametrize(("status", "error"), STATUS_ERRORS)
def test_parse_error_by_http_status(status: int, error: type[GatewayError]) -> None:
    found = adapter().parse_error(
        reply(status, business(1002, "rate limit").body, **{"retry-after": "2"}), SUBMIT
    )
    assert type(found) is error
    if status == 429:
        assert found.retry_after_s == 2
    if status in (400, 422, 404, 429):
        assert "rate limit" in found.message
    assert adapter().parse_error(reply(status, "<html>busy</html>"), SUBMIT).status == error.status
