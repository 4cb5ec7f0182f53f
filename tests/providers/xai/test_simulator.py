"""The xAI Grok Imagine video simulator, driven over real HTTP on loopback.

xAI's official Python SDK (``xai-sdk``) speaks gRPC, not the REST API this provider uses, so
it cannot drive the simulator; these tests use plain httpx exactly as the documented REST
reference describes (``POST /v1/videos/generations``, ``GET /v1/videos/{request_id}``,
``Authorization: Bearer``), and check the bodies field by field.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.providers.simulators import SimSetup, decoded_shape
from tests.support import Sim, png_uri, serve, wait_for
from vidgate.providers.xai.simulator import SimState, SimulatorConfig, create_app

KEY = "xai-test-key-0123456789"
FAST = SimulatorConfig(api_key=KEY, job_seconds=0.4, queued_seconds=0.1, hang_seconds=0.4)
SIMULATOR = SimSetup(create_app, FAST, headers={"Authorization": f"Bearer {KEY}"}, path="/v1")


def create(http: httpx.Client, **body: Any) -> str:
    response = http.post("/videos/generations", json={"model": "grok-imagine-video", **body})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"request_id"}
    return str(uuid.UUID(response.json()["request_id"]))


def poll(http: httpx.Client, request_id: str) -> dict[str, Any]:
    response = http.get(f"/videos/{request_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def until(http: httpx.Client, request_id: str, status: str) -> dict[str, Any]:
    """Poll until the request reads ``status``; its body then."""

    def reached() -> dict[str, Any] | None:
        body = poll(http, request_id)
        return body if body.get("status") == status else None

    result: dict[str, Any] = wait_for(reached)
    return result


# --- lifecycle ------------------------------------------------------------------------


def test_request_goes_bare_then_pending_then_done_with_a_public_mp4(
    http: httpx.Client, state: SimState
) -> None:
    request_id = create(
        http, prompt="a comet", duration=2, aspect_ratio="4:3", resolution="720p", user="u-1"
    )
    assert poll(http, request_id) == {"request_id": request_id}
    assert until(http, request_id, "pending") == {"status": "pending"}
    done = until(http, request_id, "done")
    assert done["model"] == "grok-imagine-video"
    assert done["usage"] == {"cost_in_usd_ticks": 2 * FAST.ticks_per_second_720p}
    assert done["video"]["duration"] == 2 and done["video"]["respect_moderation"] is True
    url = done["video"]["url"]
    assert url.startswith(str(http.base_url).removesuffix("v1/")) and url.endswith(".mp4")
    video = httpx.get(url)  # the CDN URL needs no credentials
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    width, height, seconds = decoded_shape(video.content)
    assert (width, height) == (960, 720) and abs(seconds - 2) <= 0.5
    assert state.jobs[request_id].body["user"] == "u-1"


@pytest.mark.parametrize(
    ("ratio", "resolution", "size"),
    [("16:9", "480p", (854, 480)), ("9:16", "720p", (720, 1280)), ("2:3", "480p", (480, 720))],
)
def test_frame_size_follows_ratio_and_resolution(
    http: httpx.Client, ratio: str, resolution: str, size: tuple[int, int]
) -> None:
    request_id = create(http, prompt="x", duration=1, aspect_ratio=ratio, resolution=resolution)
    done = until(http, request_id, "done")
    assert decoded_shape(httpx.get(done["video"]["url"]).content)[:2] == size


def test_defaults_are_8_seconds_16_9_480p(http: httpx.Client, state: SimState) -> None:
    request_id = create(http, prompt="defaults")
    job = state.jobs[request_id]
    assert (job.duration, job.aspect_ratio, job.resolution) == (8, "16:9", "480p")
    done = until(http, request_id, "done")
    assert done["video"]["duration"] == 8
    assert done["usage"]["cost_in_usd_ticks"] == 8 * 500_000_000  # $0.05/s at 480p


def test_image_to_video_takes_a_data_uri_or_a_url(http: httpx.Client, state: SimState) -> None:
    first = create(http, prompt="animate", duration=1, image={"url": png_uri(64, 36)})
    second = create(http, prompt="animate", duration=1, image={"url": "https://img.test/a.png"})
    assert state.jobs[first].body["image"]["url"].startswith("data:image/png;base64,")
    assert state.jobs[second].body["image"] == {"url": "https://img.test/a.png"}


def test_unknown_request_id_is_404(http: httpx.Client) -> None:
    response = http.get(f"/videos/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["code"] == "Some requested entity was not found"


def test_result_url_is_404_until_done(http: httpx.Client, sim: Sim) -> None:
    request_id = create(http, prompt="not yet", duration=1)
    assert httpx.get(f"{sim.url}/vidgen/{request_id}/video.mp4").status_code == 404


# --- auth and validation --------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong-key-123", f"Basic {KEY}"])
def test_bad_or_missing_key_is_a_400_in_xai_envelope(sim: Sim, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in (("POST", "/v1/videos/generations"), ("GET", f"/v1/videos/{uuid.uuid4()}")):
        body = {"prompt": "p", "model": "grok-imagine-video"} if method == "POST" else None
        response = httpx.request(method, sim.url + path, json=body, headers=headers)
        assert response.status_code == 400
        error = response.json()
        assert set(error) == {"code", "error"}
        assert error["code"] == "Client specified an invalid argument"
        assert "API key provided" in error["error"]
        assert "wrong-key-123" not in error["error"]  # masked like xAI does ("wr***23")


def test_without_a_configured_key_any_key_works() -> None:
    with serve(create_app(SimulatorConfig(api_key=None))) as url:
        response = httpx.post(
            f"{url}/v1/videos/generations", json={"prompt": "p", "model": "grok-imagine-video"}
        )
        assert response.status_code == 200


@pytest.mark.parametrize("missing", ["prompt", "model"])
def test_missing_field_is_422(http: httpx.Client, missing: str) -> None:
    body = {"prompt": "p", "model": "grok-imagine-video"}
    del body[missing]
    response = http.post("/videos/generations", json=body)
    assert response.status_code == 422
    assert f"missing field `{missing}`" in response.json()["error"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", 0),
        ("duration", 16),
        ("duration", "8"),
        ("duration", True),
        ("aspect_ratio", "21:9"),
        ("resolution", "1080p"),
        ("image", {"url": "data:image/png;base64,bm90IGFuIGltYWdl"}),
        ("image", {"url": "ftp://x/y.png"}),
        ("image", "https://img.test/a.png"),
    ],
)
def test_invalid_values_are_400(http: httpx.Client, field: str, value: Any) -> None:
    response = http.post(
        "/videos/generations", json={"prompt": "p", "model": "grok-imagine-video", field: value}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "Client specified an invalid argument"


def test_unknown_model_is_404(http: httpx.Client) -> None:
    response = http.post("/videos/generations", json={"prompt": "p", "model": "grok-9"})
    assert response.status_code == 404
    assert "does not exist" in response.json()["error"]


@pytest.mark.parametrize(
    "model", ["grok-imagine-video", "grok-imagine-video-1.5", "grok-imagine-video-1.5-preview"]
)
def test_every_documented_model_is_accepted(http: httpx.Client, model: str) -> None:
    assert create(http, prompt="p", model=model)


# --- faults ---------------------------------------------------------------------------


def test_fail_is_http_200_with_status_failed_and_error(http: httpx.Client, sim: Sim) -> None:
    request_id = create(http, prompt="[sim:fail] nope", duration=1)
    failed = until(http, request_id, "failed")
    assert failed["error"]["code"] and failed["error"]["message"]
    assert failed["model"] == "" and failed["video"] == {"duration": 0, "respect_moderation": True}
    assert httpx.get(f"{sim.url}/vidgen/{request_id}/video.mp4").status_code == 404


def test_429_and_500_at_create(http: httpx.Client, state: SimState) -> None:
    limited = http.post("/videos/generations", json={"prompt": "[sim:429]", "model": "grok-9"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json()["code"] == "Some resource has been exhausted"
    broken = http.post(
        "/videos/generations", json={"prompt": "[sim:500]", "model": "grok-imagine-video"}
    )
    assert broken.status_code == 500 and broken.json()["code"] == "Internal error"
    assert state.jobs == {}


def test_unknown_status_while_running(http: httpx.Client) -> None:
    request_id = create(http, prompt="[sim:unknown-status]", duration=1)
    assert until(http, request_id, "processing") == {"status": "processing"}
    until(http, request_id, "done")


def test_malformed_then_normal(http: httpx.Client) -> None:
    request_id = create(http, prompt="[sim:malformed]", duration=1)
    first = http.get(f"/videos/{request_id}")
    assert first.status_code == 200
    with pytest.raises(ValueError):
        first.json()
    second = poll(http, request_id)
    assert second == {"request_id": request_id} or second["status"] in ("pending", "done")


def test_poll_429_once(http: httpx.Client) -> None:
    request_id = create(http, prompt="[sim:poll-429]", duration=1)
    assert http.get(f"/videos/{request_id}").status_code == 429
    assert http.get(f"/videos/{request_id}").status_code == 200


def test_slow_job_is_still_pending_after_job_seconds(http: httpx.Client) -> None:
    request_id = create(http, prompt="[sim:slow]", duration=1)
    time.sleep(FAST.job_seconds + 0.1)
    assert poll(http, request_id) == {"status": "pending"}


def test_expired_marker_and_expiry(http: httpx.Client) -> None:
    request_id = create(http, prompt="[sim:expired]", duration=1)
    assert until(http, request_id, "expired") == {"status": "expired"}
    config = SimulatorConfig(api_key=None, job_seconds=0.1, queued_seconds=0, expire_after_s=0.3)
    with serve(create_app(config)) as url, httpx.Client(base_url=f"{url}/v1") as other:
        late = create(other, prompt="p", duration=1)
        done = until(other, late, "done")
        until(other, late, "expired")
        assert httpx.get(done["video"]["url"]).status_code == 404


def test_hang_delays_the_create(http: httpx.Client, state: SimState) -> None:
    started = time.monotonic()
    create(http, prompt="[sim:hang]", duration=1)
    assert time.monotonic() - started >= FAST.hang_seconds


def test_hang_gives_up_when_the_client_does(http: httpx.Client, sim: Sim) -> None:
    config = SimulatorConfig(api_key=None, hang_seconds=30)
    app = create_app(config)
    with serve(app) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{url}/v1/videos/generations",
                json={"prompt": "[sim:hang]", "model": "grok-imagine-video"},
                timeout=0.3,
            )
        log = wait_for(lambda: httpx.get(f"{url}/__sim__/log").json())
        assert log[0]["status_code"] == 499
        assert app.state.sim.jobs == {}


def test_log_records_calls_and_reset_clears(http: httpx.Client, sim: Sim) -> None:
    request_id = create(http, prompt="logged", duration=1)
    poll(http, request_id)
    log = httpx.get(f"{sim.url}/__sim__/log").json()
    assert [(e["method"], e["path"], e["status_code"]) for e in log] == [
        ("POST", "/v1/videos/generations", 200),
        ("GET", f"/v1/videos/{request_id}", 200),
    ]
    httpx.post(f"{sim.url}/__sim__/reset").raise_for_status()
    assert httpx.get(f"{sim.url}/__sim__/log").json() == [] and sim.state.jobs == {}
