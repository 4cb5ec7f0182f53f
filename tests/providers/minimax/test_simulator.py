"""The MiniMax simulator over real HTTP on loopback, driven with plain httpx as the docs do.

MiniMax has no official Python SDK: the platform docs call the API with a bare HTTP client,
so these tests do the same and check every reply against the documented shapes.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.providers.simulators import SimSetup
from tests.support import png_uri, video_shape, wait_for
from vidgate.providers.minimax.simulator import SimState, SimulatorConfig, create_app

KEY = "sk-api-" + "ab" * 32
FAST = SimulatorConfig(api_key=KEY, job_seconds=0.6, queued_seconds=0.3)
SIMULATOR = SimSetup(create_app, FAST, headers={"Authorization": f"Bearer {KEY}"})


def create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/v1/video_generation", json={"model": "MiniMax-Hailuo-2.3", **body})
    assert response.status_code == 200
    return dict(response.json())


def query(http: httpx.Client, task_id: str) -> dict[str, Any]:
    response = http.get("/v1/query/video_generation", params={"task_id": task_id})
    assert response.status_code == 200
    return dict(response.json())


def finished(http: httpx.Client, task_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = query(http, task_id)
        return body if body["status"] in ("Success", "Fail") else None

    result: dict[str, Any] = wait_for(done)
    return result


# --- v1 ---------------------------------------------------------------------------------


def test_v1_text_to_video_three_step_result(http: httpx.Client, state: SimState) -> None:
    created = create(http, prompt="a paper boat", duration=6, resolution="768P")
    assert set(created) == {"task_id", "base_resp"}
    assert created["base_resp"] == {"status_code": 0, "status_msg": "success"}
    task_id = created["task_id"]
    assert isinstance(task_id, str) and task_id.isdigit()
    first = query(http, task_id)
    assert first["status"] in ("Preparing", "Queueing")
    assert "file_id" not in first or first["file_id"] == ""
    success = finished(http, task_id)
    assert success["status"] == "Success"
    assert set(success) == {
        "task_id",
        "status",
        "file_id",
        "video_width",
        "video_height",
        "base_resp",
    }
    assert isinstance(success["file_id"], str) and success["file_id"].isdigit()
    assert (success["video_width"], success["video_height"]) == (1366, 768)
    retrieved = http.get("/v1/files/retrieve", params={"file_id": success["file_id"]}).json()
    file = retrieved["file"]
    assert retrieved["base_resp"]["status_code"] == 0
    assert isinstance(file["file_id"], int) and str(file["file_id"]) == success["file_id"]
    assert file["filename"] == "output.mp4" and file["purpose"] == "video_generation"
    assert isinstance(file["bytes"], int) and isinstance(file["created_at"], int)
    # The download URL is signed: it needs no Authorization header.
    video = httpx.get(file["download_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    width, height, seconds = video_shape(video.content)
    assert (width, height) == (1366, 768) and seconds == pytest.approx(6, abs=0.3)
    raw = http.get("/v1/files/retrieve_content", params={"file_id": success["file_id"]})
    assert raw.content == video.content


def test_v1_statuses_move_from_queued_to_processing(http: httpx.Client) -> None:
    task_id = create(http, prompt="slow one [sim:slow]")["task_id"]
    statuses: list[str] = []

    def processing() -> bool:
        statuses.append(query(http, task_id)["status"])
        return statuses[-1] == "Processing"

    wait_for(processing)
    assert statuses[0] in ("Preparing", "Queueing")


def test_v1_auth_errors_are_http_200_business_codes(base_url: str, state: SimState) -> None:
    body = {"model": "MiniMax-Hailuo-2.3", "prompt": "x"}
    missing = httpx.post(f"{base_url}/v1/video_generation", json=body)
    assert missing.status_code == 200 and missing.json()["base_resp"]["status_code"] == 1004
    wrong = httpx.post(
        f"{base_url}/v1/video_generation", json=body, headers={"Authorization": "Bearer sk-no"}
    )
    assert wrong.status_code == 200 and wrong.json()["base_resp"]["status_code"] == 2049
    assert state.tasks == {}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"resolution": "1080P", "duration": 10}, "10s"),
        ({"resolution": "512P"}, "resolution"),
        ({"duration": 8}, "duration"),
        ({"model": "MiniMax-Hailuo-2.3-Fast"}, "first_frame_image is required"),
        ({"last_frame_image": "https://example.com/l.png"}, "last_frame_image"),
        ({"first_frame_image": "ftp://example.com/f.png"}, "first_frame_image"),
        ({"model": "T2V-01", "fast_pretreatment": True}, "fast_pretreatment"),
        ({"model": "S2V-01"}, "subject_reference"),
        ({"prompt": "x" * 2001}, "2000"),
        ({"model": "Hailuo-99"}, "model"),
    ],
)
def test_v1_invalid_params_are_2013(
    http: httpx.Client, body: dict[str, Any], fragment: str
) -> None:
    reply = create(http, **{"prompt": "p", **body})
    assert reply["base_resp"]["status_code"] == 2013
    assert fragment in reply["base_resp"]["status_msg"]


def test_v1_images_and_options(http: httpx.Client, state: SimState) -> None:
    reply = create(
        http,
        model="MiniMax-Hailuo-02",
        prompt="from first to last",
        resolution="512P",
        duration=10,
        first_frame_image=png_uri(),
        last_frame_image="https://example.com/last.jpg",
        prompt_optimizer=False,
        fast_pretreatment=True,
    )
    assert reply["base_resp"]["status_code"] == 0
    task = state.tasks[reply["task_id"]]
    assert (task.width, task.height, task.seconds) == (912, 512, 10)
    assert task.body["first_frame_image"].startswith("data:image/png;base64,")
    subject = create(
        http,
        model="S2V-01",
        prompt="the same character",
        subject_reference=[{"type": "character", "image": ["https://example.com/face.png"]}],
    )
    assert subject["base_resp"]["status_code"] == 0
    assert (state.tasks[subject["task_id"]].width, state.tasks[subject["task_id"]].height) == (
        1280,
        720,
    )


def test_v1_failure_and_faults(http: httpx.Client, base_url: str) -> None:
    failed = finished(http, create(http, prompt="[sim:fail] blocked")["task_id"])
    assert failed["status"] == "Fail" and failed["base_resp"]["status_code"] == 1027
    assert create(http, prompt="[sim:429]")["base_resp"]["status_code"] == 1002
    assert create(http, prompt="[sim:code-1008]")["base_resp"]["status_code"] == 1008
    server = http.post(
        "/v1/video_generation", json={"model": "MiniMax-Hailuo-2.3", "prompt": "[sim:500]"}
    )
    assert server.status_code == 500
    task_id = create(http, prompt="[sim:poll-429]")["task_id"]
    edge = http.get("/v1/query/video_generation", params={"task_id": task_id})
    assert edge.status_code == 429 and edge.headers["retry-after"] == "1"
    task_id = create(http, prompt="[sim:malformed]")["task_id"]
    broken = http.get("/v1/query/video_generation", params={"task_id": task_id})
    with pytest.raises(ValueError):
        broken.json()
    assert query(http, task_id)["status"] in ("Preparing", "Queueing", "Processing", "Success")
    odd = create(http, prompt="[sim:unknown-status] [sim:slow]")["task_id"]
    wait_for(lambda: query(http, odd)["status"] == "Rendering")


def test_v1_hang_gives_up_when_the_client_leaves(http: httpx.Client, state: SimState) -> None:
    with pytest.raises(httpx.ReadTimeout):
        http.post(
            "/v1/video_generation",
            json={"model": "MiniMax-Hailuo-2.3", "prompt": "[sim:hang]"},
            timeout=0.5,
        )
    assert state.tasks == {}


def test_download_url_signature_is_checked(http: httpx.Client, base_url: str) -> None:
    done = finished(http, create(http, prompt="signed")["task_id"])
    file = http.get("/v1/files/retrieve", params={"file_id": done["file_id"]}).json()["file"]
    tampered = file["download_url"].replace("Signature=", "Signature=0")
    assert httpx.get(tampered).status_code == 403
    unknown = http.get("/v1/files/retrieve", params={"file_id": "1"}).json()
    assert unknown["base_resp"]["status_code"] == 2013


# --- v2 (MiniMax-H3) ------------------------------------------------------------------


def v2_create(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v2/video_generation", json={"model": "MiniMax-H3", **body})


def v2_query(http: httpx.Client, task_id: str) -> dict[str, Any]:
    response = http.get(f"/v2/query/video_generation/{task_id}")
    assert response.status_code == 200
    return dict(response.json())


def test_v2_content_array_lifecycle(http: httpx.Client, state: SimState) -> None:
    # The reference's request body, with a data URL in place of the example's image URL.
    body = {
        "content": [
            {"type": "text", "text": "A paper boat drifting down a rainy street"},
            {"type": "image_url", "image_url": {"url": png_uri()}, "role": "first_frame"},
        ],
        "resolution": "768P",
        "ratio": "1:1",
        "duration": 4,
        "callback_url": "https://example.com/hook",
        "aigc_watermark": False,
    }
    created = v2_create(http, **body)
    assert created.status_code == 200 and set(created.json()) == {"task_id"}
    task_id = created.json()["task_id"]
    assert v2_query(http, task_id)["task"]["status"] == "queued"
    task = wait_for(
        lambda: (t := v2_query(http, task_id)["task"])["status"] == "succeeded" and t, timeout=10
    )
    assert task["id"] == task_id and task["model"] == "MiniMax-H3" and task["error"] is None
    assert (task["resolution"], task["duration"], task["ratio"]) == ("768P", 4, "1:1")
    assert task["usage"]["total_seconds"] == 4 and task["usage"]["input_image_count"] == 1
    video = httpx.get(task["content"]["url"])
    width, height, seconds = video_shape(video.content)
    assert (width, height) == (768, 768) and seconds == pytest.approx(4, abs=0.3)


@pytest.mark.parametrize(
    ("ratio", "resolution", "size"),
    [
        ("16:9", "768P", (1366, 768)),
        ("9:16", "768P", (768, 1366)),
        ("21:9", "768P", (1792, 768)),
        ("4:3", "2K", (1920, 1440)),
        ("3:4", "2K", (1440, 1920)),
    ],
)
def test_v2_output_size_follows_ratio_and_resolution(
    http: httpx.Client, state: SimState, ratio: str, resolution: str, size: tuple[int, int]
) -> None:
    text = [{"type": "text", "text": "shape"}]
    created = v2_create(http, content=text, ratio=ratio, resolution=resolution)
    task = state.tasks[created.json()["task_id"]]
    assert (task.width, task.height) == size


def test_v2_validation_and_cancel(http: httpx.Client, state: SimState) -> None:
    text_only = v2_create(http, content=[{"type": "text", "text": "x"}], ratio="adaptive")
    assert text_only.json()["base_resp"]["status_code"] == 2013
    long = v2_create(http, content=[{"type": "text", "text": "x"}], ratio="16:9", duration=16)
    assert long.json()["base_resp"]["status_code"] == 2013
    slow = v2_create(http, content=[{"type": "text", "text": "[sim:slow]"}], ratio="16:9")
    task_id = slow.json()["task_id"]
    cancel = http.delete(f"/v2/video_generation/{task_id}")
    assert cancel.status_code == 200 and cancel.json()["base_resp"]["status_code"] == 0
    assert v2_query(http, task_id)["task"]["status"] == "cancelled"
    again = http.delete(f"/v2/video_generation/{task_id}")
    assert again.json()["base_resp"]["status_code"] == 2013
    assert state.deleted[task_id] == "cancelled"


def test_v2_failure(http: httpx.Client) -> None:
    created = v2_create(http, content=[{"type": "text", "text": "[sim:fail]"}], ratio="1:1")
    task_id = created.json()["task_id"]
    task = wait_for(
        lambda: (t := v2_query(http, task_id)["task"])["status"] == "failed" and t, timeout=10
    )
    assert task["error"] == {"code": 1027, "message": "output new_sensitive"}
    assert task["content"] is None
