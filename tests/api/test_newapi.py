"""new-api's task routes (``/v1/video/generations``), over real HTTP on the embedded default.

Each example request is one a new-api client sends (docs/compat-newapi.md); each job is
followed to its end through the task route, the way new-api's own poller parses it, and
through the OpenAI surface, to show both surfaces see one job.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import struct
import zlib
from typing import Any

import httpx
import pytest

from tests.support import Gateway, png_uri, video_shape, wait_for
from vidgate.api.newapi import task_action, task_status
from vidgate.jobs.store import Job

MODEL = "local/preview"  # the embedded default's model
VIDEO_ID = re.compile(r"video_[0-9a-f]{32}")
TASK_STATUSES = {"SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE"}
GO_INTS = ("id", "created_at", "updated_at", "user_id", "channel_id", "quota")
GO_INTS += ("submit_time", "start_time", "finish_time")
GO_STRINGS = ("task_id", "platform", "group", "action", "status", "fail_reason", "progress")


@pytest.fixture(scope="module")
def keys(gateway: Gateway) -> tuple[str, str]:
    """The owner's key and another key."""
    return gateway.new_key(), gateway.new_key()


def png_bytes(width: int, height: int) -> bytes:
    return base64.b64decode(png_uri(width, height).split(",", 1)[1])


def png_with_corrupt_pixels(width: int = 64, height: int = 64) -> bytes:
    """A PNG whose chunks and checksums are valid but whose pixel data is not zlib."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", b"not zlib data" * 8)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def poll(http: httpx.Client, task_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/video/generations/{task_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def until_done(http: httpx.Client, task_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = poll(http, task_id)
        return body if body["data"]["status"] in ("SUCCESS", "FAILURE") else None

    result: dict[str, Any] = wait_for(done)
    return result


def as_newapi_poller(raw: bytes) -> dict[str, str]:
    """What a new-api polling vidgate as its upstream reads from a poll answer.

    ``service/task_polling.go`` (updateVideoSingleTask) first unmarshals the body into
    ``dto.TaskResponse[model.Task]``; if that succeeds and ``IsSuccess()`` (code
    ``"success"``) it takes ``Status``, ``Progress``, ``FailReason`` as the reason, and the
    URL: older builds ``t.FailReason``, newer ``t.GetResultURL()``, which — ``PrivateData``
    being ``json:"-"`` — falls back to a direct ``url`` in ``data`` (newest) or to
    ``FailReason``. A JSON value of the wrong Go type fails the whole unmarshal.
    """
    body = json.loads(raw)
    assert body["code"] == "success" and isinstance(body["message"], str)
    task = body["data"]
    for name in GO_INTS:
        assert type(task[name]) is int, name  # Go int / int64: no floats, bools or strings
    for name in GO_STRINGS:
        assert type(task[name]) is str, name
    properties = task["properties"]  # model.Properties: three strings
    assert set(properties) == {"input", "upstream_model_name", "origin_model_name"}
    assert all(type(value) is str for value in properties.values())
    assert task["status"] in TASK_STATUSES  # anything else is failed or skipped by the poller
    assert re.fullmatch(r"\d{1,3}%", task["progress"])
    data = task["data"] if isinstance(task["data"], dict) else {}
    output = data.get("output") if isinstance(data.get("output"), dict) else {}
    direct = [output.get("url"), data.get("video_url"), data.get("url")]
    newest = next((u for u in direct if isinstance(u, str) and u), task["fail_reason"])
    return {
        "status": task["status"],
        "progress": task["progress"],
        "reason": task["fail_reason"],
        "url_old": task["fail_reason"] if task["status"] == "SUCCESS" else "",
        "url_new": newest if task["status"] == "SUCCESS" else "",
    }


def check_created(body: dict[str, Any], prompt: str, seconds: str, size: str) -> str:
    assert VIDEO_ID.fullmatch(body["id"]) and body["task_id"] == body["id"]
    assert body["object"] == "video" and body["model"] == MODEL
    assert body["status"] in ("queued", "in_progress")
    assert type(body["progress"]) is int and 0 <= body["progress"] < 100
    assert type(body["created_at"]) is int
    assert body["completed_at"] is None and body["error"] is None and body["url"] is None
    assert (body["prompt"], body["seconds"], body["size"]) == (prompt, seconds, size)
    return str(body["id"])


def test_json_create_poll_download_and_one_job_on_both_surfaces(
    gateway: Gateway, keys: tuple[str, str]
) -> None:
    owner, _ = keys
    request = {
        "model": MODEL,
        "prompt": "a lighthouse at dusk",
        "duration": 2,
        "size": "640x360",
        "metadata": {"model": MODEL},
    }
    with gateway.http(owner) as http:
        created = http.post("/v1/video/generations", json=request)
        assert created.status_code == 200, created.text
        assert created.headers["content-type"] == "application/json"
        task_id = check_created(created.json(), "a lighthouse at dusk", "2", "640x360")

        early = poll(http, task_id)
        assert early["data"]["status"] in TASK_STATUSES and early["data"]["status"] != "FAILURE"
        as_newapi_poller(http.get(f"/v1/video/generations/{task_id}").content)

        body = until_done(http, task_id)
        raw = http.get(f"/v1/video/generations/{task_id}").content

    assert (body["code"], body["message"]) == ("success", "")
    task = body["data"]
    url = f"{gateway.url}/v1/videos/{task_id}/content"
    assert type(task["id"]) is int and task["id"] >= 1
    assert task["task_id"] == task_id
    assert task["platform"] == "local"
    assert (task["user_id"], task["group"], task["channel_id"], task["quota"]) == (0, "", 0, 0)
    assert task["action"] == "textGenerate"
    assert task["status"] == "SUCCESS" and task["progress"] == "100%"
    assert task["result_url"] == url and task["fail_reason"] == url  # legacy new-api: URL here
    submit, start, finish = task["submit_time"], task["start_time"], task["finish_time"]
    assert all(type(t) is int for t in (submit, start, finish))
    assert 0 < submit <= start <= finish
    assert task["created_at"] == submit and task["updated_at"] >= finish
    assert task["properties"] == {
        "input": "",
        "upstream_model_name": MODEL,
        "origin_model_name": MODEL,
    }
    assert task["data"]["id"] == task_id and task["data"]["status"] == "completed"
    assert task["data"]["url"] == url and task["data"]["progress"] == 100
    assert "local_" not in json.dumps(task)  # no upstream (renderer) id anywhere
    assert as_newapi_poller(raw) == {
        "status": "SUCCESS",
        "progress": "100%",
        "reason": url,
        "url_old": url,
        "url_new": url,
    }

    assert httpx.get(url).status_code == 401  # the content URL needs the owner's key
    with gateway.http(owner) as http:
        video = http.get(url)
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        width, height, duration = video_shape(video.content)
        assert (width, height) == (640, 360) and abs(duration - 2) < 0.2
        same = http.get(f"/v1/videos/{task_id}").json()
    assert same["id"] == task_id and same["status"] == "completed" and same["url"] == url
    retrieved = gateway.sdk(owner).videos.retrieve(task_id)
    assert retrieved.id == task_id and retrieved.status == "completed"
    assert retrieved.seconds == "2" and retrieved.size == "640x360"


def test_multipart_image_upload_string_seconds_and_metadata_string(
    gateway: Gateway, keys: tuple[str, str]
) -> None:
    owner, _ = keys
    form = {
        "model": MODEL,
        "prompt": "a square garden",
        "seconds": "1",
        "size": "480x480",
        "metadata": json.dumps({"model": MODEL}),
    }
    files = {"image": ("first-frame.png", png_bytes(480, 480), "image/png")}
    with gateway.http(owner) as http:
        created = http.post("/v1/video/generations", data=form, files=files)
        assert created.status_code == 200, created.text
        task_id = check_created(created.json(), "a square garden", "1", "480x480")
        task = until_done(http, task_id)["data"]
        assert task["status"] == "SUCCESS", task["fail_reason"]
        assert task["action"] == "generate"  # an image given: image-to-video
        video = http.get(task["result_url"])
    assert video_shape(video.content)[:2] == (480, 480)


def test_multipart_images_list(gateway: Gateway, keys: tuple[str, str]) -> None:
    owner, _ = keys
    form = {"model": MODEL, "prompt": "from a list", "duration": "1", "size": "640x360"}
    image = ("frame.png", png_bytes(640, 360), "image/png")
    with gateway.http(owner) as http:
        created = http.post("/v1/video/generations", data=form, files=[("images[]", image)])
        assert created.status_code == 200, created.text
        task_id = check_created(created.json(), "from a list", "1", "640x360")
        task = until_done(http, task_id)["data"]
        assert (task["status"], task["action"]) == ("SUCCESS", "generate")

        both = http.post(
            "/v1/video/generations",
            data=form,
            files=[("image", image), ("images[]", image)],
        )
    assert both.status_code == 400  # which image is the first frame? vidgate does not guess
    assert both.json()["code"] == both.json()["error"]["code"]
    assert both.json()["error"]["param"] == "images"


def test_input_reference_as_a_string(gateway: Gateway, keys: tuple[str, str]) -> None:
    owner, _ = keys
    request = {"model": MODEL, "prompt": "from a reference", "seconds": "1", "size": "320x180"}
    with gateway.http(owner) as http:
        created = http.post(
            "/v1/video/generations", json={**request, "input_reference": png_uri(320, 180)}
        )
        assert created.status_code == 200, created.text
        task = until_done(http, created.json()["task_id"])["data"]
        assert (task["status"], task["action"]) == ("SUCCESS", "generate")
        bad = http.post("/v1/video/generations", json={**request, "input_reference": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input_reference"


def test_a_failed_job_is_failure_with_its_reason(gateway: Gateway, keys: tuple[str, str]) -> None:
    owner, _ = keys
    broken = png_with_corrupt_pixels()  # passes the gateway's structural check, fails the render
    form = {"model": MODEL, "prompt": "never rendered", "seconds": "1", "size": "640x360"}
    with gateway.http(owner) as http:
        created = http.post(
            "/v1/video/generations", data=form, files={"image": ("x.png", broken, "image/png")}
        )
        assert created.status_code == 200, created.text
        task_id = created.json()["task_id"]
        body = until_done(http, task_id)
        raw = http.get(f"/v1/video/generations/{task_id}").content
        content = http.get(f"/v1/videos/{task_id}/content")
    task = body["data"]
    assert task["status"] == "FAILURE" and task["progress"] == "100%"
    assert "not a readable" in task["fail_reason"]
    assert str(gateway.data_dir) not in task["fail_reason"]  # no server paths
    assert "/tmp" not in task["fail_reason"] and "local_" not in task["fail_reason"]
    assert "result_url" not in task  # omitempty, as new-api
    assert task["finish_time"] >= task["submit_time"] > 0
    assert task["data"]["status"] == "failed"
    assert task["data"]["error"]["code"] == "render_failed"
    assert task["data"]["error"]["message"] == task["fail_reason"]
    parsed = as_newapi_poller(raw)
    assert (parsed["status"], parsed["reason"]) == ("FAILURE", task["fail_reason"])
    assert content.status_code == 400


def test_errors(gateway: Gateway, keys: tuple[str, str]) -> None:
    owner, other = keys
    with gateway.http(owner) as http:
        switched = http.post(
            "/v1/video/generations",
            json={"model": MODEL, "prompt": "x", "metadata": {"model": "sora-2"}},
        )
        no_prompt = http.post("/v1/video/generations", json={"model": MODEL, "duration": 1})
        bad_json = http.post(
            "/v1/video/generations",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        created = http.post(
            "/v1/video/generations",
            json={"model": MODEL, "prompt": "mine", "seconds": "1", "size": "320x180"},
        )
        unknown = http.get(f"/v1/video/generations/video_{'0' * 32}")
    with gateway.http(other) as http:
        foreign = http.get(f"/v1/video/generations/{created.json()['task_id']}")
    anonymous = httpx.post(
        f"{gateway.url}/v1/video/generations", json={"model": MODEL, "prompt": "x"}
    )
    anonymous_get = httpx.get(f"{gateway.url}/v1/video/generations/{created.json()['id']}")
    with gateway.http("sk-not-a-key") as http:
        wrong_key = http.get(f"/v1/video/generations/{created.json()['id']}")

    for response, param in ((switched, "metadata.model"), (no_prompt, "prompt")):
        assert response.status_code == 400, response.text
        body = response.json()
        assert set(body) == {"code", "message", "data", "error"} and body["data"] is None
        assert body["error"]["param"] == param and param in body["message"]
        assert body["code"] == body["error"]["code"] and body["message"] == body["error"]["message"]
    assert switched.json()["code"] == "invalid_value"
    assert bad_json.status_code == 400 and bad_json.json()["code"] == "invalid_json"

    for response in (unknown, foreign):
        assert response.status_code == 400
        body = response.json()
        assert (body["code"], body["message"], body["data"]) == (
            "task_not_exist",
            "task_not_exist",
            None,
        )

    for response in (anonymous, anonymous_get, wrong_key):
        assert response.status_code == 401
        body = response.json()
        assert set(body) == {"error"} and body["error"]["type"] == "invalid_request_error"


def _job(**values: Any) -> Job:
    row: dict[str, Any] = {f.name: None for f in dataclasses.fields(Job)}
    row.update(operation="create", status="queued", request={"images": []})
    return dataclasses.replace(Job(**row), **values)


def test_action_and_status_mapping() -> None:
    def images(*roles: str) -> dict[str, Any]:
        return {"images": [{"role": role, "asset": {}} for role in roles]}

    assert task_action(_job()) == "textGenerate"
    assert task_action(_job(request=images("first_frame"))) == "generate"
    assert task_action(_job(request=images("first_frame", "last_frame"))) == "firstTailGenerate"
    assert task_action(_job(request=images("reference", "reference"))) == "referenceGenerate"
    for operation in ("remix", "edit", "extend"):
        assert task_action(_job(operation=operation)) == "remixGenerate"

    assert task_status(_job()) == "SUBMITTED"  # accepted, not at an upstream yet
    assert task_status(_job(upstream_id="up-1")) == "QUEUED"
    assert task_status(_job(status="in_progress", upstream_id="up-1")) == "IN_PROGRESS"
    assert task_status(_job(status="completed")) == "SUCCESS"
    assert task_status(_job(status="failed")) == "FAILURE"
