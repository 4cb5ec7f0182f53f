"""The DashScope simulator, driven over real HTTP on loopback by the official ``dashscope`` SDK."""

from __future__ import annotations

import re
from typing import Any

import dashscope
import httpx
import pytest
from dashscope import VideoSynthesis

from tests.providers.simulators import SimSetup
from tests.support import png_uri, serve, video_shape, wait_for
from vidgate.providers.wan.simulator import SimState, SimulatorConfig, create_app

KEY = "sk-" + "ab" * 16
FAST = SimulatorConfig(api_key=KEY, job_seconds=0.4, queued_seconds=0.15)
SIMULATOR = SimSetup(create_app, FAST, headers={"Authorization": f"Bearer {KEY}"})
CST_MS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"


@pytest.fixture
def state(state: SimState, base_url: str, monkeypatch: pytest.MonkeyPatch) -> SimState:
    """The reset simulator, and the ``dashscope`` SDK pointed at it."""
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{base_url}/api/v1")
    return state


def finished(task_id: str) -> Any:
    def check() -> Any:
        rsp = VideoSynthesis.fetch(task_id, api_key=KEY)
        status = rsp.output.task_status
        return rsp if status not in ("PENDING", "RUNNING", "PREPARING") else None

    return wait_for(check)


# --- the happy paths, as the SDK sees them ------------------------------------------------


def test_text_to_video_lifecycle(state: SimState, base_url: str) -> None:
    rsp = VideoSynthesis.async_call(
        model="wan2.5-t2v-preview",
        prompt="a tram crossing a snowy bridge",
        negative_prompt="blurry",
        size="832*480",
        duration=5,
        seed=42,
        prompt_extend=False,
        watermark=False,
        audio=False,
        api_key=KEY,
    )
    assert rsp.status_code == 200, rsp
    assert rsp.output.task_status == "PENDING" and rsp.request_id
    task = state.tasks[rsp.output.task_id]
    assert task.headers["authorization"] == f"Bearer {KEY}"
    assert task.headers["x-dashscope-async"] == "enable"
    assert task.body["input"]["negative_prompt"] == "blurry"
    assert task.body["parameters"] == {
        "size": "832*480",
        "duration": 5,
        "seed": 42,
        "prompt_extend": False,
        "watermark": False,
        "audio": False,
    }
    running = VideoSynthesis.fetch(rsp, api_key=KEY)
    assert running.output.task_status in ("PENDING", "RUNNING")
    done = finished(rsp.output.task_id)
    out = done.output
    assert out.task_status == "SUCCEEDED"
    assert out.orig_prompt == "a tram crossing a snowy bridge" and "actual_prompt" not in out
    assert all(CST_MS.match(out[k]) for k in ("submit_time", "scheduled_time", "end_time"))
    assert done.usage.video_duration == 5 and done.usage.video_count == 1
    assert done.usage["SR"] == 480 and done.usage.video_ratio == "832*480"
    assert out.video_url.startswith(f"{base_url}/results/") and "Signature=" in out.video_url
    video = httpx.get(out.video_url)  # no Authorization: the URL is signed
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    width, height, seconds = video_shape(video.content)
    assert (width, height) == (832, 480) and seconds == pytest.approx(5, abs=0.2)


def test_wait_returns_the_finished_task(state: SimState) -> None:
    rsp = VideoSynthesis.async_call(model="wan2.1-t2v-turbo", prompt="waves", api_key=KEY)
    done = VideoSynthesis.wait(rsp, api_key=KEY)
    assert done.output.task_status == "SUCCEEDED" and done.output.video_url
    # Older models report usage.duration, not video_duration, and no SR.
    assert done.usage["duration"] == 5 and done.usage.video_ratio == "1280*720"
    assert "SR" not in done.usage and done.output.actual_prompt.startswith("waves")


def test_image_to_video_takes_a_data_uri_and_a_resolution(state: SimState) -> None:
    rsp = VideoSynthesis.async_call(
        model="wan2.2-i2v-flash",
        prompt="the flag waves",
        img_url=png_uri(90, 160),
        resolution="720P",
        api_key=KEY,
    )
    assert rsp.status_code == 200, rsp
    task = state.tasks[rsp.output.task_id]
    assert task.body["input"]["img_url"].startswith("data:image/png;base64,")
    # The output keeps the image's portrait aspect at the 720P tier.
    assert (task.checked.width, task.checked.height) == (720, 1280)
    assert finished(rsp.output.task_id).usage.video_ratio == "720*1280"


def test_first_and_last_frame_models_use_the_image2video_path(state: SimState) -> None:
    rsp = VideoSynthesis.async_call(
        model="wan2.2-kf2v-flash",
        prompt="from dawn to dusk",
        first_frame_url=png_uri(64, 64),
        last_frame_url="https://example.com/last.png",
        resolution="480P",
        api_key=KEY,
    )
    assert rsp.status_code == 200, rsp
    task = state.tasks[rsp.output.task_id]
    assert task.endpoint == "image2video"
    assert (task.checked.width, task.checked.height) == (624, 624)
    assert [e["path"] for e in state.log if e["method"] == "POST"] == [
        "/api/v1/services/aigc/image2video/video-synthesis"
    ]


def test_cancel_only_a_pending_task(state: SimState) -> None:
    pending = VideoSynthesis.async_call(model="wan2.6-t2v", prompt="[sim:slow] wait", api_key=KEY)
    canceled = VideoSynthesis.cancel(pending, api_key=KEY)
    assert canceled.status_code == 200 and canceled.request_id
    after = VideoSynthesis.fetch(pending, api_key=KEY)
    assert after.output.task_status == "CANCELED" and CST_MS.match(after.output.end_time)
    done = VideoSynthesis.async_call(model="wan2.6-t2v", prompt="quick", duration=2, api_key=KEY)
    finished(done.output.task_id)
    refused = VideoSynthesis.cancel(done, api_key=KEY)
    assert (refused.status_code, refused.code) == (400, "UnsupportedOperation")
    assert "PENDING" in refused.message


# --- refusals ------------------------------------------------------------------------------


def test_bad_or_missing_key_is_invalid_api_key(state: SimState, base_url: str) -> None:
    rsp = VideoSynthesis.async_call(model="wan2.5-t2v-preview", prompt="x", api_key="sk-wrong")
    assert (rsp.status_code, rsp.code) == (401, "InvalidApiKey")
    assert rsp.message == "Invalid API-key provided."
    bare = httpx.get(f"{base_url}/api/v1/tasks/abc")
    assert bare.status_code == 401 and bare.json()["code"] == "InvalidApiKey"
    assert set(bare.json()) == {"request_id", "code", "message"}


def test_create_without_the_async_header_is_refused(http: httpx.Client) -> None:
    body = {"model": "wan2.5-t2v-preview", "input": {"prompt": "sync please"}}
    response = http.post(CREATE, json=body)
    assert response.status_code == 403
    assert response.json()["code"] == "AccessDenied"
    assert response.json()["message"] == "current user api does not support synchronous calls"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"model": "wan2.1-t2v-plus", "size": "1920*1080"}, "parameters.size"),
        ({"model": "wan2.5-t2v-preview", "duration": 7}, "parameters.duration"),
        ({"model": "wan2.6-t2v", "size": "832*480"}, "parameters.size"),
        ({"model": "wan2.5-t2v-preview", "seed": 2**31}, "parameters.seed"),
        (
            {"model": "wan2.2-i2v-plus", "img_url": "https://e.com/a.png", "resolution": "720P"},
            "parameters.resolution",
        ),
        ({"model": "wan2.5-i2v-preview"}, "input.img_url"),
        ({"model": "wan2.2-kf2v-flash"}, "input.first_frame_url"),
        ({"model": "wan9-t2v"}, "Model not exist"),
        (
            {"model": "wan2.5-i2v-preview", "img_url": "data:text/plain;base64,aGk="},
            "input.img_url",
        ),
    ],
)
def test_invalid_parameters_are_400s(state: SimState, kwargs: dict[str, Any], needle: str) -> None:
    rsp = VideoSynthesis.async_call(prompt="refused", api_key=KEY, **kwargs)
    assert (rsp.status_code, rsp.code) == (400, "InvalidParameter"), rsp
    assert needle in rsp.message
    assert state.tasks == {}


def test_models_live_on_their_own_endpoint(http: httpx.Client, state: SimState) -> None:
    headers = {"X-DashScope-Async": "enable"}
    body = {
        "model": "wan2.2-kf2v-flash",
        "input": {"prompt": "x", "first_frame_url": "https://e.com/a"},
    }
    wrong = http.post(CREATE, json=body, headers=headers)
    assert wrong.status_code == 400 and wrong.json()["message"] == "Model not exist."
    body = {"model": "wan2.5-t2v-preview", "input": {"prompt": "x"}}
    other = http.post(
        "/api/v1/services/aigc/image2video/video-synthesis", json=body, headers=headers
    )
    assert other.status_code == 400 and other.json()["code"] == "InvalidParameter"


def test_unknown_and_expired_tasks_are_unknown() -> None:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.1, task_ttl_s=0.3)
    with serve(create_app(config)) as url, pytest.MonkeyPatch.context() as patch:
        patch.setattr(dashscope, "base_http_api_url", f"{url}/api/v1")
        never = VideoSynthesis.wait("0f2c1e0a-0000-4000-8000-000000000000", api_key=KEY)
        assert never.status_code == 200 and never.output.task_status == "UNKNOWN"
        rsp = VideoSynthesis.async_call(model="wan2.1-t2v-turbo", prompt="old", api_key=KEY)
        assert VideoSynthesis.fetch(rsp, api_key=KEY).output.task_status != "UNKNOWN"
        wait_for(lambda: VideoSynthesis.fetch(rsp, api_key=KEY).output.task_status == "UNKNOWN")


def test_result_urls_are_signed_and_expire(state: SimState) -> None:
    rsp = VideoSynthesis.async_call(model="wan2.1-t2v-turbo", prompt="sign", api_key=KEY)
    url = finished(rsp.output.task_id).output.video_url
    tampered = httpx.get(re.sub(r"Signature=[0-9a-f]+", "Signature=00", url))
    assert tampered.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in tampered.text
    config = SimulatorConfig(api_key=KEY, job_seconds=0.05, url_ttl_s=-1)
    with serve(create_app(config)) as other, pytest.MonkeyPatch.context() as patch:
        patch.setattr(dashscope, "base_http_api_url", f"{other}/api/v1")
        task = VideoSynthesis.async_call(model="wan2.1-t2v-turbo", prompt="gone", api_key=KEY)
        expired = httpx.get(finished(task.output.task_id).output.video_url)
        assert expired.status_code == 403 and "Request has expired" in expired.text


# --- fault markers -------------------------------------------------------------------------


def test_fail_marker_is_a_failed_task(state: SimState) -> None:
    rsp = VideoSynthesis.async_call(model="wan2.5-t2v-preview", prompt="[sim:fail] x", api_key=KEY)
    done = finished(rsp.output.task_id)
    assert done.output.task_status == "FAILED"
    assert done.output.code == "DataInspectionFailed" and done.output.message
    assert done.usage is None and not done.output.video_url


@pytest.mark.parametrize(
    ("marker", "status", "code"),
    [("429", 429, "Throttling.RateQuota"), ("500", 500, "InternalError")],
)
def test_create_faults(state: SimState, marker: str, status: int, code: str) -> None:
    rsp = VideoSynthesis.async_call(
        model="wan2.5-t2v-preview", prompt=f"[sim:{marker}] x", api_key=KEY
    )
    assert (rsp.status_code, rsp.code) == (status, code) and rsp.request_id
    assert state.tasks == {}


def test_429_carries_a_retry_after_only_when_configured(base_url: str, state: SimState) -> None:
    body = {"model": "wan2.5-t2v-preview", "input": {"prompt": "[sim:429] x"}}
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    plain = httpx.post(f"{base_url}{CREATE}", json=body, headers=headers)
    assert plain.status_code == 429 and "retry-after" not in plain.headers
    config = SimulatorConfig(api_key=KEY, retry_after="3")
    with serve(create_app(config)) as url:
        told = httpx.post(f"{url}{CREATE}", json=body, headers=headers)
    assert told.status_code == 429 and told.headers["retry-after"] == "3"


def test_poll_faults(http: httpx.Client, state: SimState) -> None:
    ids = {}
    for marker in ("unknown-status", "malformed", "poll-429"):
        rsp = VideoSynthesis.async_call(
            model="wan2.5-t2v-preview", prompt=f"[sim:{marker}] x", size="832*480", api_key=KEY
        )
        ids[marker] = rsp.output.task_id
    malformed = http.get(f"/api/v1/tasks/{ids['malformed']}")
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        malformed.json()
    limited = http.get(f"/api/v1/tasks/{ids['poll-429']}")
    assert limited.status_code == 429 and limited.json()["code"] == "Throttling.RateQuota"
    seen = wait_for(
        lambda: (
            http.get(f"/api/v1/tasks/{ids['unknown-status']}").json()["output"]["task_status"]
            == "PREPARING"
        )
    )
    assert seen
    for task_id in ids.values():
        assert finished(task_id).output.task_status == "SUCCEEDED"


def test_hang_answers_late_and_slow_stays_pending_longer() -> None:
    config = SimulatorConfig(api_key=KEY, hang_seconds=0.3, queued_seconds=0.2)
    with serve(create_app(config)) as url, pytest.MonkeyPatch.context() as patch:
        patch.setattr(dashscope, "base_http_api_url", f"{url}/api/v1")
        rsp = VideoSynthesis.async_call(model="wan2.6-t2v", prompt="[sim:hang] x", api_key=KEY)
        assert rsp.status_code == 200
        slow = VideoSynthesis.async_call(model="wan2.6-t2v", prompt="[sim:slow] x", api_key=KEY)
        assert VideoSynthesis.fetch(slow, api_key=KEY).output.task_status == "PENDING"
