"""The Vidu simulator over real HTTP on loopback, driven with plain httpx.

Vidu publishes no official Python SDK; its docs show raw HTTP (curl) with
``Authorization: Token <key>``, so that is how these tests talk to the simulator. Replies are
checked against the shapes of the documented examples in the reference.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.providers.simulators import SimSetup
from tests.support import png_uri, video_shape, wait_for
from vidgate.providers.vidu.simulator import SimState, SimulatorConfig, create_app

KEY = "vda_" + "ab" * 24
FAST = SimulatorConfig(api_key=KEY, job_seconds=0.6, queued_seconds=0.3)
SIMULATOR = SimSetup(create_app, FAST, headers={"Authorization": f"Token {KEY}"}, path="/ent/v2")
CREATE_KEYS = {  # the documented create reply (reference), plus bgm / watermark
    "task_id", "state", "model", "prompt", "duration", "seed", "aspect_ratio", "resolution",
    "movement_amplitude", "payload", "off_peak", "credits", "created_at", "bgm", "watermark",
}  # fmt: skip
QUERY_KEYS = {"id", "state", "err_code", "credits", "payload", "bgm", "off_peak", "creations"}
ERROR_KEYS = {"code", "reason", "message", "metadata"}


def create(client: httpx.Client, endpoint: str = "text2video", **body: Any) -> httpx.Response:
    payload = {"model": "viduq2", "prompt": "A koi pond in autumn"} | body
    return client.post(f"/{endpoint}", json=payload)


def query(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.get(f"/tasks/{task_id}/creations")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def finished(client: httpx.Client, task_id: str) -> dict[str, Any]:
    return wait_for(  # type: ignore[no-any-return]
        lambda: (b := query(client, task_id))["state"] in ("success", "failed") and b, timeout=15
    )


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS and body["code"] == body["reason"] == code
    assert isinstance(body["message"], str) and body["metadata"]["trace_id"]
    return body


# --- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, f"Bearer {KEY}", "Token wrong", KEY])
def test_anything_but_the_token_scheme_is_a_401(
    base_url: str, state: SimState, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.post(
        f"{base_url}/ent/v2/text2video", json={"model": "viduq2", "prompt": "x"}, headers=headers
    )
    assert_error(response, 401, "Unauthorized")
    assert state.tasks == {}


# --- text2video lifecycle ----------------------------------------------------------------


def test_text_to_video_lifecycle_and_result_urls(
    http: httpx.Client, base_url: str, state: SimState
) -> None:
    response = create(http, duration=2, aspect_ratio="9:16", resolution="540p", seed=1234)
    assert response.status_code == 200, response.text
    task = response.json()
    assert set(task) == CREATE_KEYS
    assert re.fullmatch(r"\d{18}", task["task_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", task["created_at"])
    assert (task["state"], task["model"], task["duration"], task["seed"]) == (
        "created", "viduq2", 2, 1234
    )  # fmt: skip
    assert (task["aspect_ratio"], task["resolution"], task["credits"]) == ("9:16", "540p", 4)
    assert (task["movement_amplitude"], task["payload"], task["off_peak"]) == ("auto", "", False)

    seen: list[str] = []

    def progressed() -> dict[str, Any] | None:
        body = query(http, task["task_id"])
        assert set(body) == QUERY_KEYS and body["id"] == task["task_id"]
        if not seen or seen[-1] != body["state"]:
            seen.append(body["state"])
        return body if body["state"] == "success" else None

    body = wait_for(progressed, timeout=15, interval=0.02)
    assert seen == ["created", "queueing", "processing", "success"]
    assert (body["err_code"], body["credits"]) == ("", 4)
    (creation,) = body["creations"]
    assert set(creation) == {"id", "url", "cover_url"}
    video = httpx.get(creation["url"])  # signed URLs, no auth header
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    width, height, seconds = video_shape(video.content)
    assert (width, height) == (540, 960) and seconds == pytest.approx(2, abs=0.2)
    cover = httpx.get(creation["cover_url"])
    assert Image.open(io.BytesIO(cover.content)).format == "JPEG"
    forged = httpx.get(creation["url"].split("?")[0] + "?sign=0")
    assert forged.status_code == 403
    assert state.tasks[task["task_id"]].headers["authorization"] == f"Token {KEY}"


def test_defaults_random_seed_watermark_and_off_peak(http: httpx.Client) -> None:
    response = create(http, model="viduq1", watermark=True, off_peak=True, bgm=True)
    task = response.json()
    assert (task["duration"], task["resolution"], task["aspect_ratio"]) == (5, "1080p", "16:9")
    assert task["seed"] > 0 and task["off_peak"] is True and task["credits"] == 4
    body = finished(http, task["task_id"])
    assert body["bgm"] is True and body["off_peak"] is True
    assert body["creations"][0]["watermarked_url"].startswith("http://127.0.0.1")


# --- image endpoints ---------------------------------------------------------------------


def test_image_to_video_follows_the_image_aspect(http: httpx.Client) -> None:
    response = create(
        http,
        "img2video",
        model="viduq2-pro",
        images=[png_uri(90, 160)],
        duration=1,
        audio=True,
        resolution="540p",
    )
    assert response.status_code == 200, response.text
    task = response.json()
    assert "aspect_ratio" not in task and task["audio"] is True
    assert task["images"][0].startswith("data:image/png;base64,")
    url = finished(http, task["task_id"])["creations"][0]["url"]
    assert video_shape(httpx.get(url).content)[:2] == (540, 960)


def test_start_end_and_reference_counts(http: httpx.Client) -> None:
    image = png_uri(160, 90)
    ok = create(http, "start-end2video", model="viduq2-turbo", images=[image, image], duration=8)
    assert ok.status_code == 200, ok.text
    one = create(http, "start-end2video", model="viduq2-turbo", images=[image])
    assert_error(one, 400, "FieldItemCountOutOfRange")
    eight = create(http, "reference2video", images=["https://example.com/a.png"] * 8)
    assert_error(eight, 400, "FieldItemCountOutOfRange")
    four = create(http, "reference2video", model="vidu2.0", images=[image] * 4, duration=4)
    assert_error(four, 400, "FieldItemCountOutOfRange")
    refs = create(http, "reference2video", images=[image] * 7, aspect_ratio="1:1")
    assert refs.status_code == 200 and refs.json()["aspect_ratio"] == "1:1"


@pytest.mark.parametrize(
    ("endpoint", "body", "code"),
    [
        ("text2video", {"duration": 12}, "FieldInvalid"),
        ("text2video", {"resolution": "360p"}, "FieldInvalid"),
        ("text2video", {"model": "viduq1", "aspect_ratio": "4:3"}, "FieldInvalid"),
        ("text2video", {"model": "viduq2-pro"}, "ModelUnavailable"),
        ("text2video", {"model": None}, "FieldLacking"),
        ("text2video", {"prompt": "x" * 1501}, "FieldInvalid"),
        ("text2video", {"images": ["https://example.com/a.png"]}, "FieldUnwanted"),
        ("text2video", {"audio": True}, "FieldUnwanted"),
        ("img2video", {"model": "viduq2-pro", "images": ["https://e.com/a.png"],
                       "aspect_ratio": "16:9"}, "FieldUnwanted"),
        ("img2video", {"model": "viduq2-pro"}, "FieldLacking"),
        ("img2video", {"model": "viduq2-pro", "images": ["data:image/gif;base64,R0lG"]},
         "ImageFormatInvalid"),
        ("img2video", {"model": "vidu2.0", "images": ["https://e.com/a.png"], "duration": 8,
                       "resolution": "1080p"}, "FieldInvalid"),
        ("start-end2video", {"model": "viduq2-pro", "images": ["https://e.com/a.png"] * 2,
                             "duration": 10}, "FieldInvalid"),
        ("text2video", {"movement_amplitude": "huge"}, "FieldInvalid"),
        ("text2video", {"seed": -1}, "FieldInvalid"),
    ],
)  # fmt: skip
def test_validation_errors(http: httpx.Client, endpoint: str, body: Any, code: str) -> None:
    assert_error(create(http, endpoint, **body), 400, code)


def test_unknown_task_is_task_not_found(http: httpx.Client) -> None:
    assert_error(http.get("/tasks/123/creations"), 404, "TaskNotFound")
    assert_error(http.post("/tasks/123/cancel", json={"id": "123"}), 404, "TaskNotFound")


@pytest.mark.parametrize("status", [400, 402])
def test_credit_insufficient(http: httpx.Client, state: SimState, status: int) -> None:
    state.config.credit_balance, state.config.credit_error_status = 5, status
    assert create(http, duration=2).status_code == 200  # 4 credits
    assert_error(create(http, duration=2), status, "CreditInsufficient")


# --- cancel ------------------------------------------------------------------------------


def test_cancel_a_queued_task_then_a_finished_one(http: httpx.Client) -> None:
    task_id = create(http, prompt="[sim:slow] cancel me").json()["task_id"]
    cancelled = http.post(f"/tasks/{task_id}/cancel", json={"id": task_id})
    assert cancelled.status_code == 200 and cancelled.json() == {}
    body = query(http, task_id)
    assert (body["state"], body["err_code"], body["creations"]) == ("failed", "UserCancelled", [])
    assert_error(http.post(f"/tasks/{task_id}/cancel", json={"id": task_id}), 400, "BadRequest")


# --- fault markers -----------------------------------------------------------------------


def test_fail_marker_is_a_policy_failure(http: httpx.Client) -> None:
    body = finished(http, create(http, prompt="[sim:fail] x").json()["task_id"])
    assert (body["state"], body["err_code"], body["credits"]) == (
        "failed", "CreationPolicyViolation", 0
    )  # fmt: skip


def test_create_faults(http: httpx.Client, state: SimState) -> None:
    busy = create(http, prompt="[sim:429] x")
    assert_error(busy, 429, "TooManyRequests")
    assert busy.headers["retry-after"] == "1"
    assert_error(create(http, prompt="[sim:500] x"), 500, "InternalServiceFailure")
    refused = create(http, prompt="[sim:create-failed] x")
    assert refused.status_code == 200
    assert (refused.json()["state"], refused.json()["err_code"]) == ("failed", "AuditSubmitIllegal")
    assert state.tasks == {}


def test_poll_faults(http: httpx.Client) -> None:
    task_id = create(http, prompt="[sim:poll-429] x").json()["task_id"]
    assert_error(http.get(f"/tasks/{task_id}/creations"), 429, "SystemThrottling")
    task_id = create(http, prompt="[sim:malformed] x").json()["task_id"]
    broken = http.get(f"/tasks/{task_id}/creations")
    with pytest.raises(ValueError):
        broken.json()
    task_id = create(http, prompt="[sim:unknown-status] x").json()["task_id"]
    assert wait_for(lambda: query(http, task_id)["state"] == "scheduling")
    assert finished(http, task_id)["state"] == "success"


def test_hang_answers_nobody_who_left(http: httpx.Client, state: SimState, base_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        http.post("/text2video", json={"model": "viduq2", "prompt": "[sim:hang]"}, timeout=0.5)
    assert time.monotonic() - started < 20  # the hang lasts 30 s: the client left long before
    # the simulator notices the caller left and logs it (before the next test resets the log)
    log = f"{base_url}/__sim__/log"
    wait_for(lambda: [e["status_code"] for e in httpx.get(log).json()] == [499])
    assert state.tasks == {}


def test_request_log_and_reset(http: httpx.Client, base_url: str) -> None:
    create(http)
    log = httpx.get(f"{base_url}/__sim__/log").json()
    assert [(e["method"], e["path"], e["status_code"]) for e in log] == [
        ("POST", "/ent/v2/text2video", 200)
    ]
    httpx.post(f"{base_url}/__sim__/reset")
    assert httpx.get(f"{base_url}/__sim__/log").json() == []
