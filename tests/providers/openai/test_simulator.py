"""The OpenAI Videos API simulator, driven over real HTTP by the official openai SDK."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image
from starlette.applications import Starlette

from tests.providers.simulators import SimSetup
from tests.support import png_bytes, serve
from vidgate.providers.openai.simulator import SimState, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

VIDEO_KEYS = {
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "prompt",
    "size",
    "seconds",
    "remixed_from_video_id",
    "error",
}
FAST = SimulatorConfig(job_seconds=0.3, queued_seconds=0.05, poll_after_ms=25)
SIMULATOR = SimSetup(create_app, FAST, headers={"Authorization": "Bearer sk-sim"})


@pytest.fixture
def client(base_url: str, state: SimState) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-sim", max_retries=0) as sdk:
        yield sdk


def wait_done(client: openai.OpenAI, video_id: str) -> Any:
    return client.videos.poll(video_id, poll_interval_ms=20)


def test_create_and_poll_reaches_completed(client: openai.OpenAI) -> None:
    video = client.videos.create_and_poll(prompt="a cat", poll_interval_ms=50)
    assert re.fullmatch(r"video_[0-9a-f]{48}", video.id)
    assert (video.status, video.progress, video.seconds, video.size) == (
        "completed",
        100,
        "4",
        "720x1280",
    )
    assert video.model == "sora-2" and video.error is None
    assert video.completed_at is not None and video.expires_at == video.completed_at + 3600


def test_status_response_shape_and_headers(http: httpx.Client) -> None:
    created = http.post("/v1/videos", json={"prompt": "[sim:slow] shape", "seconds": 8})
    assert created.status_code == 200 and created.headers["x-request-id"].startswith("req_")
    body = created.json()
    assert set(body) == VIDEO_KEYS and body["seconds"] == "8"
    assert body["status"] == "queued" and body["completed_at"] is None
    got = http.get(f"/v1/videos/{body['id']}")
    assert got.headers["openai-poll-after-ms"] == "25"
    assert got.json()["status"] in ("queued", "in_progress")


def test_progress_climbs_in_steps(sim_app: Starlette) -> None:
    sim: SimState = sim_app.state.sim
    job = sim.new_job("steps", "sora-2", "720x1280", 4)
    start, q = job.started, sim.config.queued_seconds
    span = job.duration - q
    assert sim.status_of(job, start) == ("queued", 0)
    assert sim.status_of(job, start + q + span * 0.3) == ("in_progress", 25)
    assert sim.status_of(job, start + q + span * 0.99) == ("in_progress", 75)
    assert sim.status_of(job, start + job.duration + 1e-6) == ("completed", 100)


def test_download_video_decodes_to_requested_size_and_length(client: openai.OpenAI) -> None:
    video = client.videos.create_and_poll(prompt="wide", size="1280x720", poll_interval_ms=50)
    data = client.videos.download_content(video.id).read()
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
        assert stream.codec_context.name == "h264"
        assert container.duration is not None and abs(container.duration / 1e6 - 4) < 0.2


def test_thumbnail_and_spritesheet_variants(client: openai.OpenAI) -> None:
    video = client.videos.create_and_poll(prompt="previews", poll_interval_ms=50)
    raw = client.videos.with_raw_response.download_content(video.id, variant="thumbnail")
    assert raw.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(raw.content)) as image:
        assert (image.format, image.size) == ("WEBP", (720, 1280))
    raw = client.videos.with_raw_response.download_content(video.id, variant="spritesheet")
    assert raw.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(raw.content)) as image:
        assert image.format == "JPEG" and image.size[0] == 5 * 160


def test_content_before_completion_is_404(client: openai.OpenAI) -> None:
    video = client.videos.create(prompt="[sim:slow] not yet")
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)


def test_list_pagination_in_both_orders(client: openai.OpenAI) -> None:
    ids = [client.videos.create(prompt=f"n{i}").id for i in range(3)]
    page = client.videos.list(limit=2, order="asc")
    assert [v.id for v in page.data] == ids[:2] and page.has_more is True
    rest = client.videos.list(limit=2, order="asc", after=page.data[-1].id)
    assert [v.id for v in rest.data] == ids[2:] and rest.has_more is False
    page = client.videos.list(limit=2)
    assert [v.id for v in page.data] == ids[::-1][:2]
    rest = client.videos.list(limit=2, after=ids[1])
    assert [v.id for v in rest.data] == [ids[0]]
    assert [v.id for v in client.videos.list(limit=1)] == ids[::-1]


def test_list_raw_envelope(http: httpx.Client) -> None:
    assert http.get("/v1/videos").json() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    assert http.get("/v1/videos", params={"limit": 101}).status_code == 400


def test_remix_sets_source_and_requires_completed(client: openai.OpenAI) -> None:
    source = client.videos.create_and_poll(prompt="source", seconds="8", poll_interval_ms=50)
    remix = client.videos.remix(source.id, prompt="now in blue")
    assert remix.remixed_from_video_id == source.id and remix.seconds == "8"
    with pytest.raises(openai.BadRequestError):
        client.videos.remix(remix.id, prompt="too early")


def test_edit_and_extension_by_id(client: openai.OpenAI, http: httpx.Client) -> None:
    # SDK 3.51's edit()/extend() only accept a file for `video` client-side, so the
    # documented `{id}` forms (JSON and multipart `video[id]`) are sent raw.
    source = client.videos.create_and_poll(prompt="base", size="1280x720", poll_interval_ms=50)
    edited = http.post("/v1/videos/edits", json={"prompt": "snow", "video": {"id": source.id}})
    body = edited.json()
    assert (body["seconds"], body["size"], body["remixed_from_video_id"]) == ("4", "1280x720", None)
    form = {"prompt": "more", "video[id]": source.id}
    extended = http.post("/v1/videos/extensions", files={"seconds": (None, "8")}, data=form)
    assert extended.status_code == 200 and extended.json()["seconds"] == "12"
    assert wait_done(client, extended.json()["id"]).status == "completed"
    bad = {"prompt": "bad", "seconds": "5", "video": {"id": source.id}}
    assert http.post("/v1/videos/extensions", json=bad).json()["error"]["param"] == "seconds"
    missing = {"prompt": "x", "video": {"id": "video_" + "0" * 48}}
    assert http.post("/v1/videos/edits", json=missing).status_code == 404


def test_edit_and_extension_with_uploaded_video(client: openai.OpenAI) -> None:
    source = client.videos.create_and_poll(prompt="base", poll_interval_ms=50)
    mp4 = client.videos.download_content(source.id).read()
    edited = client.videos.edit(prompt="upload", video=("in.mp4", mp4, "video/mp4"))
    assert (edited.seconds, edited.size) == ("4", "720x1280")
    extended = client.videos.extend(prompt="on", seconds="4", video=("in.mp4", mp4, "video/mp4"))
    assert extended.seconds == "8"
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.edit(prompt="junk", video=("in.mp4", b"not a video", "video/mp4"))
    assert info.value.param == "video"


def test_delete_then_retrieve_is_not_found(client: openai.OpenAI) -> None:
    running = client.videos.create(prompt="[sim:slow] busy")
    with pytest.raises(openai.BadRequestError):
        client.videos.delete(running.id)
    video = client.videos.create_and_poll(prompt="bye", poll_interval_ms=50)
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError) as info:
        client.videos.retrieve(video.id)
    assert info.value.code == "not_found"


def test_wrong_api_key_is_401(base_url: str, http: httpx.Client) -> None:
    sdk = openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        sdk.videos.create(prompt="nope")
    assert info.value.code == "invalid_api_key"
    assert info.value.response.headers["x-request-id"]


def test_size_rules_per_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="hd", model="sora-2", size="1920x1080")  # type: ignore[arg-type]
    assert info.value.param == "size"
    pro = client.videos.create(prompt="hd", model="sora-2-pro", size="1920x1080")  # type: ignore[arg-type]
    assert (str(pro.size), pro.model) == ("1920x1080", "sora-2-pro")


def test_request_validation(http: httpx.Client) -> None:
    ok = http.post("/v1/videos", json={"prompt": "p", "seconds": "20", "quality": "standard"})
    assert ok.status_code == 200 and ok.json()["seconds"] == "20"
    for body, param in [
        ({"prompt": "p", "seconds": "5"}, "seconds"),
        ({"prompt": ""}, "prompt"),
        ({"model": "sora-2"}, "prompt"),
        ({"prompt": "p", "size": "640x480"}, "size"),
    ]:
        bad = http.post("/v1/videos", json=body)
        assert bad.status_code == 400, body
        err = bad.json()["error"]
        assert (err["type"], err["param"]) == ("invalid_request_error", param)


def test_failed_job_reports_error(client: openai.OpenAI) -> None:
    video = client.videos.create_and_poll(prompt="[sim:fail] bad", poll_interval_ms=50)
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked"


def test_create_faults_429_and_500(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        client.videos.create(prompt="[sim:429] busy")
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError):
        client.videos.create(prompt="[sim:500] boom")


def test_unknown_status_marker(http: httpx.Client) -> None:
    video_id = http.post("/v1/videos", json={"prompt": "[sim:unknown-status]"}).json()["id"]
    deadline = time.monotonic() + 5
    seen = set()
    while (status := http.get(f"/v1/videos/{video_id}").json()["status"]) != "completed":
        seen.add(status)
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert "rendering" in seen and "in_progress" not in seen


def test_poll_429_only_first_time(http: httpx.Client) -> None:
    video_id = http.post("/v1/videos", json={"prompt": "[sim:poll-429]"}).json()["id"]
    first = http.get(f"/v1/videos/{video_id}")
    assert first.status_code == 429 and first.headers["retry-after"] == "1"
    assert first.json()["error"]["code"] == "rate_limit_exceeded"
    assert http.get(f"/v1/videos/{video_id}").status_code == 200


def test_idempotency_key_returns_same_video(client: openai.OpenAI, http: httpx.Client) -> None:
    first = client.videos.create(prompt="once", extra_headers={"Idempotency-Key": "k1"})
    second = client.videos.create(prompt="once", extra_headers={"Idempotency-Key": "k1"})
    assert first.id == second.id
    assert len(client.videos.list().data) == 1
    creates = [e for e in http.get("/__sim__/log").json() if e["method"] == "POST"]
    assert [(e["idempotency_key"], e["video_id"]) for e in creates] == [("k1", first.id)] * 2


def test_input_reference_upload_must_match_size(client: openai.OpenAI) -> None:
    ok = client.videos.create(
        prompt="ref", input_reference=("ref.png", png_bytes(720, 1280), "image/png")
    )
    assert ok.status == "queued"
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(
            prompt="ref", input_reference=("r.png", png_bytes(64, 64), "image/png")
        )
    assert info.value.param == "input_reference"


def test_input_reference_object_forms(client: openai.OpenAI, http: httpx.Client) -> None:
    url = "https://example.com/a.png"
    body = {"prompt": "ref", "input_reference": {"image_url": url}}
    assert http.post("/v1/videos", json=body).status_code == 200
    both = {"prompt": "ref", "input_reference": {"image_url": url, "file_id": "file_1"}}
    assert http.post("/v1/videos", json=both).json()["error"]["param"] == "input_reference"
    # Multipart flattens the object as input_reference[...]; SDK 3.51 refuses a dict here.
    form = {"prompt": "ref", "input_reference[file_id]": "file_1"}
    multipart = http.post("/v1/videos", files={"seconds": (None, "8")}, data=form)
    assert multipart.status_code == 200 and multipart.json()["seconds"] == "8"
    as_string = http.post("/v1/videos", json={"prompt": "ref", "input_reference": "x"})
    assert as_string.json()["error"]["code"] == "invalid_type"


def test_sim_log_and_state(client: openai.OpenAI, http: httpx.Client, sim_app: Starlette) -> None:
    video = client.videos.create(prompt="logged")
    client.videos.retrieve(video.id)
    log = http.get("/__sim__/log").json()
    assert [(e["method"], e["path"], e["video_id"], e["status_code"]) for e in log] == [
        ("POST", "/v1/videos", video.id, 200),
        ("GET", f"/v1/videos/{video.id}", video.id, 200),
    ]
    assert isinstance(log[0]["t"], float)
    sim: SimState = sim_app.state.sim
    assert list(sim.jobs) == [video.id]
    http.post("/__sim__/reset")
    assert sim.jobs == {} and http.get("/__sim__/log").json() == []


def test_content_path_is_served_with_range(tmp_path: Path) -> None:
    blob = tmp_path / "big.mp4"
    blob.write_bytes(bytes(range(256)) * 64)
    config = SimulatorConfig(
        api_key=None, job_seconds=0.05, queued_seconds=0.0, content_path=str(blob)
    )
    with serve(create_app(config)) as url, httpx.Client(base_url=url) as http:
        video_id = http.post("/v1/videos", json={"prompt": "file"}).json()["id"]
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="anything", max_retries=0)
        assert wait_done(sdk, video_id).status == "completed"
        full = http.get(f"/v1/videos/{video_id}/content")
        assert full.content == blob.read_bytes() and full.headers["content-type"] == "video/mp4"
        part = http.get(f"/v1/videos/{video_id}/content", headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == blob.read_bytes()[10:20]


def test_content_paths_serve_the_file_matching_the_job(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.mp4" for name in ("exact", "size", "seconds", "other")}
    for index, path in enumerate(files.values()):
        path.write_bytes(bytes([index]) * (1000 + index))
    paths = {
        "1920x1080/12": str(files["exact"]),
        "1920x1080": str(files["size"]),
        "8": str(files["seconds"]),
    }
    config = SimulatorConfig(
        api_key=None,
        job_seconds=0.05,
        queued_seconds=0.0,
        content_path=str(files["other"]),
        content_paths=paths,
    )
    jobs = {
        "exact": ("sora-2-pro", "1920x1080", "12"),
        "size": ("sora-2-pro", "1920x1080", "4"),
        "seconds": ("sora-2", "720x1280", "8"),
        "other": ("sora-2", "720x1280", "4"),
    }
    with serve(create_app(config)) as url, httpx.Client(base_url=url) as http:
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="anything", max_retries=0)
        for expected, (model, size, seconds) in jobs.items():
            body = {"prompt": expected, "model": model, "size": size, "seconds": seconds}
            video_id = http.post("/v1/videos", json=body).json()["id"]
            assert wait_done(sdk, video_id).status == "completed"
            content = http.get(f"/v1/videos/{video_id}/content")
            assert content.content == files[expected].read_bytes(), expected
        # the previews are still the simulator's own renders
        thumbnail = http.get(f"/v1/videos/{video_id}/content", params={"variant": "thumbnail"})
        assert thumbnail.headers["content-type"] == "image/webp"


@pytest.mark.asyncio
async def test_concurrent_retries_with_one_idempotency_key_share_a_video() -> None:
    app = create_app(SimulatorConfig(submit_latency_ms=50))
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": "Bearer sk-sim", "Idempotency-Key": "race"}
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        sends = [http.post("/v1/videos", json={"prompt": "p"}, headers=headers) for _ in range(3)]
        replies = await asyncio.gather(*sends)
    assert {r.status_code for r in replies} == {200}
    assert len({r.json()["id"] for r in replies}) == 1
    assert len(app.state.sim.jobs) == 1
