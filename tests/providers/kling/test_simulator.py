"""The Kling simulator over real HTTP on loopback, driven with plain httpx as Kling's docs do.

Kling has no official Python SDK; its docs sign an HS256 JWT (``iss`` = access key, ``exp``
= now + 1800, ``nbf`` = now - 5) and call the REST API with ``Authorization: Bearer``.
``sign`` below is written from those docs, independently of the adapter's signer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.providers.kling.reference import CREATE_EXAMPLE, SUCCEED_EXAMPLE
from tests.providers.simulators import SimSetup
from tests.support import png_bytes, serve, video_shape, wait_for
from vidgate.providers.kling.simulator import SimState, SimulatorConfig, create_app

AK, SK = "ak-sim-test-1", "sk-sim-test-1"
FAST = SimulatorConfig(api_key=f"{AK}:{SK}", job_seconds=0.4, queued_seconds=0.15)
SIMULATOR = SimSetup(create_app, FAST, headers=lambda: {"Authorization": f"Bearer {sign()}"})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(ak: str = AK, sk: str = SK, *, exp: float = 1800, nbf: float = -5, **extra: Any) -> str:
    now = int(time.time())
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"iss": ak, "exp": now + exp, "nbf": now + nbf, **extra}
    payload = _b64url(json.dumps(claims).encode())
    mac = hmac.new(sk.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(mac)}"


def shape(value: Any) -> Any:
    """The keys (recursively) and value types of a JSON body."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


def png_b64(width: int, height: int) -> str:
    return base64.b64encode(png_bytes(width, height)).decode()


def create(http: httpx.Client, family: str = "text2video", **body: Any) -> httpx.Response:
    body = {"model_name": "kling-v1-6", "prompt": "a red kite over the sea", **body}
    return http.post(f"/v1/videos/{family}", json=body)


def finished(http: httpx.Client, family: str, task_id: str) -> dict[str, Any]:
    def poll() -> dict[str, Any] | None:
        data: dict[str, Any] = http.get(f"/v1/videos/{family}/{task_id}").json()["data"]
        return data if data["task_status"] in ("succeed", "failed") else None

    result: dict[str, Any] = wait_for(poll)
    return result


def error(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and set(body) == {"code", "message", "request_id"}
    return str(body["message"])


# --- lifecycle -------------------------------------------------------------------------


def test_text2video_lifecycle_matches_the_documented_bodies(http: httpx.Client) -> None:
    before = time.time() * 1000
    response = create(
        http,
        model="kling-v1-6",
        negative_prompt="blur",
        cfg_scale=0.5,
        mode="std",
        aspect_ratio="9:16",
        duration="5",
        external_task_id="order-42",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert shape(body) == shape(CREATE_EXAMPLE)
    data = body["data"]
    assert (body["code"], body["message"], data["task_status"]) == (0, "SUCCEED", "submitted")
    assert data["task_id"].isdigit() and data["task_info"] == {"external_task_id": "order-42"}
    assert before - 1000 <= data["created_at"] <= time.time() * 1000 + 1000  # milliseconds

    path = f"/v1/videos/text2video/{data['task_id']}"
    seen = set()
    while (status := http.get(path).json()["data"]["task_status"]) not in ("succeed", "failed"):
        seen.add(status)
        time.sleep(0.02)
    assert status == "succeed" and "processing" in seen
    done = http.get(path).json()
    assert shape(done) == shape(SUCCEED_EXAMPLE)
    video = done["data"]["task_result"]["videos"][0]
    assert done["data"]["final_unit_deduction"] == "2" and video["duration"] == "5"
    assert done["data"]["updated_at"] > done["data"]["created_at"]
    # The CDN URL needs no auth; the file is a real MP4 of the requested shape.
    mp4 = httpx.get(video["url"])
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    width, height, seconds = video_shape(mp4.content)
    assert (width, height) == (720, 1280) and seconds == pytest.approx(5, abs=0.2)
    # Query by external_task_id works as well.
    again = http.get("/v1/videos/text2video/order-42").json()["data"]
    assert again["task_id"] == data["task_id"]


def test_pro_mode_is_1080p_and_units_follow_mode_and_duration(http: httpx.Client) -> None:
    long = create(http, mode="pro", aspect_ratio="1:1", duration="10").json()["data"]
    short = create(http, mode="pro", aspect_ratio="1:1", duration="5").json()["data"]
    v3 = create(http, model_name="kling-v3", mode="pro", aspect_ratio="1:1", duration="3")
    assert finished(http, "text2video", long["task_id"])["final_unit_deduction"] == "7"
    assert finished(http, "text2video", short["task_id"])["final_unit_deduction"] == "3.5"
    data = finished(http, "text2video", v3.json()["data"]["task_id"])
    assert data["final_unit_deduction"] == "2.4"  # 0.8 units/s without audio
    width, height, _ = video_shape(httpx.get(data["task_result"]["videos"][0]["url"]).content)
    assert (width, height) == (1080, 1080)


def test_kling_v3_takes_3_to_15_seconds_and_sound(http: httpx.Client) -> None:
    response = create(http, model_name="kling-v3", duration="3", sound="on", mode="pro")
    data = finished(http, "text2video", response.json()["data"]["task_id"])
    assert data["final_unit_deduction"] == "3.6"  # 1.2 units/s with audio
    assert error(create(http, model_name="kling-v3", duration="16"), 400, 1201)


def test_image2video_follows_the_input_image(http: httpx.Client, state: SimState) -> None:
    response = create(
        http, "image2video", image=png_b64(360, 640), image_tail=png_b64(360, 640), mode="pro"
    )
    assert response.status_code == 200, response.text
    task_id = response.json()["data"]["task_id"]
    assert (state.tasks[task_id].checked.width, state.tasks[task_id].checked.height) == (
        1080,
        1920,
    )
    square = create(
        http, "image2video", model_name="kling-v3", duration="3", image=png_b64(400, 400)
    )
    data = finished(http, "image2video", square.json()["data"]["task_id"])
    width, height, _ = video_shape(httpx.get(data["task_result"]["videos"][0]["url"]).content)
    assert (width, height) == (720, 720)  # std, at the image's 1:1
    assert state.tasks[task_id].body["image"].endswith("chars>")  # kept short in the record
    # The query family must be the create call's.
    error(http.get(f"/v1/videos/text2video/{task_id}"), 404, 1203)


@pytest.mark.parametrize(
    ("image", "needle"),
    [
        ("data:image/png;base64," + png_b64(400, 400), "data:"),
        (png_b64(200, 400), "300px"),
        (png_b64(1000, 300), "aspect ratio"),
        ("not base64 at all!", "base64"),
    ],
)
def test_image2video_rejects_bad_images(http: httpx.Client, image: str, needle: str) -> None:
    assert needle in error(create(http, "image2video", image=image), 400, 1201)


def test_image2video_takes_an_image_url(http: httpx.Client) -> None:
    response = create(http, "image2video", image="https://cdn.example.com/a.png")
    assert response.status_code == 200, response.text
    assert error(create(http, "image2video"), 400, 1201) == "image is required"


def test_only_the_old_model_field_means_kling_v1(http: httpx.Client, state: SimState) -> None:
    response = http.post("/v1/videos/text2video", json={"model": "kling-v2-6", "prompt": "x"})
    assert state.tasks[response.json()["data"]["task_id"]].checked.model == "kling-v1"


def test_list_pages_through_one_family(http: httpx.Client) -> None:
    ids = [create(http, prompt=f"list {i}").json()["data"]["task_id"] for i in range(3)]
    create(http, "image2video", image="https://cdn.example.com/a.png")
    page = http.get("/v1/videos/text2video", params={"pageNum": 1, "pageSize": 2}).json()
    assert page["code"] == 0 and len(page["data"]) == 2
    listed = http.get("/v1/videos/text2video", params={"pageSize": 500}).json()["data"]
    assert sorted(t["task_id"] for t in listed) == sorted(ids)
    error(http.get("/v1/videos/text2video", params={"pageSize": 501}), 400, 1201)
    error(http.get("/v1/videos/text2video", params={"pageNum": 0}), 400, 1201)


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"duration": 5}, "duration must be a string"),
        ({"duration": "8"}, "duration must be one of 5, 10"),
        ({"mode": "ultra"}, "mode"),
        ({"aspect_ratio": "4:3"}, "aspect_ratio"),
        ({"cfg_scale": 1.5}, "cfg_scale"),
        ({"model_name": "kling-v2-1", "cfg_scale": 0.5}, "not supported"),
        ({"sound": "on"}, "sound is not supported"),
        ({"prompt": "x" * 2501}, "2500"),
        ({"negative_prompt": "x" * 2501}, "2500"),
        ({"camera_control": {"type": "simple", "config": {"pan": 1, "zoom": 2}}}, "exactly one"),
        ({"camera_control": {"type": "down_back", "config": {"pan": 1}}}, "null"),
        ({"camera_control": {"type": "orbit"}}, "camera_control.type"),
        ({"prompt": ""}, "prompt is required"),
    ],
)
def test_invalid_bodies_are_1201(http: httpx.Client, body: dict[str, Any], needle: str) -> None:
    assert needle in error(create(http, **body), 400, 1201)


def test_valid_camera_control_and_unknown_model(http: httpx.Client) -> None:
    control = {"type": "simple", "config": {"zoom": 5}}
    assert create(http, camera_control=control).status_code == 200
    assert create(http, camera_control={"type": "forward_up", "config": None}).status_code == 200
    error(create(http, model_name="kling-v9"), 404, 1203)
    error(http.post("/v1/videos/text2video", content=b"{"), 400, 1200)


def test_external_task_id_must_be_unique(http: httpx.Client) -> None:
    assert create(http, external_task_id="dup-1").status_code == 200
    assert "already exists" in error(create(http, external_task_id="dup-1"), 400, 1201)


# --- auth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (lambda: None, 1001),
        (lambda: "Bearer not-a-jwt", 1002),
        (lambda: f"Token {sign()}", 1002),
        (lambda: f"Bearer {sign(sk='wrong-secret')}", 1000),
        (lambda: f"Bearer {sign(ak='someone-else')}", 1000),
        (lambda: f"Bearer {sign(nbf=60)}", 1003),
        (lambda: f"Bearer {sign(exp=-1)}", 1004),
    ],
)
def test_bad_tokens_are_401s_with_kling_codes(
    base_url: str, state: SimState, authorization: Callable[[], str | None], code: int
) -> None:
    """Tokens are signed when the test runs (times are relative to now, not to collection)."""
    value = authorization()
    headers = {"Authorization": value} if value else {}
    response = httpx.post(f"{base_url}/v1/videos/text2video", json={"prompt": "x"}, headers=headers)
    error(response, 401, code)
    assert state.tasks == {}


def test_configured_credentials() -> None:
    assert SimulatorConfig(api_key="ak:sk:with:colons").keys() == {"ak": "sk:with:colons"}
    assert SimulatorConfig(api_key="sk-sim").keys() == {"sk-sim": "sk-sim"}
    assert SimulatorConfig(api_key="ak", secret_key="sk").keys() == {"ak": "sk"}
    assert SimulatorConfig(api_key=None).keys() is None


def test_without_configured_keys_any_pair_is_accepted() -> None:
    with serve(create_app(SimulatorConfig(api_key=None))) as url:
        token = sign(ak="any", sk="thing")
        ok = httpx.post(
            f"{url}/v1/videos/text2video",
            json={"prompt": "x"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert ok.status_code == 200, ok.text
        expired = sign(ak="any", sk="thing", exp=-1)
        headers = {"Authorization": f"Bearer {expired}"}
        error(httpx.get(f"{url}/v1/videos/text2video", headers=headers), 401, 1004)


# --- faults ----------------------------------------------------------------------------


def test_fail_marker_reports_the_reason_in_task_status_msg(http: httpx.Client) -> None:
    response = create(http, prompt="a forbidden scene [sim:fail]")
    task_id = response.json()["data"]["task_id"]
    data = finished(http, "text2video", task_id)
    body = http.get(f"/v1/videos/text2video/{task_id}").json()
    assert data["task_status"] == "failed" and body["message"] == "SUCCEED"
    assert "risk control" in data["task_status_msg"] and "task_result" not in data


def test_create_faults(http: httpx.Client, state: SimState) -> None:
    limited = create(http, prompt="busy [sim:429]")
    error(limited, 429, 1302)
    assert limited.headers["retry-after"] == "1"
    error(create(http, prompt="boom [sim:500]"), 500, 5000)
    assert state.tasks == {}


def test_poll_faults(http: httpx.Client, state: SimState) -> None:
    task_id = create(http, prompt="odd [sim:unknown-status]").json()["data"]["task_id"]
    timeline = state.tasks[task_id].timeline
    timeline.duration_s = 3600.0  # held running, so no poll can miss the window on a busy box

    def status() -> str:
        reply = http.get(f"/v1/videos/text2video/{task_id}").json()
        return str(reply["data"]["task_status"])

    timeline.started -= timeline.queued_s  # past the queue: running now
    assert status() == "queueing-gpu"
    timeline.duration_s = 0.0
    assert status() == "succeed"

    task_id = create(http, prompt="garbled [sim:malformed]").json()["data"]["task_id"]
    first = http.get(f"/v1/videos/text2video/{task_id}")
    assert first.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        first.json()
    assert http.get(f"/v1/videos/text2video/{task_id}").json()["code"] == 0

    task_id = create(http, prompt="hot [sim:poll-429]").json()["data"]["task_id"]
    error(http.get(f"/v1/videos/text2video/{task_id}"), 429, 1302)
    assert http.get(f"/v1/videos/text2video/{task_id}").status_code == 200


def test_slow_marker_takes_ten_times_as_long(http: httpx.Client, state: SimState) -> None:
    task_id = create(http, prompt="slow [sim:slow]").json()["data"]["task_id"]
    assert state.tasks[task_id].timeline.duration_s == pytest.approx(4.0)


def test_hang_marker_gives_up_when_the_client_leaves(base_url: str, state: SimState) -> None:
    headers = {"Authorization": f"Bearer {sign()}"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{base_url}/v1/videos/text2video",
            json={"prompt": "stuck [sim:hang]"},
            headers=headers,
            timeout=0.3,
        )
    assert state.tasks == {}


def test_concurrency_over_the_resource_pack_is_1303() -> None:
    config = SimulatorConfig(api_key=f"{AK}:{SK}", job_seconds=30, max_active_tasks=1)
    with serve(create_app(config)) as url:
        headers = {"Authorization": f"Bearer {sign()}"}
        first = httpx.post(f"{url}/v1/videos/text2video", json={"prompt": "a"}, headers=headers)
        assert first.status_code == 200
        second = httpx.post(f"{url}/v1/videos/text2video", json={"prompt": "b"}, headers=headers)
        error(second, 429, 1303)
