"""The pure fal adapter: requests built and replies parsed as data, no network; the checks
before any job go through ``resolve``."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.providers.adapters import Resolver, deployment_maker, reply, request_maker
from vidgate.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    TaskFailed,
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, Inline
from vidgate.providers.fal import PROVIDER
from vidgate.providers.fal.adapter import FalAdapter, app_path, split_id
from vidgate.providers.fal.spec import MODELS, SIZES, SPEC
from vidgate.values import Asset, Deployment, ImageInput, ResolvedRequest

RAY = "fal-ai/luma-dream-machine/ray-2-flash"
KLING = "fal-ai/kling-video/v2.1/master/text-to-video"
KLING_I2V = "fal-ai/kling-video/v2.1/standard/image-to-video"
RID = "764cabcf-b745-4b3e-ae38-1200304cf45b"
UID = f"fal-ai/luma-dream-machine|{RID}"
RESULT_UID = f"{UID}|result"
PNG = Asset("blob", "inputs/u1/first.png", "image/png", "first.png", "d1")
POLL = CallContext("poll", UID)
RESULT = CallContext("poll", RESULT_UID)

deployment = deployment_maker(
    SPEC, RAY, "fal-test", "https://queue.fal.run", "key-id:key-secret", model_name="m"
)
request = request_maker("a lighthouse at dusk", RAY, 5, (960, 540))
RESOLVER = Resolver(SPEC, RAY, "a lighthouse at dusk", model_name="m")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


def adapter(model: str = RAY, **changes: Any) -> FalAdapter:
    return FalAdapter(deployment(model, **changes))


def submit(req: ResolvedRequest, dep: Deployment | None = None) -> Any:
    return FalAdapter(dep or deployment(req.upstream_model)).build_submit(req, "idem")


def submitted(req: ResolvedRequest) -> CallContext:
    return CallContext("submit", None, req)


# --- spec ------------------------------------------------------------------------------


def test_spec_basics() -> None:
    assert PROVIDER.spec is SPEC and SPEC.default_api_base == "https://queue.fal.run"
    assert PROVIDER.adapter is not None and isinstance(PROVIDER.adapter(deployment()), FalAdapter)
    assert SPEC.env == {"api_key": "FAL_KEY"}
    assert SPEC.map_status("IN_QUEUE") == "queued"
    assert SPEC.map_status("IN_PROGRESS") == "in_progress"
    assert SPEC.map_status("SOMETHING_NEW") == "in_progress"
    assert SPEC.capabilities("someone/any-app/v9") is SPEC.any_model
    assert SPEC.any_model is not None and SPEC.any_model.any_options
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
    assert adapter().auth_headers(None) == {"Authorization": "Key key-id:key-secret"}
    assert adapter(api_key=None).auth_headers(None) == {}


def test_submit_posts_the_full_model_path() -> None:
    call = submit(resolved(size=(960, 540)))
    assert (call.method, call.path) == ("POST", f"/{RAY}")
    assert call.json == {
        "prompt": "a lighthouse at dusk",
        "duration": "5s",
        "aspect_ratio": "16:9",
        "resolution": "540p",
    }
    assert call.params is None


def test_kling_duration_and_fields() -> None:
    req = resolved(
        KLING, seconds=10, size=(1080, 1920), negative_prompt="blur", options={"cfg_scale": 0.4}
    )
    assert submit(req).json == {
        "prompt": "a lighthouse at dusk",
        "duration": "10",
        "aspect_ratio": "9:16",
        "negative_prompt": "blur",
        "cfg_scale": 0.4,
    }


def test_image_to_video_needs_an_image_and_inlines_it() -> None:
    rejects("input_reference", KLING_I2V, size=(1280, 720))
    body = submit(resolved(KLING_I2V, size=(1280, 720), image=PNG)).json
    image = Inline(dataclasses.replace(PNG, param="input_reference"), "data_uri")
    assert body == {"prompt": "a lighthouse at dusk", "duration": "5", "image_url": image}
    https = Asset("url", "https://example.com/a.png")
    by_url = submit(resolved(KLING_I2V, size=(1280, 720), image=https))
    assert by_url.json["image_url"] == "https://example.com/a.png"
    http = Asset("url", "http://example.com/a.png")
    inlined = submit(request(upstream_model=KLING_I2V, images=(ImageInput("first_frame", http),)))
    assert inlined.json["image_url"] == Inline(http, "data_uri")
    rejects("input_reference", KLING_I2V, size=(1280, 720), image=Asset("file_id", "f"))


def test_veo3_audio_and_duration_suffix() -> None:
    req = resolved("fal-ai/veo3", seconds=8, size=(1920, 1080), audio=False)
    assert submit(req).json == {
        "prompt": "a lighthouse at dusk",
        "duration": "8s",
        "aspect_ratio": "16:9",
        "resolution": "1080p",
        "generate_audio": False,
    }
    options = {"enhance_prompt": True, "auto_fix": False}
    body = submit(resolved("fal-ai/veo3", size=(1280, 720), options=options)).json
    assert body["enhance_prompt"] is True and body["auto_fix"] is False
    assert body["generate_audio"] is True  # Veo 3's default


def test_text_only_model_refuses_an_image() -> None:
    rejects("input_reference", KLING, size=(1920, 1080), image=PNG)


@pytest.mark.parametrize(
    ("model", "options", "param"),
    [
        (KLING, {"cfg_scale": 1.5}, "metadata.cfg_scale"),
        (KLING, {"cfg_scale": "0.5"}, "metadata.cfg_scale"),
        (KLING_I2V, {"cfg_scale": -0.1}, "metadata.cfg_scale"),
        ("fal-ai/veo3", {"enhance_prompt": "yes"}, "metadata.enhance_prompt"),
        ("fal-ai/veo3", {"auto_fix": 1}, "metadata.auto_fix"),
        (RAY, {"loop": "true"}, "metadata.loop"),
        ("fal-ai/minimax/hailuo-02/standard/text-to-video", {"prompt_optimizer": 0}, None),
        (RAY, {"cfg_scale": 0.5}, "metadata.cfg_scale"),  # not Ray's option
    ],
)
def test_bad_options_are_refused_before_a_job(
    model: str, options: dict[str, Any], param: str | None
) -> None:
    name = next(iter(options))
    caught = rejects(param or f"metadata.{name}", model, options=options)
    assert caught.code in ("invalid_value", "unknown_parameter")


def test_option_values_are_named_with_what_they_take() -> None:
    caught = rejects("metadata.cfg_scale", KLING, size=(1920, 1080), options={"cfg_scale": 2})
    assert caught.message == (
        "Invalid value for 'metadata.cfg_scale': 2; expected a number from 0 to 1."
    )
    assert resolved(KLING, size=(1920, 1080), options={"cfg_scale": 1}).options == {"cfg_scale": 1}


def test_any_model_generic_fields_and_deployment_options() -> None:
    model = "fal-ai/wan/v2.2-a14b/text-to-video"
    req = resolved(model, seconds=4, size=(854, 480), seed=3, options={"fps": 16})
    assert submit(req).json == {
        "prompt": "a lighthouse at dusk",
        "duration": "4",
        "aspect_ratio": "16:9",
        "resolution": "480p",
        "seed": 3,
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
    both = resolved(model, seconds=4, size=(854, 480), image=PNG, last_frame=PNG)
    call = submit(both, dep)
    assert call.json["duration"] == 4 and "resolution" not in call.json
    assert call.json["end_image_url"] == Inline(
        dataclasses.replace(PNG, param="metadata.last_frame"), "data_uri"
    )
    assert call.params == {"fal_max_queue_length": "5"}
    # what a deployment's options say is checked by its adapter, when the request is sent
    with pytest.raises(InvalidRequest) as last:
        submit(both)
    assert last.value.param == "metadata.last_frame"
    no_image = deployment(model, options={"image_field": None})
    with pytest.raises(InvalidRequest) as first:
        submit(resolved(model, image=PNG), no_image)
    assert first.value.param == "input_reference"
    with pytest.raises(InvalidRequest):
        submit(req, deployment(model, options={"duration_format": "weird"}))


def test_options_cannot_overwrite_mapped_fields() -> None:
    with pytest.raises(InvalidRequest) as info:
        submit(resolved("a/b", options={"duration": "9"}))
    assert info.value.param == "metadata.duration"
    none = deployment("a/b", options={"duration_format": "none"})
    assert submit(resolved("a/b", options={"duration": "9"}), none).json["duration"] == "9"


def test_remix_edit_extend_have_no_fal_equivalent() -> None:
    for operation in ("remix", "edit", "extend"):
        with pytest.raises(UnsupportedOperation):
            resolved(operation=operation)
        for caps in [*MODELS.values(), SPEC.any_model]:
            assert caps is not None and operation not in caps.operations


def test_app_paths_and_ids() -> None:
    assert app_path("fal-ai/kling-video/v2/master/text-to-video") == "fal-ai/kling-video"
    assert app_path("fal-ai/veo3") == "fal-ai/veo3"
    assert app_path("workflows/me/flow/run") == "workflows/me/flow"
    with pytest.raises(InvalidRequest):
        app_path("veo3")
    with pytest.raises(InvalidRequest) as caught:
        submit(request(upstream_model="veo3"), deployment("veo3"))
    assert caught.value.param == "model"
    assert split_id(UID) == ("fal-ai/luma-dream-machine", RID, None)
    assert split_id(RESULT_UID) == ("fal-ai/luma-dream-machine", RID, "result")
    for bad in ("no-separator", "|x", "a/b|", "a|b|c|result"):
        with pytest.raises(NotFound):
            split_id(bad)


# --- replies ---------------------------------------------------------------------------


def test_submit_reply_prefers_the_urls_fal_returns() -> None:
    bound, sent = adapter(), submitted(request())
    body = {
        "request_id": RID,
        "response_url": f"https://queue.fal.run/fal-ai/luma-dream-machine/requests/{RID}",
        "status_url": f"https://queue.fal.run/fal-ai/luma-dream-machine/requests/{RID}/status",
        "cancel_url": f"https://queue.fal.run/fal-ai/luma-dream-machine/requests/{RID}/cancel",
        "queue_position": 0,
    }
    state = bound.parse_state(reply(200, body), sent)
    assert (state.upstream_id, state.status, state.raw_status) == (UID, "queued", "IN_QUEUE")
    other = body | {"response_url": f"https://proxy.example/fal/owner/app/requests/{RID}"}
    assert bound.parse_state(reply(200, other), sent).upstream_id == f"owner/app|{RID}"
    # no urls: the first two segments of the model path the submit sent
    assert bound.parse_state(reply(200, {"request_id": RID}), sent).upstream_id == UID
    kling = submitted(request(upstream_model=KLING))
    assert bound.parse_state(reply(200, {"request_id": RID}), kling).upstream_id == (
        f"fal-ai/kling-video|{RID}"
    )
    with pytest.raises(UpstreamError):
        bound.parse_state(reply(200, {"queue_position": 0}), sent)


def test_poll_status_then_result_then_completed() -> None:
    bound = adapter()
    call = bound.build_poll(UID)
    assert (call.method, call.path) == (
        "GET",
        f"/fal-ai/luma-dream-machine/requests/{RID}/status",
    )
    queued = bound.parse_state(reply(202, {"status": "IN_QUEUE", "queue_position": 3}), POLL)
    assert (queued.upstream_id, queued.status, queued.progress) == (UID, "queued", 0)
    running = bound.parse_state(reply(202, {"status": "IN_PROGRESS", "logs": None}), POLL)
    assert running.status == "in_progress"
    seen = bound.parse_state(reply(200, {"status": "COMPLETED", "logs": None, "metrics": {}}), POLL)
    assert (seen.status, seen.raw_status, seen.progress) == ("in_progress", "COMPLETED", 99)
    assert seen.poll_after_s == 0.0
    # the step travels in the moved id the poller saves, not in the adapter
    assert seen.upstream_id == RESULT_UID
    call = bound.build_poll(seen.upstream_id)
    assert call.path == f"/fal-ai/luma-dream-machine/requests/{RID}"
    url = "https://v3.fal.media/files/x/output.mp4"
    done = bound.parse_state(reply(200, {"video": {"url": url}, "seed": 1}), RESULT)
    assert (done.status, done.progress, done.results) == ("completed", 100, {"video": url})
    assert done.upstream_id == RESULT_UID
    assert bound.build_poll(UID).path.endswith("/status")  # the same id polls the same way


def test_another_replica_continues_from_the_upstream_id_alone() -> None:
    first, second = adapter(), adapter()
    created = first.parse_state(reply(200, {"request_id": RID}), submitted(request()))
    seen = first.parse_state(
        reply(200, {"status": "COMPLETED"}), CallContext("poll", created.upstream_id)
    )
    # a fresh adapter (another replica, or after a restart) knows nothing but the saved id
    assert second.build_poll(seen.upstream_id).path == f"/fal-ai/luma-dream-machine/requests/{RID}"
    url = "https://v3.fal.media/files/x/output.mp4"
    asked = CallContext("poll", seen.upstream_id)
    done = second.parse_state(reply(200, {"video": {"url": url}}), asked)
    assert (done.status, done.results) == ("completed", {"video": url})
    cancel = second.build_delete(seen.upstream_id)
    assert cancel is not None and cancel.path == f"/fal-ai/luma-dream-machine/requests/{RID}/cancel"
    # a move that was not saved: the status is asked again and says COMPLETED again
    assert second.build_poll(created.upstream_id).path.endswith("/status")
    again = second.parse_state(reply(200, {"status": "COMPLETED"}), POLL)
    assert (again.status, again.upstream_id) == ("in_progress", RESULT_UID)


def test_unknown_status_is_still_running() -> None:
    state = adapter().parse_state(reply(202, {"status": "WARMING_UP"}), POLL)
    assert (state.status, state.raw_status) == ("in_progress", "WARMING_UP")


@pytest.mark.parametrize(
    "body",
    [{"seed": 1}, {"video": {"url": "file:///x"}}, {"video": None}, {"error": "boom"}],
)
def test_completed_without_video_is_a_failure(body: dict[str, Any]) -> None:
    state = adapter().parse_state(reply(200, body), RESULT)
    assert state.status == "failed"
    assert state.error_code in ("upstream_no_output", "upstream_failed")
    assert state.error_message


def test_completed_with_error_on_status_fails_at_once() -> None:
    body = {
        "status": "COMPLETED",
        "logs": None,
        "error": "flagged, see https://fal.ai/x",
        "error_type": "content_policy_violation",
    }
    state = adapter().parse_state(reply(200, body), POLL)
    assert (state.status, state.error_code, state.upstream_id) == (
        "failed",
        "moderation_blocked",
        UID,
    )
    assert "https://" not in (state.error_message or "")


def test_result_refused_with_422_is_the_failure_the_job_ends_with() -> None:
    detail = [{"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}]
    error = adapter().parse_error(reply(422, {"detail": detail}), RESULT)
    # the poller ends the job at once with the error's own code and message
    assert isinstance(error, TaskFailed) and error.code == "moderation_blocked"
    assert error.message == "fal failed the run: prompt: flagged"
    other = adapter().parse_error(reply(400, {"detail": "Request was cancelled."}), RESULT)
    assert isinstance(other, TaskFailed) and other.code == "upstream_failed"
    # the same reply to a status poll or a submit is not about a finished run
    assert type(adapter().parse_error(reply(422, {"detail": detail}), POLL)) is InvalidRequest


def test_result_fetch_transient_error_keeps_fetching() -> None:
    bound = adapter()
    error = bound.parse_error(reply(503, {"detail": "busy"}), RESULT)
    assert type(error) is UpstreamError
    assert not bound.build_poll(RESULT_UID).path.endswith("/status")


def test_failed_and_canceled_statuses() -> None:
    bound = adapter()
    failed = bound.parse_state(reply(200, {"status": "FAILED", "error": "runner died"}), POLL)
    assert (failed.status, failed.error_code) == ("failed", "upstream_failed")
    assert failed.error_message == "fal failed the run: runner died"
    canceled = bound.parse_state(reply(200, {"status": "CANCELED"}), POLL)
    assert (canceled.status, canceled.error_code) == ("failed", "cancelled")
    assert canceled.error_message == "The request was cancelled at fal."


def test_malformed_replies_are_upstream_errors() -> None:
    for body in ('{"status": "IN_PROG', {}, {"status": 3}):
        with pytest.raises(UpstreamError):
            adapter().parse_state(reply(200, body), POLL)


def test_download_and_cancel() -> None:
    bound = adapter()
    url = "https://v3.fal.media/files/x/output.mp4"
    plan = bound.build_download(RESULT_UID, "video", url)
    assert plan is not None and plan.call.path == url and plan.auth is False
    assert bound.build_download(UID, "thumbnail", url) is None
    assert bound.build_download(UID, "video", None) is None
    for upstream_id in (UID, RESULT_UID):
        call = bound.build_delete(upstream_id)
        assert call is not None and (call.method, call.path) == (
            "PUT",
            f"/fal-ai/luma-dream-machine/requests/{RID}/cancel",
        )


# --- errors ----------------------------------------------------------------------------


def test_422_names_the_parameter() -> None:
    bound, sent = adapter(), submitted(request())
    detail = [{"loc": ["body", "duration"], "msg": "unexpected value", "type": "literal_error"}]
    error = bound.parse_error(reply(422, {"detail": detail}), sent)
    assert isinstance(error, InvalidRequest) and error.param == "seconds"
    assert "duration: unexpected value" in error.message
    other = [{"loc": ["body", "cfg_scale"], "msg": "too big", "type": "x"}]
    assert bound.parse_error(reply(422, {"detail": other}), sent).param == "metadata.cfg_scale"
    plain = bound.parse_error(reply(400, {"detail": "bad input at https://secret.host/x"}), sent)
    assert isinstance(plain, InvalidRequest) and "secret.host" not in plain.message


def test_error_classes() -> None:
    bound = adapter()
    assert isinstance(bound.parse_error(reply(401, {"detail": "no"}), POLL), UpstreamAuthError)
    assert isinstance(bound.parse_error(reply(403, {"detail": "no"}), POLL), UpstreamAuthError)
    assert isinstance(bound.parse_error(reply(404, {"detail": "gone"}), POLL), NotFound)
    limited = bound.parse_error(reply(429, {"detail": "slow"}, **{"retry-after": "7"}), POLL)
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 7
    assert isinstance(bound.parse_error(reply(500, "<html>"), POLL), UpstreamError)
    assert isinstance(bound.parse_error(reply(502, {"detail": "x"}), POLL), UpstreamError)
