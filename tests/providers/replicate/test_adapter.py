"""The pure Replicate adapter: requests built and replies parsed as data, no network; the
checks before any job go through ``resolve``."""

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
from vidgate.providers.replicate import PROVIDER
from vidgate.providers.replicate.adapter import ReplicateAdapter, output_url
from vidgate.providers.replicate.spec import ANY_MODEL, SEEDANCE_2, SIZES, SPEC
from vidgate.values import Asset, Deployment, ResolvedRequest

PID = "gm3qorzdhgbfurvjtvhg6dckhu"
SHA = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
PNG = Asset("blob", "inputs/u1/first.png", "image/png", "first.png", "d1")
LAST = Asset("url", "https://cdn.example.com/last.png")
URL = "https://replicate.delivery/xezq/abc/output.mp4"
POLL = CallContext("poll", PID)

deployment = deployment_maker(
    SPEC, "bytedance/seedance-2.0", "replicate-test", "https://api.replicate.com/v1", "r8_secret"
)


ADAPTER = ReplicateAdapter(deployment())

request = request_maker("a lighthouse at dusk", "bytedance/seedance-2.0", 5, (1280, 720))
RESOLVER = Resolver(SPEC, "bytedance/seedance-2.0", "a lighthouse at dusk", model_name="m")
resolved, rejects = RESOLVER.resolved, RESOLVER.rejects


def submit(req: ResolvedRequest, dep: Deployment | None = None) -> Any:
    return ReplicateAdapter(dep or deployment(req.upstream_model)).build_submit(req, "idem")


def prediction(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": PID, "status": status, "model": "acme/v", "output": None, **fields}


# --- spec ---------------------------------------------------------------------------


def test_spec_is_registered_with_any_model() -> None:
    assert PROVIDER.spec is SPEC and SPEC.default_api_base == "https://api.replicate.com/v1"
    assert PROVIDER.adapter is not None
    assert isinstance(PROVIDER.adapter(deployment()), ReplicateAdapter)
    assert SPEC.env == {"api_key": "REPLICATE_API_TOKEN"}
    assert SPEC.capabilities("someone/some-video") is ANY_MODEL
    assert ANY_MODEL.any_options
    assert SPEC.capabilities(f"bytedance/seedance-2.0:{SHA}") is SEEDANCE_2
    assert set(SPEC.status_map) == {
        "starting",
        "processing",
        "succeeded",
        "failed",
        "canceled",
        "aborted",
    }
    assert SPEC.map_status("booting") == "in_progress"
    for model in SPEC.auto_models:
        caps = SPEC.models[model]
        assert caps.default_size in caps.sizes and set(caps.sizes) <= set(SIZES)


@pytest.mark.parametrize(
    ("size", "ratio", "tier"),
    [
        ("1280x720", "16:9", "720p"),
        ("720x1280", "9:16", "720p"),
        ("1920x1080", "16:9", "1080p"),
        ("854x480", "16:9", "480p"),
        ("720x720", "1:1", "720p"),
    ],
)
def test_size_maps_to_aspect_ratio_and_resolution(size: str, ratio: str, tier: str) -> None:
    width, height = (int(v) for v in size.split("x"))
    call = submit(resolved("acme/video", size=(width, height)))
    assert call.json["input"]["aspect_ratio"] == ratio
    assert call.json["input"]["resolution"] == tier


# --- submit -------------------------------------------------------------------------


def test_official_model_uses_the_models_path() -> None:
    call = submit(resolved(seed=7, audio=False))
    assert (call.method, call.path) == ("POST", "/models/bytedance/seedance-2.0/predictions")
    assert call.json == {
        "input": {
            "prompt": "a lighthouse at dusk",
            "duration": 5,
            "aspect_ratio": "16:9",
            "resolution": "720p",
            "seed": 7,
            "generate_audio": False,
        }
    }
    assert "Prefer" not in call.headers and "version" not in call.json
    assert submit(resolved()).json["input"]["generate_audio"] is True  # the model's default


def test_pinned_version_uses_predictions_with_version() -> None:
    call = submit(request(upstream_model=f"acme/clouds:{SHA}"))
    assert call.path == "/predictions" and call.json["version"] == f"acme/clouds:{SHA}"
    bare = submit(request(upstream_model=SHA))
    assert bare.path == "/predictions" and bare.json["version"] == SHA


def test_bad_model_reference_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as caught:
        submit(request(upstream_model="no-owner"))
    assert caught.value.param == "model"


def test_images_go_inline_or_as_urls_under_the_models_names() -> None:
    seedance = submit(
        resolved(image=PNG, last_frame=LAST, reference_images=[LAST], audio=False)
    ).json["input"]
    assert seedance["image"] == Inline(PNG, "data_uri")
    assert seedance["last_frame_image"] == LAST.value
    assert seedance["reference_images"] == [LAST.value]
    assert seedance["generate_audio"] is False
    vidu = submit(resolved("vidu/q3-turbo", image=PNG, last_frame=LAST, audio=True))
    assert vidu.json["input"]["start_image"] == Inline(PNG, "data_uri")
    assert vidu.json["input"]["end_image"] == LAST.value and vidu.json["input"]["audio"] is True
    http_image = Asset("url", "http://insecure.example/a.png")
    inline = submit(resolved(image=http_image))
    assert inline.json["input"]["image"] == Inline(http_image, "data_uri")
    rejects("input_reference", image=Asset("file_id", "f1"))


def test_fixed_model_sends_only_what_it_takes() -> None:
    req = resolved("minimax/video-01", image=PNG, options={"prompt_optimizer": False})
    assert submit(req).json["input"] == {
        "prompt": "a lighthouse at dusk",
        "first_frame_image": Inline(PNG, "data_uri"),
        "prompt_optimizer": False,
    }
    rejects("seed", "minimax/video-01", seed=3)
    rejects("metadata.negative_prompt", "minimax/video-01", negative_prompt="blur")


def test_seedance_reference_media() -> None:
    videos = ["https://cdn.example.com/a.mp4", "https://cdn.example.com/b.mp4"]
    audio = ["data:audio/wav;base64,UklGRg=="]
    options = {"reference_videos": videos, "reference_audios": audio}
    body = submit(resolved(image=PNG, options=options)).json["input"]
    assert body["reference_videos"] == videos and body["reference_audios"] == audio


@pytest.mark.parametrize(
    ("model", "options", "param"),
    [
        ("bytedance/seedance-2.0", {"reference_videos": "https://x/a.mp4"}, "reference_videos"),
        ("bytedance/seedance-2.0", {"reference_videos": ["https://x/a.mp4"] * 4}, None),
        ("bytedance/seedance-2.0", {"reference_audios": [3]}, "reference_audios"),
        ("bytedance/seedance-2.0", {"reference_audios": ["file.wav"]}, "reference_audios"),
        ("minimax/video-01", {"prompt_optimizer": "no"}, "prompt_optimizer"),
        ("vidu/q3-turbo", {"loop": True}, "loop"),  # not an option of this model
    ],
)
def test_bad_options_are_refused_before_a_job(
    model: str, options: dict[str, Any], param: str | None
) -> None:
    name = param or next(iter(options))
    caught = rejects(f"metadata.{name}", model, options=options)
    assert caught.code in ("invalid_value", "unknown_parameter")


def test_option_refusals_say_what_the_option_takes() -> None:
    caught = rejects(
        "metadata.prompt_optimizer", "minimax/video-01", options={"prompt_optimizer": 1}
    )
    assert caught.message == (
        "Invalid value for 'metadata.prompt_optimizer': 1; expected true or false."
    )
    many = rejects("metadata.reference_audios", options={"reference_audios": ["https://a"] * 4})
    assert "a list of at most 3 items" in many.message


def test_any_model_forwards_extras_and_negative_prompt() -> None:
    req = resolved(
        "acme/video", negative_prompt="blur", options={"num_inference_steps": 30, "loop": True}
    )
    body = submit(req).json["input"]
    assert body["negative_prompt"] == "blur"
    assert body["num_inference_steps"] == 30 and body["loop"] is True
    with pytest.raises(InvalidRequest) as caught:
        submit(resolved("acme/video", options={"duration": 9}))
    assert caught.value.param == "metadata.duration"


def test_input_keys_option_renames_and_drops() -> None:
    dep = deployment(
        "acme/video", options={"input_keys": {"first_frame": "start_image", "resolution": None}}
    )
    body = submit(resolved("acme/video", image=LAST), dep).json["input"]
    assert body["start_image"] == LAST.value and "image" not in body and "resolution" not in body
    # what the deployment dropped is checked by its adapter, when the request is sent
    no_seed = deployment("acme/video", options={"input_keys": {"seed": None}})
    with pytest.raises(InvalidRequest) as caught:
        submit(resolved("acme/video", seed=3), no_seed)
    assert caught.value.param == "seed"
    renamed = deployment("acme/video", options={"input_keys": {"duration": "length"}})
    assert submit(resolved("acme/video", options={"duration": 9}), renamed).json["input"] == {
        "prompt": "a lighthouse at dusk",
        "length": 5,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "duration": 9,
    }


def test_cancel_after_option_becomes_a_header() -> None:
    call = submit(request(), deployment(options={"cancel_after": "30m"}))
    assert call.headers == {"Cancel-After": "30m"}
    assert submit(request(), deployment(options={"cancel_after": 90})).headers == {
        "Cancel-After": "90s"
    }
    with pytest.raises(InvalidRequest):
        submit(request(), deployment(options={"cancel_after": "soon"}))


def test_other_operations_are_unsupported() -> None:
    with pytest.raises(UnsupportedOperation):
        resolved(operation="remix")


def test_auth_poll_cancel_download() -> None:
    assert ADAPTER.auth_headers(None) == {"Authorization": "Bearer r8_secret"}
    assert ReplicateAdapter(deployment(api_key=None)).auth_headers(None) == {}
    poll = ADAPTER.build_poll(PID)
    assert (poll.method, poll.path) == ("GET", f"/predictions/{PID}")
    cancel = ADAPTER.build_delete(PID)
    assert cancel is not None and (cancel.method, cancel.path) == (
        "POST",
        f"/predictions/{PID}/cancel",
    )
    download = ADAPTER.build_download(PID, "video", URL)
    assert download is not None and download.call.path == URL and download.auth is False
    assert ADAPTER.build_download(PID, "thumbnail", URL) is None
    assert ADAPTER.build_download(PID, "video", None) is None


# --- parse_state --------------------------------------------------------------------


def test_starting_and_processing() -> None:
    queued = ADAPTER.parse_state(reply(200, prediction("starting")), POLL)
    assert (queued.upstream_id, queued.status, queued.progress) == (PID, "queued", 0)
    logs = "step\n 10%|#  | 10/100\n 42%|####      | 42/100 [00:04<00:05]\n"
    running = ADAPTER.parse_state(reply(200, prediction("processing", logs=logs)), POLL)
    assert (running.status, running.progress, running.raw_status) == (
        "in_progress",
        42,
        "processing",
    )
    assert ADAPTER.parse_state(reply(200, prediction("processing", logs=None)), POLL).progress == 0


def test_unknown_status_is_still_running() -> None:
    state = ADAPTER.parse_state(reply(200, prediction("booting")), POLL)
    assert state.status == "in_progress" and state.raw_status == "booting"


@pytest.mark.parametrize("output", [URL, [URL, "https://replicate.delivery/other.mp4"]])
def test_succeeded_with_a_url_or_a_list(output: Any) -> None:
    body = prediction("succeeded", output=output, metrics={"predict_time": 68.1})
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert state.status == "completed" and state.progress == 100
    assert state.results == {"video": URL} and state.cost_units is None


def test_hardware_billing_reports_predict_time() -> None:
    bound = ReplicateAdapter(deployment(options={"hardware_billing": True}))
    body = prediction("succeeded", output=URL, metrics={"predict_time": 68.1})
    assert bound.parse_state(reply(200, body), POLL).cost_units == pytest.approx(68.1)
    assert (
        ADAPTER.hardware_billing is False
        and ADAPTER.parse_state(reply(200, body), POLL).cost_units is None
    )
    missing = prediction("succeeded", output=None, metrics={"predict_time": 3.5})
    assert bound.parse_state(reply(200, missing), POLL).cost_units == pytest.approx(3.5)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (prediction("succeeded", output=None), "upstream_no_output"),
        (prediction("succeeded", output=[]), "upstream_no_output"),
        (prediction("succeeded", output={"video": URL}), "upstream_no_output"),
        (prediction("succeeded", output=URL, data_removed=True), "upstream_output_expired"),
    ],
)
def test_succeeded_without_a_result_is_a_failure(body: dict[str, Any], code: str) -> None:
    state = ADAPTER.parse_state(reply(200, body), POLL)
    assert state.status == "failed" and state.error_code == code and state.error_message


def test_failed_canceled_aborted() -> None:
    flagged = "The input or output was flagged as sensitive. (E005) see https://x.example/doc"
    failed = ADAPTER.parse_state(reply(200, prediction("failed", error=flagged)), POLL)
    assert failed.status == "failed" and failed.error_code == "moderation_blocked"
    assert failed.error_message is not None and "x.example" not in failed.error_message
    crash = ADAPTER.parse_state(reply(200, prediction("failed", error="CUDA out of memory")), POLL)
    assert crash.error_code == "upstream_failed" and crash.error_message == "CUDA out of memory"
    assert ADAPTER.parse_state(reply(200, prediction("failed")), POLL).error_message
    canceled = ADAPTER.parse_state(reply(200, prediction("canceled")), POLL)
    assert (canceled.status, canceled.error_code) == ("failed", "cancelled")
    aborted = ADAPTER.parse_state(reply(200, prediction("aborted")), POLL)
    assert (aborted.status, aborted.error_code) == ("failed", "upstream_aborted")


@pytest.mark.parametrize(
    "body", [{}, {"id": PID}, '{"id":"x","stat', [], {"id": "", "status": "x"}]
)
def test_malformed_bodies_raise(body: Any) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_state(reply(200, body), POLL)


def test_output_url() -> None:
    assert output_url(URL) == URL and output_url([URL]) == URL
    assert output_url(["data:video/mp4;base64,AA"]) is None and output_url(None) is None


# --- parse_error --------------------------------------------------------------------


def problem(status: int, detail: str, **extra: Any) -> dict[str, Any]:
    return {"title": "t", "detail": detail, "status": status, **extra}


SENT = CallContext("submit", None, request())


def test_422_names_the_parameter() -> None:
    body = problem(
        422,
        "- input.duration: duration must be one of the following: 5, 10",
        invalid_fields=[{"type": "enum", "field": "input.duration", "description": "..."}],
    )
    error = ADAPTER.parse_error(reply(422, body), SENT)
    assert isinstance(error, InvalidRequest) and error.param == "seconds"
    assert "duration must be one of" in error.message
    by_text = ADAPTER.parse_error(reply(422, problem(422, "- input.start_image: bad uri")), SENT)
    assert by_text.param == "input_reference"
    extra = ADAPTER.parse_error(reply(422, problem(422, "- input.loop: bad")), SENT)
    assert extra.param == "metadata.loop"
    version = ADAPTER.parse_error(
        reply(422, problem(422, "Invalid version or not permitted")), SENT
    )
    assert version.param == "model"
    assert isinstance(ADAPTER.parse_error(reply(400, "oops"), SENT), InvalidRequest)


def test_422_reads_the_deployments_own_input_names() -> None:
    renamed = deployment("acme/video", options={"input_keys": {"first_frame": "init_video"}})
    adapter = ReplicateAdapter(renamed)
    sent = CallContext("submit", None, request(upstream_model="acme/video"))
    error = adapter.parse_error(reply(422, problem(422, "- input.init_video: bad uri")), sent)
    assert error.param == "input_reference"
    assert ADAPTER.parse_error(reply(422, problem(422, "- input.init_video: x")), SENT).param == (
        "metadata.init_video"
    )


def test_error_classes() -> None:
    auth = ADAPTER.parse_error(reply(401, problem(401, "You did not pass a valid token")), POLL)
    assert isinstance(auth, UpstreamAuthError) and "r8_" not in auth.message
    assert isinstance(ADAPTER.parse_error(reply(403, problem(403, "no")), POLL), UpstreamAuthError)
    credit = ADAPTER.parse_error(reply(402, problem(402, "Monthly spend limit reached")), SENT)
    assert isinstance(credit, UpstreamError) and credit.code == "upstream_insufficient_credits"
    assert isinstance(ADAPTER.parse_error(reply(404, problem(404, "Not found")), POLL), NotFound)
    server = ADAPTER.parse_error(reply(500, problem(500, "boom")), POLL)
    assert type(server) is UpstreamError and server.retryable


def test_429_retry_after_from_header_or_body() -> None:
    header = ADAPTER.parse_error(
        reply(429, problem(429, "throttled"), **{"retry-after": "7"}), SENT
    )
    assert isinstance(header, RateLimited) and header.retry_after_s == 7
    body = ADAPTER.parse_error(reply(429, problem(429, "throttled", retry_after=3)), SENT)
    assert isinstance(body, RateLimited) and body.retry_after_s == 3
