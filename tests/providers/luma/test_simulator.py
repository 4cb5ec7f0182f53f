"""The Luma Dream Machine simulator, driven over real HTTP by the official ``lumaai`` SDK."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import httpx
import lumaai
import pytest
from lumaai import LumaAI
from lumaai.types import Generation
from PIL import Image

from tests.providers.simulators import SimSetup, decoded_shape
from vidgate.providers.luma.simulator import SimState, SimulatorConfig, create_app

KEY = "luma-test-key"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CONFIG = SimulatorConfig(api_key=KEY, job_seconds=0.3, queued_seconds=0.05, hang_seconds=1.0)
SIMULATOR = SimSetup(
    create_app, CONFIG, headers={"Authorization": f"Bearer {KEY}"}, path="/dream-machine/v1"
)


@pytest.fixture
def client(base_url: str, state: SimState) -> LumaAI:
    return LumaAI(auth_token=KEY, base_url=f"{base_url}/dream-machine/v1", max_retries=0)


def finish(client: LumaAI, generation_id: str) -> Generation:
    deadline = time.monotonic() + 20
    while True:
        generation = client.generations.get(generation_id)
        if generation.state in ("completed", "failed"):
            return generation
        assert time.monotonic() < deadline, generation.state
        time.sleep(0.03)


def test_create_poll_and_download(client: LumaAI) -> None:
    raw = client.generations.with_raw_response.create(
        model="ray-2",
        prompt="a hot-air balloon over a canyon",
        aspect_ratio="16:9",
        resolution="540p",
        duration="5s",
        loop=True,
    )
    assert raw.status_code == 201
    assert raw.http_request.url.path == "/dream-machine/v1/generations/video"
    assert raw.http_request.headers["authorization"] == f"Bearer {KEY}"
    created = raw.parse()
    assert UUID.fullmatch(created.id or "") and created.state == "queued"
    assert created.generation_type == "video" and created.model == "ray-2"
    assert created.assets is None and created.failure_reason is None
    assert created.created_at is not None and created.created_at.tzinfo is not None
    request = created.request
    assert isinstance(request, lumaai.types.generation.RequestGenerationRequest)
    assert (request.duration, request.resolution, request.loop) == ("5s", "540p", True)
    done = finish(client, created.id or "")
    assert done.state == "completed" and done.assets is not None
    video, image = done.assets.video or "", done.assets.image or ""
    assert video.endswith(".mp4") and image.endswith(".jpg")
    response = httpx.get(video)  # a CDN URL: no auth
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    width, height, seconds = decoded_shape(response.content)
    assert (width, height) == (960, 540) and abs(seconds - 5) <= 0.5
    thumbnail = Image.open(io.BytesIO(httpx.get(image).content))
    assert thumbnail.format == "JPEG" and thumbnail.size == (960, 540)


def test_states_go_queued_dreaming_completed(client: LumaAI) -> None:
    created = client.generations.video.create(model="ray-flash-2", prompt="waves")
    seen = [created.state]
    while seen[-1] != "completed":
        state = client.generations.get(created.id or "").state
        if state != seen[-1]:
            seen.append(state)
        time.sleep(0.01)
    assert seen == ["queued", "dreaming", "completed"]


def test_legacy_generations_path_and_defaults(http: httpx.Client) -> None:
    response = http.post("/generations", json={"model": "ray-2", "prompt": "a fox"})
    assert response.status_code == 201
    echo = response.json()["request"]
    assert echo["generation_type"] == "video" and echo["prompt"] == "a fox"


def test_portrait_and_wide_ratios_have_their_sizes(client: LumaAI) -> None:
    created = client.generations.create(
        model="ray-2", prompt="tall", aspect_ratio="9:21", resolution="540p", duration="5s"
    )
    done = finish(client, created.id or "")
    assert done.assets is not None  # the thumbnail has the video's frame size
    assert Image.open(io.BytesIO(httpx.get(done.assets.image or "").content)).size == (540, 1260)


def test_extend_by_generation_keyframe(client: LumaAI) -> None:
    source = client.generations.create(model="ray-2", prompt="a road", resolution="540p")
    assert finish(client, source.id or "").state == "completed"
    extended = client.generations.create(
        model="ray-2",
        prompt="the road goes on",
        duration="5s",
        resolution="540p",
        keyframes={
            "frame0": {"type": "generation", "id": source.id or ""},
            "frame1": {"type": "image", "url": "https://images.example/end.jpg"},
        },
    )
    assert extended.request is not None
    done = finish(client, extended.id or "")
    assert done.assets is not None
    width, height, seconds = decoded_shape(httpx.get(done.assets.video or "").content)
    assert (width, height) == (960, 540) and abs(seconds - 10) <= 0.5


def test_keyframe_errors(client: LumaAI) -> None:
    with pytest.raises(lumaai.BadRequestError, match="not found"):
        client.generations.create(
            model="ray-2",
            prompt="x",
            keyframes={
                "frame0": {"type": "generation", "id": "0" * 8 + "-0000-0000-0000-" + "0" * 12}
            },
        )
    with pytest.raises(lumaai.BadRequestError) as excinfo:
        client.generations.create(
            model="ray-2",
            prompt="x",
            keyframes={"frame0": {"type": "image", "url": "data:image/png;base64,AAAA"}},
        )
    assert excinfo.value.body == {
        "detail": "Invalid image url for keyframe frame0: must be http(s)."
    }
    running = client.generations.create(model="ray-2", prompt="busy")
    with pytest.raises(lumaai.BadRequestError, match="not completed"):
        client.generations.create(
            model="ray-2",
            prompt="x",
            keyframes={"frame0": {"type": "generation", "id": running.id or ""}},
        )


def test_bad_key_is_401_with_detail(base_url: str) -> None:
    bad = LumaAI(auth_token="wrong", base_url=f"{base_url}/dream-machine/v1", max_retries=0)
    with pytest.raises(lumaai.AuthenticationError) as excinfo:
        bad.generations.create(model="ray-2", prompt="x")
    assert excinfo.value.body == {"detail": "Invalid API key provided"}
    assert httpx.get(f"{base_url}/dream-machine/v1/ping").status_code == 401


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"model": "ray-2", "prompt": "x", "duration": 5}, ["body", "duration"]),
        ({"model": "ray-9", "prompt": "x"}, ["body", "model"]),
        ({"prompt": "x"}, ["body", "model"]),
        ({"model": "ray-2", "prompt": "x", "aspect_ratio": "2:1"}, ["body", "aspect_ratio"]),
        ({"model": "ray-2", "prompt": "x", "loop": "yes"}, ["body", "loop"]),
        ({"model": "ray-2", "prompt": "x", "keyframes": {"frame0": {"type": "video"}}}, None),
    ],
)
def test_validation_errors_are_fastapi_422(
    client: LumaAI, body: dict[str, Any], loc: list[str] | None
) -> None:
    with pytest.raises(lumaai.UnprocessableEntityError) as excinfo:
        client.post("/generations/video", body=body, cast_to=Generation)
    detail = excinfo.value.body["detail"]  # type: ignore[index]
    assert isinstance(detail, list) and {"type", "loc", "msg"} <= set(detail[0])
    if loc is not None:
        assert detail[0]["loc"] == loc


def test_per_model_limits_are_400(client: LumaAI) -> None:
    with pytest.raises(lumaai.BadRequestError, match="Resolution 1080p"):
        client.generations.create(model="ray-1-6", prompt="x", resolution="1080p")  # type: ignore[arg-type]
    with pytest.raises(lumaai.BadRequestError, match="Duration 7s"):
        client.generations.create(model="ray-2", prompt="x", duration="7s")
    with pytest.raises(lumaai.BadRequestError, match="prompt"):
        client.generations.create(model="ray-2")


def test_list_and_delete(client: LumaAI) -> None:
    ids = [client.generations.create(model="ray-2", prompt=f"p{i}").id for i in range(3)]
    page = client.generations.list(limit=2, offset=0)
    assert [g.id for g in page.generations] == ids[::-1][:2]
    assert page.has_more is True and page.count == 2 and page.limit == 2 and page.offset == 0
    rest = client.generations.list(limit=2, offset=2)
    assert [g.id for g in rest.generations] == ids[:1] and rest.has_more is False
    raw = client.generations.with_raw_response.delete(ids[0] or "")
    assert raw.status_code == 204 and raw.parse() is None
    with pytest.raises(lumaai.NotFoundError) as excinfo:
        client.generations.get(ids[0] or "")
    assert excinfo.value.body == {"detail": "Generation not found"}
    with pytest.raises(lumaai.NotFoundError):
        client.generations.delete(ids[0] or "")


def test_account_routes(client: LumaAI) -> None:
    assert client.ping.check().message == "pong"
    assert client.credits.get().credit_balance == CONFIG.credit_balance
    assert "dolly_zoom" in client.generations.concepts.list()


def test_fail_marker_fails_with_reason(client: LumaAI) -> None:
    created = client.generations.create(model="ray-2", prompt="[sim:fail] forbidden")
    done = finish(client, created.id or "")
    assert done.state == "failed" and done.assets is None
    assert "moderation" in (done.failure_reason or "")


def test_create_faults(client: LumaAI) -> None:
    with pytest.raises(lumaai.RateLimitError) as limited:
        client.generations.create(model="ray-2", prompt="[sim:429] busy")
    assert limited.value.response.headers["retry-after"] == "1"
    assert isinstance(limited.value.body, dict) and "detail" in limited.value.body
    with pytest.raises(lumaai.InternalServerError):
        client.generations.create(model="ray-2", prompt="[sim:500] broken")


def test_hang_marker_delays_the_create(client: LumaAI) -> None:
    with pytest.raises(lumaai.APITimeoutError):
        client.with_options(timeout=0.2).generations.create(model="ray-2", prompt="[sim:hang]")
    started = time.monotonic()
    created = client.generations.create(model="ray-2", prompt="[sim:hang] patient")
    assert created.state == "queued" and time.monotonic() - started >= CONFIG.hang_seconds * 0.9


def test_poll_faults(client: LumaAI, http: httpx.Client) -> None:
    unknown = client.generations.create(model="ray-2", prompt="[sim:unknown-status]")
    time.sleep(0.1)
    body = http.get(f"/generations/{unknown.id}").json()
    assert body["state"] == "processing"
    assert finish(client, unknown.id or "").state == "completed"

    malformed = client.generations.create(model="ray-2", prompt="[sim:malformed]")
    first = http.get(f"/generations/{malformed.id}")
    with pytest.raises(ValueError):
        first.json()
    assert finish(client, malformed.id or "").state == "completed"

    limited = client.generations.create(model="ray-2", prompt="[sim:poll-429]")
    with pytest.raises(lumaai.RateLimitError):
        client.generations.get(limited.id or "")
    assert finish(client, limited.id or "").state == "completed"


def test_slow_marker_takes_longer(client: LumaAI) -> None:
    slow = client.generations.create(model="ray-2", prompt="[sim:slow]")
    time.sleep(CONFIG.job_seconds * 1.5)
    assert client.generations.get(slow.id or "").state == "dreaming"


def test_cdn_404_until_completed_and_log(client: LumaAI, base_url: str) -> None:
    created = client.generations.create(model="ray-2", prompt="[sim:slow] later")
    assert httpx.get(f"{base_url}/cdn/{created.id}/video.mp4").status_code == 404
    log = httpx.get(f"{base_url}/__sim__/log").json()
    assert [(e["method"], e["path"], e["status_code"]) for e in log[-2:]] == [
        ("POST", "/dream-machine/v1/generations/video", 201),
        ("GET", f"/cdn/{created.id}/video.mp4", 404),
    ]
