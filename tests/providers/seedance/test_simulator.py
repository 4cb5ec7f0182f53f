"""The Seedance simulator, driven over real HTTP on loopback by the official Ark SDKs:
``volcengine-python-sdk[ark]`` (Volcengine) and ``byteplus-python-sdk-v2`` (BytePlus)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from byteplussdkarkruntime import Ark as BytePlusArk
from volcenginesdkarkruntime import Ark
from volcenginesdkarkruntime._exceptions import (
    ArkAuthenticationError,
    ArkBadRequestError,
    ArkInternalServerError,
    ArkNotFoundError,
    ArkRateLimitError,
)

from tests.providers.simulators import SimSetup, decoded_shape
from tests.support import png_uri, wait_for
from vidgate.providers.seedance.simulator import SimState, SimulatorConfig, create_app

KEY = "ark-" + "ab12" * 8
LITE = "doubao-seedance-1-0-lite-t2v-250428"
V15 = "doubao-seedance-1-5-pro-251215"
V20 = "doubao-seedance-2-0-260128"
TASK_ID = re.compile(r"cgt-\d{14}-[0-9a-f]{5}")
TERMINAL = ("succeeded", "failed", "expired", "cancelled")
FAST = SimulatorConfig(
    api_key=KEY, job_seconds=0.4, queued_seconds=0.05, endpoints={"ep-20260101-abcde": V15}
)
SIMULATOR = SimSetup(create_app, FAST)


@pytest.fixture
def ark(base_url: str, state: SimState) -> Ark:
    return Ark(base_url=f"{base_url}/api/v3", api_key=KEY, max_retries=0)


@pytest.fixture
def byteplus(base_url: str, state: SimState) -> Any:
    return BytePlusArk(base_url=f"{base_url}/api/v3", api_key=KEY, max_retries=0)


def text(prompt: str) -> dict[str, Any]:
    return {"type": "text", "text": prompt}


def image(url: str, role: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, "role": role}


def finished(client: Any, task_id: str) -> Any:
    return wait_for(
        lambda: (
            (t := client.content_generation.tasks.get(task_id=task_id)).status in TERMINAL and t
        ),
        timeout=10,
    )


def test_volcengine_sdk_create_poll_download(ark: Ark, state: SimState) -> None:
    created = ark.content_generation.tasks.create(
        model=V15,
        content=[text("a fox in the snow"), image(png_uri(), "first_frame")],
        resolution="480p",
        ratio="16:9",
        duration=4,
        seed=11,
        generate_audio=False,
        return_last_frame=True,
    )
    assert TASK_ID.fullmatch(created.id)
    first = ark.content_generation.tasks.get(task_id=created.id)
    assert first.status in ("queued", "running") and first.content is None
    task = finished(ark, created.id)
    assert task.status == "succeeded" and task.model == V15
    assert (task.resolution, task.ratio, task.duration, task.seed) == ("480p", "16:9", 4, 11)
    assert task.framespersecond == 24 and task.generate_audio is False
    assert isinstance(task.created_at, int) and task.created_at > 1_700_000_000
    assert task.usage.completion_tokens == 864 * 480 * (24 * 4 + 1) // 1024
    assert task.usage.total_tokens == task.usage.completion_tokens
    width, height, seconds = decoded_shape(httpx.get(task.content.video_url).content)
    assert (width, height) == (864, 480) and seconds == pytest.approx(4, abs=0.1)
    frame = httpx.get(task.content.last_frame_url)
    assert frame.headers["content-type"] == "image/jpeg"
    # The request reached the simulator as the SDK sent it: bearer key, nulls for unset fields.
    sent = state.tasks[created.id]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["frames"] is None and sent.body["camera_fixed"] is None
    assert sent.body["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_byteplus_sdk_and_model_names(byteplus: Any) -> None:
    created = byteplus.content_generation.tasks.create(
        model="dreamina-seedance-2-0-260128",
        content=[text("a city at night")],
        resolution="480p",
        ratio="9:16",
        duration=4,
    )
    task = finished(byteplus, created.id)
    assert task.status == "succeeded" and task.generate_audio is True
    assert task.usage.completion_tokens == 480 * 864 * 97 // 1024
    width, height, _ = decoded_shape(httpx.get(task.content.video_url).content)
    assert (width, height) == (480, 864)


def test_the_observed_720p_5s_token_count(ark: Ark) -> None:
    created = ark.content_generation.tasks.create(model=V20, content=[text("tokens")])
    assert finished(ark, created.id).usage.completion_tokens == 108_900


def test_legacy_flags_are_stripped_and_applied(ark: Ark, state: SimState) -> None:
    created = ark.content_generation.tasks.create(
        model=LITE,
        content=[text("a fox --rs 480p --rt 1:1 --dur 3 --seed 9 --cf true --wm false --x 1")],
    )
    checked = state.tasks[created.id].checked
    assert checked.prompt == "a fox --x 1"
    assert (checked.resolution, checked.ratio, checked.duration, checked.seed) == (
        "480p",
        "1:1",
        3,
        9,
    )
    assert (checked.camera_fixed, checked.watermark) == (True, False)
    # Body fields win over flags.
    created = ark.content_generation.tasks.create(
        model=LITE, content=[text("b --dur 3 --rs 480p")], duration=4
    )
    assert state.tasks[created.id].checked.duration == 4


def test_endpoint_ids_run_their_model(ark: Ark) -> None:
    created = ark.content_generation.tasks.create(
        model="ep-20260101-abcde", content=[text("on an endpoint")], resolution="480p"
    )
    task = finished(ark, created.id)
    assert task.model == "ep-20260101-abcde" and task.status == "succeeded"


def test_list_filters_and_pages(ark: Ark) -> None:
    ids = [
        ark.content_generation.tasks.create(model=LITE, content=[text(f"n{i}")]).id
        for i in range(3)
    ]
    other = ark.content_generation.tasks.create(model=V15, content=[text("other")]).id
    page = ark.content_generation.tasks.list(page_num=1, page_size=2, model=LITE)
    assert page.total == 3 and len(page.items) == 2
    chosen = ark.content_generation.tasks.list(task_ids=[ids[0], other])
    assert {t.id for t in chosen.items} == {ids[0], other}
    finished(ark, other)
    done = ark.content_generation.tasks.list(status="succeeded", task_ids=other)
    assert [t.id for t in done.items] == [other]


def test_delete_cancels_queued_and_deletes_finished(ark: Ark, state: SimState) -> None:
    queued = ark.content_generation.tasks.create(model=LITE, content=[text("[sim:slow] q")])
    ark.content_generation.tasks.delete(task_id=queued.id)
    assert state.deleted[queued.id] == "cancelled"
    assert ark.content_generation.tasks.get(task_id=queued.id).status == "cancelled"
    ark.content_generation.tasks.delete(task_id=queued.id)  # terminal now: deleted
    assert state.deleted[queued.id] == "deleted"
    with pytest.raises(ArkNotFoundError):
        ark.content_generation.tasks.get(task_id=queued.id)
    done = ark.content_generation.tasks.create(model=LITE, content=[text("done")])
    finished(ark, done.id)
    ark.content_generation.tasks.delete(task_id=done.id)
    assert state.deleted[done.id] == "deleted"


def test_delete_of_a_running_task_is_refused(ark: Ark) -> None:
    created = ark.content_generation.tasks.create(model=LITE, content=[text("[sim:slow] run")])
    wait_for(lambda: ark.content_generation.tasks.get(task_id=created.id).status == "running")
    with pytest.raises(ArkBadRequestError) as caught:
        ark.content_generation.tasks.delete(task_id=created.id)
    assert caught.value.code == "InvalidAction.TaskRunning"


def test_bad_key_is_an_ark_authentication_error(base_url: str) -> None:
    client = Ark(base_url=f"{base_url}/api/v3", api_key="ark-wrong", max_retries=0)
    with pytest.raises(ArkAuthenticationError) as caught:
        client.content_generation.tasks.create(model=LITE, content=[text("x")])
    assert (caught.value.code, caught.value.type) == ("AuthenticationError", "Unauthorized")
    assert "Request id:" in str(caught.value.body)
    missing = httpx.get(f"{base_url}/api/v3/contents/generations/tasks")
    assert missing.status_code == 401 and missing.headers["x-request-id"]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"model": LITE, "duration": 2}, "duration"),
        ({"model": V20, "duration": 16}, "duration"),
        ({"model": "doubao-seedance-2-0-fast-260128", "resolution": "1080p"}, "resolution"),
        ({"model": LITE, "ratio": "2:1"}, "ratio"),
        ({"model": LITE, "seed": -2}, "seed"),
        ({"model": LITE, "generate_audio": True}, "generate_audio"),
        ({"model": V20, "service_tier": "flex"}, "service_tier"),
        ({"model": V15, "frames": 121}, "frames"),
        ({"model": V15, "execution_expires_after": 60}, "execution_expires_after"),
    ],
)
def test_invalid_parameters(ark: Ark, kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(ArkBadRequestError) as caught:
        ark.content_generation.tasks.create(content=[text("x")], **kwargs)
    assert (caught.value.code, caught.value.param, caught.value.type) == (
        "InvalidParameter",
        param,
        "BadRequest",
    )
    assert f"`{param}`" in caught.value.body["message"]


@pytest.mark.parametrize(
    ("model", "content"),
    [
        (LITE, [text("x"), image(png_uri(), "first_frame")]),  # lite t2v takes no images
        (V15, [text("x"), image(png_uri(), "last_frame")]),  # last needs first
        (V15, [text("x"), image(png_uri(), "reference_image")]),  # 1.5 has no reference mode
        (V20, [image(png_uri(), "first_frame"), image(png_uri(), "reference_image")]),  # no mixing
        (V20, [image(png_uri(64, 36), "first_frame")]),  # under 300 px
        (V20, [image("data:image/svg+xml;base64,PHN2Zz4=", "first_frame")]),
        (
            "doubao-seedance-1-0-lite-i2v-250428",
            [image(png_uri(), "reference_image") for _ in range(5)],
        ),
    ],
)
def test_invalid_images(ark: Ark, model: str, content: list[dict[str, Any]]) -> None:
    with pytest.raises(ArkBadRequestError):
        ark.content_generation.tasks.create(model=model, content=content)


def test_adaptive_ratio_follows_the_first_frame(ark: Ark, state: SimState) -> None:
    created = ark.content_generation.tasks.create(
        model=V20, content=[image(png_uri(360, 640), "first_frame")], resolution="480p"
    )
    checked = state.tasks[created.id].checked
    assert checked.ratio == "adaptive" and (checked.width, checked.height) == (480, 864)


def test_unknown_model_and_task(ark: Ark) -> None:
    with pytest.raises(ArkNotFoundError) as caught:
        ark.content_generation.tasks.create(model="doubao-seedance-9", content=[text("x")])
    assert caught.value.code == "InvalidEndpointOrModel.NotFound"
    with pytest.raises(ArkNotFoundError):
        ark.content_generation.tasks.get(task_id="cgt-20260101000000-00000")


def test_failure_and_expiry(ark: Ark) -> None:
    failing = ark.content_generation.tasks.create(model=LITE, content=[text("[sim:fail] x")])
    expired = ark.content_generation.tasks.create(model=LITE, content=[text("[sim:expire] x")])
    failed = finished(ark, failing.id)
    assert failed.status == "failed" and failed.content is None and failed.usage is None
    assert failed.error.code == "OutputVideoSensitiveContentDetected"
    assert finished(ark, expired.id).status == "expired"
    with pytest.raises(ArkBadRequestError) as caught:
        ark.content_generation.tasks.create(model=LITE, content=[text("[sim:blocked] x")])
    assert caught.value.code == "InputTextSensitiveContentDetected"


def test_create_faults(ark: Ark, base_url: str) -> None:
    with pytest.raises(ArkRateLimitError) as limited:
        ark.content_generation.tasks.create(model=LITE, content=[text("[sim:429] x")])
    assert limited.value.code == "RateLimitExceeded.EndpointRPMExceeded"
    assert limited.value.response.headers["retry-after"] == "1"
    with pytest.raises(ArkInternalServerError) as broken:
        ark.content_generation.tasks.create(model=LITE, content=[text("[sim:500] x")])
    assert broken.value.code == "InternalServiceError"
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{base_url}/api/v3/contents/generations/tasks",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": LITE, "content": [text("[sim:hang] x")]},
            timeout=0.3,
        )


def test_poll_faults(ark: Ark, base_url: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    tasks = f"{base_url}/api/v3/contents/generations/tasks"
    create = ark.content_generation.tasks.create
    malformed = create(model=LITE, content=[text("[sim:malformed]")])
    limited = create(model=LITE, content=[text("[sim:poll-429]")])
    odd = create(model=LITE, content=[text("[sim:unknown-status]")])
    reply = httpx.get(f"{tasks}/{malformed.id}", headers=headers)
    with pytest.raises(ValueError):
        reply.json()
    assert httpx.get(f"{tasks}/{limited.id}", headers=headers).status_code == 429
    seen = wait_for(
        lambda: (s := ark.content_generation.tasks.get(task_id=odd.id).status) != "queued" and s
    )
    assert seen == "preprocessing"
    for task in (malformed, limited, odd):
        assert finished(ark, task.id).status == "succeeded"


def test_result_urls_are_signed(ark: Ark) -> None:
    created = ark.content_generation.tasks.create(model=LITE, content=[text("signed")])
    url = finished(ark, created.id).content.video_url
    assert "X-Tos-Signature=" in url
    forged = httpx.get(re.sub(r"X-Tos-Signature=\w+", "X-Tos-Signature=00", url))
    assert forged.status_code == 403 and "AccessDenied" in forged.text


def test_client_request_id_is_echoed(base_url: str, state: SimState) -> None:
    reply = httpx.get(
        f"{base_url}/api/v3/contents/generations/tasks",
        headers={"Authorization": f"Bearer {KEY}", "X-Client-Request-Id": "abc-1"},
    )
    assert reply.status_code == 200 and reply.headers["x-client-request-id"] == "abc-1"
    assert reply.json() == {"items": [], "total": 0}
