"""The fal simulator, driven over real HTTP on loopback by the official ``fal-client`` SDK.

The SDK builds queue URLs from ``fal_client.client.QUEUE_URL_FORMAT`` (``https://`` plus
``FAL_QUEUE_RUN_HOST``, read at import); the tests point that module attribute at the
simulator, which is how the SDK itself is redirected.
"""

from __future__ import annotations

from typing import Any

import fal_client
import httpx
import pytest
from fal_client import client as fal_module

from tests.providers.simulators import SimSetup, decoded_shape
from tests.support import png_uri, serve, wait_for
from vidgate.providers.fal.simulator import SimState, SimulatorConfig, create_app

KEY = "0b5e55ed-0000-4000-8000-000000000000:" + "ab" * 16
RAY = "fal-ai/luma-dream-machine/ray-2-flash"
KLING_I2V = "fal-ai/kling-video/v2.1/standard/image-to-video"
FAST = SimulatorConfig(api_key=KEY, job_seconds=0.3, queued_seconds=0.1)
SIMULATOR = SimSetup(create_app, FAST, headers={"Authorization": f"Key {KEY}"})


@pytest.fixture
def client(
    base_url: str, state: SimState, monkeypatch: pytest.MonkeyPatch
) -> fal_client.SyncClient:
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{base_url}/")
    return fal_client.SyncClient(key=KEY, default_timeout=10)


def completed(handle: Any) -> Any:
    def done() -> Any:
        status = handle.status()
        return status if isinstance(status, fal_client.Completed) else None

    return wait_for(done)


def test_submit_status_result_and_cdn_download(client: fal_client.SyncClient) -> None:
    handle = client.submit(RAY, {"prompt": "a fox", "duration": "5s", "resolution": "540p"})
    assert "/ray-2-flash" not in handle.status_url  # the subpath is dropped after submit
    assert handle.status_url.endswith(
        f"/fal-ai/luma-dream-machine/requests/{handle.request_id}/status"
    )
    assert isinstance(handle.status(), fal_client.Queued)
    events = list(handle.iter_events(with_logs=True, interval=0.05))
    assert isinstance(events[-1], fal_client.Completed)
    assert events[-1].metrics["inference_time"] > 0 and events[-1].error is None
    assert any(isinstance(e, fal_client.InProgress) and e.logs for e in events)
    result = handle.get()
    assert result["video"]["content_type"] == "video/mp4"
    video = httpx.get(result["video"]["url"])  # a CDN URL: no key needed
    assert video.status_code == 200 and len(video.content) == result["video"]["file_size"]
    width, height, seconds = decoded_shape(video.content)
    assert (width, height) == (960, 540) and abs(seconds - 5) <= 1


def test_logs_only_when_asked(client: fal_client.SyncClient, http: httpx.Client) -> None:
    handle = client.submit(RAY, {"prompt": "a fox"})
    status = completed(handle)
    assert status.logs is None
    assert isinstance(handle.status(with_logs=True).logs, list)  # type: ignore[attr-defined]
    raw = http.get(handle.status_url.removeprefix(str(http.base_url).rstrip("/")))
    assert raw.status_code == 200 and raw.json()["status"] == "COMPLETED"


def test_status_codes_202_while_running(client: fal_client.SyncClient, http: httpx.Client) -> None:
    handle = client.submit(RAY, {"prompt": "a fox [sim:slow]"})
    path = handle.status_url.split("127.0.0.1", 1)[1].split("/", 1)[1]
    reply = http.get(f"/{path}")
    assert reply.status_code == 202 and reply.json() == {
        "status": "IN_QUEUE",
        "queue_position": 0,
        "response_url": handle.response_url,
    }
    running = wait_for(lambda: (r := http.get(f"/{path}")).json()["status"] == "IN_PROGRESS" and r)
    assert running.status_code == 202 and running.json()["logs"] is None


def test_handles_by_request_id_use_only_the_app_path(client: fal_client.SyncClient) -> None:
    handle = client.submit(KLING_I2V, {"prompt": "waves", "image_url": png_uri(90, 160)})
    status = client.status(KLING_I2V, handle.request_id)  # built by the SDK from the app id
    assert isinstance(status, fal_client.Queued | fal_client.InProgress | fal_client.Completed)
    result = client.result(KLING_I2V, handle.request_id)
    width, height, _ = decoded_shape(httpx.get(result["video"]["url"]).content)
    assert (width, height) == (720, 1280)  # Kling image-to-video follows the image's shape


def test_known_models_validate_like_fastapi(client: fal_client.SyncClient) -> None:
    with pytest.raises(fal_client.FalClientHTTPError) as info:
        client.submit("fal-ai/veo3", {"prompt": "x", "duration": "5s"})
    assert info.value.status_code == 422
    detail: Any = info.value.message
    assert detail[0]["loc"] == ["body", "duration"] and "'8s'" in detail[0]["msg"]
    with pytest.raises(fal_client.FalClientHTTPError) as missing:
        client.submit(RAY, {"duration": "5s"})
    assert missing.value.message == [  # type: ignore[comparison-overlap]
        {"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}
    ]
    with pytest.raises(fal_client.FalClientHTTPError) as image:
        client.submit(KLING_I2V, {"prompt": "x"})
    assert image.value.status_code == 422


def test_veo3_output_follows_resolution(client: fal_client.SyncClient, state: SimState) -> None:
    handle = client.submit(
        "fal-ai/veo3",
        {"prompt": "x", "duration": "4s", "aspect_ratio": "9:16", "resolution": "720p"},
    )
    item = state.requests[handle.request_id]
    assert (item.width, item.height, item.seconds, item.app) == (720, 1280, 4, "fal-ai/veo3")


def test_any_model_takes_generic_inputs(client: fal_client.SyncClient, state: SimState) -> None:
    handle = client.submit("fal-ai/some-model/v1/t2v", {"prompt": "x", "duration": 3})
    item = state.requests[handle.request_id]
    assert (item.width, item.height, item.seconds, item.app) == (1280, 720, 3, "fal-ai/some-model")


def test_wrong_key_is_401(base_url: str, state: SimState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{base_url}/")
    bad = fal_client.SyncClient(key="nope:nope")
    with pytest.raises(fal_client.FalClientHTTPError) as info:
        bad.submit(RAY, {"prompt": "x"})
    assert info.value.status_code == 401 and "Key" in info.value.message
    assert httpx.post(f"{base_url}/{RAY}", json={"prompt": "x"}).status_code == 401


def test_failure_completes_then_result_is_a_422(client: fal_client.SyncClient) -> None:
    handle = client.submit(RAY, {"prompt": "[sim:fail] blocked"})
    with pytest.raises(fal_client.FalClientHTTPError) as info:
        handle.get(interval=0.05)
    assert info.value.status_code == 422 and info.value.error_type == "content_policy_violation"


def test_failure_error_on_status_in_newer_schema(
    client: fal_client.SyncClient, state: SimState
) -> None:
    state.config.status_errors = True
    handle = client.submit(RAY, {"prompt": "[sim:fail] blocked"})
    done = completed(handle)
    assert done.error_type == "content_policy_violation" and done.error


def test_no_video_result(client: fal_client.SyncClient) -> None:
    result = client.submit(RAY, {"prompt": "[sim:no-video] x", "seed": 4}).get(interval=0.05)
    assert result == {"seed": 4}


def test_cancel(client: fal_client.SyncClient, http: httpx.Client) -> None:
    handle = client.submit(RAY, {"prompt": "[sim:slow] long"})
    client.cancel(RAY, handle.request_id)
    path = f"/fal-ai/luma-dream-machine/requests/{handle.request_id}"
    assert http.get(f"{path}/status").json()["status"] == "CANCELED"
    again = http.put(f"{path}/cancel")
    assert again.status_code == 400 and again.json() == {"status": "ALREADY_COMPLETED"}


def test_cancel_reply_shape(client: fal_client.SyncClient, http: httpx.Client) -> None:
    handle = client.submit(RAY, {"prompt": "[sim:slow] long"})
    path = f"/fal-ai/luma-dream-machine/requests/{handle.request_id}"
    reply = http.put(f"{path}/cancel")
    assert reply.status_code == 202 and reply.json() == {"status": "CANCELLATION_REQUESTED"}
    assert http.get(path).status_code == 400


def test_create_faults(
    client: fal_client.SyncClient, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_module, "MAX_ATTEMPTS", 1)  # the SDK retries 429s by itself
    with pytest.raises(fal_client.FalClientHTTPError) as limited:
        client.submit(RAY, {"prompt": "[sim:429] x"})
    assert limited.value.status_code == 429
    assert limited.value.response_headers["retry-after"] == "1"
    with pytest.raises(fal_client.FalClientHTTPError) as broken:
        client.submit(RAY, {"prompt": "[sim:500] x"})
    assert broken.value.status_code == 500
    full = http.post(f"/{RAY}", params={"fal_max_queue_length": "0"}, json={"prompt": "x"})
    assert full.status_code == 429


def test_poll_faults(client: fal_client.SyncClient, http: httpx.Client) -> None:
    limited = client.submit(RAY, {"prompt": "[sim:poll-429] x"})
    assert isinstance(limited.status(), fal_client.Status)  # the SDK retried the 429
    malformed = client.submit(RAY, {"prompt": "[sim:malformed] x"})
    path = f"/fal-ai/luma-dream-machine/requests/{malformed.request_id}/status"
    first = http.get(path)
    with pytest.raises(ValueError):
        first.json()
    assert http.get(path).json()["status"] in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")
    odd = client.submit(RAY, {"prompt": "[sim:unknown-status] [sim:slow] x"})
    wait_for(
        lambda: (
            http.get(odd.status_url.split(str(http.base_url).rstrip("/"))[1]).json()["status"]
            != "IN_QUEUE"
        )
    )
    with pytest.raises(ValueError, match="Unknown status"):
        odd.status()


def test_request_of_another_app_is_404(client: fal_client.SyncClient, http: httpx.Client) -> None:
    handle = client.submit(RAY, {"prompt": "x"})
    assert http.get(f"/fal-ai/veo3/requests/{handle.request_id}/status").status_code == 404


def test_hang_answers_late(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(SimulatorConfig(api_key=KEY, hang_seconds=0.3))
    with serve(app) as url:
        monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{url}/")
        monkeypatch.setattr(fal_module, "MAX_ATTEMPTS", 1)  # the SDK retries timeouts
        with pytest.raises(httpx.ReadTimeout):
            fal_client.SyncClient(key=KEY, default_timeout=0.1).submit(
                RAY, {"prompt": "[sim:hang]"}
            )
        handle = fal_client.SyncClient(key=KEY).submit(RAY, {"prompt": "[sim:hang] x"})
        assert handle.request_id
