"""The Runway simulator, driven over real HTTP on loopback by the official ``runwayml`` SDK."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import runwayml
from runwayml import RunwayML
from runwayml.lib import polling

from tests.providers.simulators import SimSetup
from tests.support import png_uri, serve, video_shape, wait_for
from vidgate.providers.runway.simulator import SimState, SimulatorConfig, create_app
from vidgate.providers.simkit import mp4_bytes

KEY = "key_" + "ab" * 64
FAST = SimulatorConfig(api_key=KEY, job_seconds=0.4, queued_seconds=0.15)
SIMULATOR = SimSetup(
    create_app, FAST, headers={"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def client(base_url: str, state: SimState) -> Iterator[RunwayML]:
    with RunwayML(api_key=KEY, base_url=base_url, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def fast_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's wait helper sleeps 6 +- 1.5 s between polls; shorten it for tests."""
    monkeypatch.setattr(polling, "POLL_TIME", 0.05)
    monkeypatch.setattr(polling, "POLL_JITTER", 0)


def data_uri(data: bytes, ctype: str) -> str:
    return f"data:{ctype};base64,{base64.b64encode(data).decode()}"


def finished(client: RunwayML, task_id: str) -> Any:
    return wait_for(lambda: (t := client.tasks.retrieve(task_id)).status in _TERMINAL and t)


_TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def test_text_to_video_lifecycle_with_the_sdk_wait_helper(
    client: RunwayML, state: SimState, fast_wait: None
) -> None:
    created = client.text_to_video.create(
        model="gen4.5", prompt_text="a lighthouse", ratio="1280:720", duration=2
    )
    assert UUID.fullmatch(created.id) and created.estimated_cost.credits == 24
    first = client.tasks.retrieve(created.id)
    assert first.status == "PENDING" and ISO_MS.fullmatch(state.tasks[created.id].created_at)
    task = created.wait_for_task_output()
    assert task.status == "SUCCEEDED" and task.cost.credits == 24
    assert len(task.output) == 1 and "_jwt=" in task.output[0]
    video = httpx.get(task.output[0])  # a signed URL: no auth header
    assert video.headers["content-type"] == "video/mp4"
    width, height, seconds = video_shape(video.content)
    assert (width, height) == (1280, 720) and abs(seconds - 2) < 0.2
    sent = state.tasks[created.id]
    assert sent.endpoint == "text_to_video"
    assert sent.headers["x-runway-version"] == "2024-11-06"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body == {
        "model": "gen4.5",
        "promptText": "a lighthouse",
        "ratio": "1280:720",
        "duration": 2,
    }


def test_running_progress_is_a_fraction(client: RunwayML) -> None:
    created = client.text_to_video.create(
        model="veo3.1_fast", prompt_text="[sim:slow] rain", ratio="720:1280", duration=4
    )
    running = wait_for(lambda: (t := client.tasks.retrieve(created.id)).status == "RUNNING" and t)
    assert isinstance(running.progress, float) and 0 <= running.progress < 1
    assert running.estimated_cost.credits == 60  # audio defaults to on: 15 credits/s


def test_throttled_is_a_queued_state(client: RunwayML) -> None:
    created = client.text_to_video.create(
        model="veo3.1", prompt_text="[sim:throttled] busy", ratio="1280:720", audio=False
    )
    task = client.tasks.retrieve(created.id)
    assert task.status == "THROTTLED" and task.estimated_cost.credits == 160  # 8 s x 20
    assert finished(client, created.id).status == "SUCCEEDED"


def test_image_to_video_first_and_last_frame(client: RunwayML, state: SimState) -> None:
    created = client.image_to_video.create(
        model="veo3.1",
        prompt_image=[
            {"uri": png_uri(64, 36), "position": "first"},
            {"uri": png_uri(64, 36), "position": "last"},
        ],
        ratio="1080:1920",
        duration=4,
        negative_prompt="blur",
        seed=4_294_967_295,
    )
    sent = state.tasks[created.id]
    assert sent.endpoint == "image_to_video" and (sent.width, sent.height) == (1080, 1920)
    assert [i["position"] for i in sent.body["promptImage"]] == ["first", "last"]
    assert sent.body["negativePrompt"] == "blur" and sent.audio is True


def test_gen4_turbo_takes_a_first_frame_string(client: RunwayML, state: SimState) -> None:
    created = client.image_to_video.create(
        model="gen4_turbo", prompt_image=png_uri(64, 36), ratio="1584:672", duration=3
    )
    assert state.tasks[created.id].credits == 15
    with pytest.raises(runwayml.BadRequestError) as info:
        client.image_to_video.create(
            model="gen4_turbo",
            prompt_image=[{"uri": png_uri(64, 36), "position": "last"}],  # type: ignore[list-item]
            ratio="1280:720",
        )
    assert info.value.body["issues"][0]["path"] == ["promptImage", "0", "position"]


def test_validation_errors_have_runways_shape(client: RunwayML) -> None:
    with pytest.raises(runwayml.BadRequestError) as info:
        client.text_to_video.create(
            model="gen4.5",
            prompt_text="x",
            ratio="1104:832",  # type: ignore[arg-type]
            duration=5,
        )
    body = info.value.body
    assert body["error"] == "Validation of body failed"
    assert body["issues"][0]["path"] == ["ratio"]
    assert "'1280:720'|'720:1280'" in body["issues"][0]["message"]
    bad: list[tuple[dict[str, Any], list[str]]] = [
        ({"model": "gen3a_turbo"}, ["model"]),
        ({"promptText": "x" * 1001}, ["promptText"]),
        ({"promptText": "\U0001f600" * 501}, ["promptText"]),  # 1002 UTF-16 code units
        ({"seed": 4_294_967_296}, ["seed"]),
        ({"duration": 11}, ["duration"]),
        ({"prompt_text": "snake case"}, []),
    ]
    for change, path in bad:
        body = {"model": "gen4.5", "promptText": "ok", "ratio": "1280:720", "duration": 5}
        with pytest.raises(runwayml.BadRequestError) as info:
            client.post("/v1/text_to_video", body=body | change, cast_to=object)
        assert info.value.body["issues"][0]["path"] == path, change


def test_image_inputs_follow_runways_rules(http: httpx.Client) -> None:
    base = {"model": "gen4_turbo", "ratio": "1280:720"}
    cases = {
        "http://example.com/a.png": "Only HTTPS URLs are allowed.",
        "https://10.0.0.1/a.png": "URLs must be hosted on a domain.",
        "data:image/png;base64,@@@@": "Invalid data URI.",
        data_uri(b"x" * (5 * 1024 * 1024 + 1), "image/png"): "at most 5MB",
    }
    for uri, message in cases.items():
        response = http.post("/v1/image_to_video", json=base | {"promptImage": uri})
        assert response.status_code == 400
        assert message in response.json()["issues"][0]["message"]
    for uri in ("https://cdn.example.com/a.png", "runway://upload/abc"):
        response = http.post("/v1/image_to_video", json=base | {"promptImage": uri})
        assert response.status_code == 200, response.text


def test_video_to_video_keeps_the_source_shape(client: RunwayML, state: SimState) -> None:
    source = data_uri(mp4_bytes(320, 180, 2), "video/mp4")
    created = client.video_to_video.create(
        model="aleph2",
        video_uri=source,
        prompt_text="make it snow",
        content_moderation={"public_figure_threshold": "low"},
    )
    sent = state.tasks[created.id]
    assert (sent.width, sent.height, sent.seconds, sent.credits) == (320, 180, 2, 30)
    assert sent.body["contentModeration"] == {"publicFigureThreshold": "low"}
    assert sent.body["videoUri"].startswith("data:video/mp4;base64,")
    task = finished(client, created.id)
    assert video_shape(httpx.get(task.output[0]).content)[:2] == (320, 180)


def test_video_data_uri_over_16_mb_is_a_400(http: httpx.Client) -> None:
    big = "data:video/mp4;base64," + "A" * (22 * 1024 * 1024)
    response = http.post("/v1/video_to_video", json={"model": "aleph2", "videoUri": big})
    assert response.status_code == 400
    assert response.json()["issues"][0] | {"message": ""} == {
        "code": "too_big",
        "maximum": 16 * 1024 * 1024,
        "path": ["videoUri"],
        "message": "",
    }


def test_output_url_needs_its_signature(client: RunwayML) -> None:
    created = client.text_to_video.create(
        model="gen4.5", prompt_text="signed", ratio="720:1280", duration=2
    )
    url = finished(client, created.id).output[0]
    assert httpx.get(url.split("?")[0]).status_code == 403
    assert httpx.get(url[:-4] + "0000").status_code == 403
    assert httpx.get(url).status_code == 200


def test_bad_key_is_a_401_with_a_string_error(base_url: str) -> None:
    sdk = RunwayML(api_key="key_wrong", base_url=base_url, max_retries=0)
    with sdk, pytest.raises(runwayml.AuthenticationError) as info:
        sdk.tasks.retrieve("3f1c2a9e-5b7d-4c1e-9a0f-6d2b8e4c7a11")
    assert isinstance(info.value.body, dict) and isinstance(info.value.body["error"], str)


def test_version_header_is_required(base_url: str) -> None:
    response = httpx.get(f"{base_url}/v1/organization", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 400 and "X-Runway-Version" in response.json()["error"]
    with (
        RunwayML(api_key=KEY, base_url=base_url, max_retries=0, runway_version="2023-01-01") as sdk,
        pytest.raises(runwayml.BadRequestError),
    ):
        sdk.organization.retrieve()


def test_organization(client: RunwayML) -> None:
    client.text_to_video.create(model="veo3", prompt_text="count", ratio="1280:720", duration=8)
    org = client.organization.retrieve()
    assert org.credit_balance == 100_000 - 320


def test_delete_cancels_a_running_task_and_deletes_a_finished_one(
    client: RunwayML, state: SimState
) -> None:
    running = client.text_to_video.create(
        model="gen4.5", prompt_text="[sim:slow] cancel me", ratio="1280:720", duration=2
    )
    done = client.text_to_video.create(
        model="gen4.5", prompt_text="delete me", ratio="1280:720", duration=2
    )
    finished(client, done.id)
    client.tasks.delete(running.id)
    client.tasks.delete(done.id)
    assert state.deleted == {running.id: "cancelled", done.id: "deleted"}
    for task_id in (running.id, done.id):
        with pytest.raises(runwayml.NotFoundError):
            client.tasks.retrieve(task_id)


def test_fail_marker_is_a_failed_task(client: RunwayML, fast_wait: None) -> None:
    created = client.text_to_video.create(
        model="gen4.5", prompt_text="[sim:fail] nope", ratio="1280:720", duration=2
    )
    with pytest.raises(polling.TaskFailedError) as info:
        created.wait_for_task_output()
    task = info.value.task_details
    assert task.status == "FAILED" and task.failure_code == "SAFETY.INPUT.TEXT"
    assert task.failure and task.cost.credits == 0


def test_create_faults(client: RunwayML) -> None:
    args: dict[str, Any] = {"model": "gen4.5", "ratio": "1280:720", "duration": 2}
    with pytest.raises(runwayml.RateLimitError) as limited:
        client.text_to_video.create(prompt_text="[sim:429] busy", **args)
    assert limited.value.response.headers["retry-after"] == "1"
    with pytest.raises(runwayml.InternalServerError) as broken:
        client.text_to_video.create(prompt_text="[sim:500] down", **args)
    assert broken.value.status_code == 503 and isinstance(broken.value.body["error"], str)


def test_poll_faults(client: RunwayML, http: httpx.Client) -> None:
    args: dict[str, Any] = {"model": "gen4.5", "ratio": "1280:720", "duration": 2}
    throttled = client.text_to_video.create(prompt_text="[sim:poll-429] later", **args)
    with pytest.raises(runwayml.RateLimitError):
        client.tasks.retrieve(throttled.id)
    assert client.tasks.retrieve(throttled.id).status in ("PENDING", "RUNNING", "SUCCEEDED")
    broken = client.text_to_video.create(prompt_text="[sim:malformed] odd", **args)
    with pytest.raises(ValueError):
        http.get(f"/v1/tasks/{broken.id}").json()
    assert http.get(f"/v1/tasks/{broken.id}").json()["id"] == broken.id
    odd = client.text_to_video.create(prompt_text="[sim:unknown-status] odd", **args)
    seen = wait_for(lambda: http.get(f"/v1/tasks/{odd.id}").json()["status"] != "PENDING")
    assert http.get(f"/v1/tasks/{odd.id}").json()["status"] in ("PREPARING_ASSETS", "SUCCEEDED")
    assert seen


def test_slow_marker_takes_ten_times_as_long(client: RunwayML, state: SimState) -> None:
    created = client.text_to_video.create(
        model="gen4.5", prompt_text="[sim:slow] patience", ratio="1280:720", duration=2
    )
    assert state.tasks[created.id].timeline.duration_s == pytest.approx(10 * FAST.job_seconds)


def test_hang_answers_late_and_gives_up_when_the_client_does() -> None:
    config = SimulatorConfig(api_key=KEY, hang_seconds=0.3)
    app = create_app(config)
    body = {"model": "gen4.5", "promptText": "[sim:hang] x", "ratio": "1280:720", "duration": 2}
    headers = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
    with serve(app) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/v1/text_to_video", json=body, headers=headers, timeout=0.1)
        started = time.monotonic()
        response = httpx.post(f"{url}/v1/text_to_video", json=body, headers=headers)
        assert response.status_code == 200 and time.monotonic() - started >= 0.3
        log = wait_for(lambda: len(httpx.get(f"{url}/__sim__/log").json()) == 2 and True)
        assert log
