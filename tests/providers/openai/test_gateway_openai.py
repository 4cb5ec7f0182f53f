"""The gateway in front of the OpenAI Videos simulator, over real HTTP on loopback.

The simulator plays the upstream (``/__sim__/log`` shows every call it got); the gateway is
driven with the official openai SDK and raw httpx. Every response the clients receive is
recorded and checked for the upstream's ``video_<48 hex>`` ids and keys, which must never leak.
"""

from __future__ import annotations

import concurrent.futures
import io
import re
import uuid
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image

from tests import support
from tests.support import Gateway, GatewaySetup, Recorder, Sim
from vidgate.providers.openai.simulator import SimulatorConfig, create_app
from vidgate.settings import RouterSettings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SIM_KEY = "sk-upstream"
BAD_KEY = "sk-not-the-upstream-key-0123456789"
GATEWAY_ID = re.compile(r"video_[0-9a-f]{32}")
UPSTREAM_ID = re.compile(r"video_[0-9a-f]{48}")
SECRETS = (UPSTREAM_ID, SIM_KEY, BAD_KEY)
"""Never in anything a client gets: the upstream's ids and keys."""
SETUP = GatewaySetup(
    provider="openai",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=SIM_KEY, poll_after_ms=50),
    path="/v1",
    key=SIM_KEY,
    models={
        "sora-2": "sora-2",
        "sora-2-pro": "sora-2-pro",
        "sora-2-badkey": {"model": "sora-2", "api_key": "os.environ/BAD_UPSTREAM_KEY"},
    },
    env={"BAD_UPSTREAM_KEY": BAD_KEY},
    gateway_config={"router": {"retry_backoff_s": 0}},  # a 5xx is asked again at once
    upstream_ids=lambda state: SECRETS,
)


def upstream_id(sim: Sim, gateway_id: str) -> str:
    """The upstream id of a gateway job (the gateway sends its id as Idempotency-Key)."""
    (entry,) = [
        e for e in sim.log() if e["method"] == "POST" and e["idempotency_key"] == gateway_id
    ]
    assert entry["status_code"] == 200 and UPSTREAM_ID.fullmatch(entry["video_id"])
    return str(entry["video_id"])


def upstream_content(sim: Sim, upstream_id: str, variant: str) -> httpx.Response:
    response = httpx.get(
        f"{sim.url}/v1/videos/{upstream_id}/content",
        params={"variant": variant},
        headers={"Authorization": f"Bearer {SIM_KEY}"},
    )
    response.raise_for_status()
    return response


def decode(data: bytes) -> tuple[int, int, float, str]:
    """Width, height, duration (s) and codec of an MP4 given as bytes."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert container.duration is not None
        width, height = stream.codec_context.width, stream.codec_context.height
        return width, height, container.duration / 1e6, stream.codec_context.name


def creates(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["method"] == "POST"]


# --- the happy path -------------------------------------------------------------------


def test_create_and_poll_serves_the_upstream_bytes(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    video = client.videos.create_and_poll(
        prompt="a calico cat on a skateboard", poll_interval_ms=50
    )
    assert video.status == "completed", video.error
    assert GATEWAY_ID.fullmatch(video.id)
    assert (video.model, video.seconds, video.size, video.progress) == (
        "sora-2",
        "4",
        "720x1280",
        100,
    )
    assert video.error is None and video.completed_at is not None
    upstream = upstream_id(sim, video.id)
    assert [(e["method"], e["path"]) for e in creates(sim.since(mark))] == [("POST", "/v1/videos")]

    archived = [
        e["path"]
        for e in sim.since(mark)
        if e["method"] == "GET" and e["path"].endswith("/content")
    ]
    assert archived == [f"/v1/videos/{upstream}/content"] * 3
    data = client.videos.download_content(video.id).content
    width, height, duration, codec = decode(data)
    assert (width, height, codec) == (720, 1280, "h264") and duration == pytest.approx(4, abs=0.2)
    assert data == upstream_content(sim, upstream, "video").content

    thumb = client.videos.with_raw_response.download_content(video.id, variant="thumbnail")
    assert thumb.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert (image.format, image.size) == ("WEBP", (720, 1280))
    assert thumb.content == upstream_content(sim, upstream, "thumbnail").content

    sprite = client.videos.with_raw_response.download_content(video.id, variant="spritesheet")
    assert sprite.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(sprite.content)) as image:
        assert image.format == "JPEG" and image.size[0] == 5 * 160
    assert sprite.content == upstream_content(sim, upstream, "spritesheet").content

    response = http.get(f"/v1/videos/{video.id}")
    assert response.json()["status"] == "completed"
    assert "openai-poll-after-ms" not in response.headers


def test_completed_job_is_served_from_the_store(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    video = client.videos.create_and_poll(prompt="served from the store", poll_interval_ms=50)
    assert video.status == "completed"
    mark = sim.mark()
    for _ in range(50):
        assert client.videos.retrieve(video.id).status == "completed"
    assert http.get(f"/v1/videos/{video.id}/content").status_code == 200
    assert video.id in [v.id for v in client.videos.list(limit=100).data]
    assert sim.since(mark) == []


def test_polls_follow_the_upstream_hint_and_retrieves_do_not_poll(
    client: openai.OpenAI, sim: Sim
) -> None:
    mark = sim.mark()
    video = client.videos.create(prompt="polled by the gateway, not the client")
    for _ in range(30):
        client.videos.retrieve(video.id)
    video = support.finish(client, video.id)
    assert video.status == "completed"
    upstream = upstream_id(sim, video.id)
    polls = [
        e for e in sim.since(mark) if e["method"] == "GET" and e["path"] == f"/v1/videos/{upstream}"
    ]
    # 0.3 s of upstream work at a 50 ms hint: a handful of polls, however hard the client polls.
    assert 1 <= len(polls) <= 12


# --- upstream failures ----------------------------------------------------------------


def test_upstream_job_failure_is_a_failed_video(client: openai.OpenAI, http: httpx.Client) -> None:
    video = client.videos.create_and_poll(prompt="[sim:fail] not allowed", poll_interval_ms=50)
    assert video.status == "failed" and video.error is not None
    assert video.error.code == "moderation_blocked"
    assert video.error.message == "Blocked by the moderation system."
    for variant in ("video", "thumbnail", "spritesheet"):
        response = http.get(f"/v1/videos/{video.id}/content", params={"variant": variant})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "video_not_ready"
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.download_content(video.id)
    assert info.value.code == "video_not_ready"


def test_upstream_429_at_create_is_a_429_and_no_job(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    with pytest.raises(openai.RateLimitError) as info:
        client.videos.create(prompt="[sim:429] busy upstream")
    assert info.value.status_code == 429 and info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "1"
    assert [e["status_code"] for e in creates(sim.since(mark))] == [429]
    listed = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert not [v for v in listed if "[sim:429]" in v["prompt"]]


def test_upstream_500_at_create_is_a_502_and_no_job(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    with pytest.raises(openai.InternalServerError) as info:
        client.videos.create(prompt="[sim:500] broken upstream")
    assert info.value.status_code == 502 and info.value.code == "upstream_error"
    tries = 1 + RouterSettings().num_retries  # a 5xx is asked again, even on the only route
    assert [e["status_code"] for e in creates(sim.since(mark))] == [500] * tries
    listed = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert not [v for v in listed if "[sim:500]" in v["prompt"]]


def test_wrong_upstream_key_is_a_502_without_the_key(http: httpx.Client, sim: Sim) -> None:
    mark = sim.mark()
    response = http.post("/v1/videos", json={"prompt": "bad key", "model": "sora-2-badkey"})
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_auth_error"
    assert BAD_KEY not in response.text and SIM_KEY not in response.text
    assert "sk-" not in response.text + repr(dict(response.headers))
    assert [e["status_code"] for e in creates(sim.since(mark))] == [401]
    listed = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert "bad key" not in [v["prompt"] for v in listed]


def test_unknown_upstream_status_means_still_running(
    client: openai.OpenAI, http: httpx.Client
) -> None:
    video = client.videos.create(prompt="[sim:unknown-status] rendering")
    seen = set()

    def finished() -> bool:
        status = http.get(f"/v1/videos/{video.id}").json()["status"]
        seen.add(status)
        return status in ("completed", "failed")

    support.wait_for(finished, timeout=10, interval=0.02)
    assert support.finish(client, video.id).status == "completed"
    assert seen <= {"queued", "in_progress", "completed"}


def test_poll_429_backs_off_and_completes(client: openai.OpenAI, sim: Sim) -> None:
    video = client.videos.create_and_poll(prompt="[sim:poll-429] throttled", poll_interval_ms=50)
    assert video.status == "completed", video.error
    upstream = upstream_id(sim, video.id)
    polls = [e for e in sim.log() if e["method"] == "GET" and e["path"] == f"/v1/videos/{upstream}"]
    assert polls[0]["status_code"] == 429
    assert polls[1]["t"] - polls[0]["t"] >= 0.9  # Retry-After: 1 was honoured
    assert {e["status_code"] for e in polls[1:]} == {200}


def test_upstream_that_loses_the_job_fails_it_without_leaking_its_id(
    client: openai.OpenAI, sim: Sim
) -> None:
    video = client.videos.create(prompt="[sim:slow] soon forgotten")
    upstream = upstream_id(sim, video.id)
    support.wait_for(
        lambda: any(e["method"] == "GET" and e["video_id"] == upstream for e in sim.log())
    )
    sim.state.jobs.pop(upstream)
    failed = support.wait_for(
        lambda: (v := client.videos.retrieve(video.id)).status == "failed" and v, timeout=15
    )
    assert failed.error is not None and failed.error.code == "upstream_unreachable"
    assert upstream not in failed.error.message and "not found" in failed.error.message


# --- validation before the upstream ---------------------------------------------------


def test_size_the_model_cannot_make_is_rejected_without_an_upstream_call(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="full hd", model="sora-2", size="1920x1080")  # type: ignore[arg-type]
    assert info.value.param == "size" and "720x1280" in info.value.message
    bad_seconds = http.post("/v1/videos", json={"prompt": "odd", "seconds": "5"})
    assert bad_seconds.status_code == 400 and bad_seconds.json()["error"]["param"] == "seconds"
    assert sim.since(mark) == []
    pro = client.videos.create(prompt="full hd", model="sora-2-pro", size="1920x1080")  # type: ignore[arg-type]
    assert (pro.model, pro.size) == ("sora-2-pro", "1920x1080")
    assert support.finish(client, pro.id).status == "completed"
    upstream = upstream_id(sim, pro.id)
    assert (sim.state.jobs[upstream].model, sim.state.jobs[upstream].size) == (
        "sora-2-pro",
        "1920x1080",
    )


def test_input_reference_upload_reaches_upstream_as_a_file(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    video = client.videos.create(
        prompt="from an image",
        size="1280x720",
        input_reference=("ref.png", support.png_bytes(1280, 720), "image/png"),
    )
    assert support.finish(client, video.id).status == "completed"
    # The upstream checks the file against size, and its 400 comes back with its param.
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(
            prompt="wrong image",
            size="1280x720",
            input_reference=("r.png", support.png_bytes(64, 64), "image/png"),
        )
    assert info.value.param == "input_reference"
    assert [e["status_code"] for e in creates(sim.since(mark))] == [200, 400]
    listed = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert "wrong image" not in [v["prompt"] for v in listed]


# --- follow-ups go to the same upstream by its id ------------------------------------


def test_remix_uses_the_upstream_id(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    source = client.videos.create_and_poll(prompt="source", seconds="8", poll_interval_ms=50)
    assert source.status == "completed"
    upstream = upstream_id(sim, source.id)
    mark = sim.mark()
    remix = client.videos.remix(source.id, prompt="now in blue")
    assert GATEWAY_ID.fullmatch(remix.id) and remix.id != source.id
    assert remix.remixed_from_video_id == source.id and remix.seconds == "8"
    calls = creates(sim.since(mark))
    assert [(e["path"], e["status_code"]) for e in calls] == [(f"/v1/videos/{upstream}/remix", 200)]
    assert calls[0]["idempotency_key"] == remix.id
    assert sim.state.jobs[calls[0]["video_id"]].remixed_from_video_id == upstream
    remix = support.finish(client, remix.id)
    assert remix.status == "completed" and remix.remixed_from_video_id == source.id
    header = http.get(f"/v1/videos/{remix.id}").headers["x-vidgate-deployment"]
    assert header == http.get(f"/v1/videos/{source.id}").headers["x-vidgate-deployment"]


def test_edit_and_extension_by_gateway_id(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    source = client.videos.create_and_poll(
        prompt="pro source", model="sora-2-pro", size="1280x720", poll_interval_ms=50
    )
    assert source.status == "completed"
    upstream = upstream_id(sim, source.id)
    mark = sim.mark()
    edit = http.post("/v1/videos/edits", json={"prompt": "snow", "video": {"id": source.id}})
    assert edit.status_code == 200, edit.text
    form = [
        ("prompt", (None, "and then")),
        ("seconds", (None, "4")),
        ("video[id]", (None, source.id)),
    ]
    extend = http.post("/v1/videos/extensions", files=form)
    assert extend.status_code == 200, extend.text
    assert (edit.json()["seconds"], extend.json()["seconds"]) == ("4", "8")
    calls = creates(sim.since(mark))
    assert [(e["path"], e["status_code"]) for e in calls] == [
        ("/v1/videos/edits", 200),
        ("/v1/videos/extensions", 200),
    ]
    # An uploaded file would have been probed as plain sora-2; by id the upstream knows it.
    for call, seconds in zip(calls, (4, 8), strict=True):
        job = sim.state.jobs[call["video_id"]]
        assert (job.model, job.size, job.seconds) == ("sora-2-pro", "1280x720", seconds)
    assert sim.state.jobs[upstream].model == "sora-2-pro"
    for video_id in (edit.json()["id"], extend.json()["id"]):
        assert support.finish(client, video_id).status == "completed"
    width, height, duration, _ = decode(client.videos.download_content(extend.json()["id"]).content)
    assert (width, height) == (1280, 720) and duration == pytest.approx(8, abs=0.2)


def test_extension_of_an_uploaded_file_sends_the_file(client: openai.OpenAI, sim: Sim) -> None:
    source = client.videos.create_and_poll(prompt="to upload", poll_interval_ms=50)
    data = client.videos.download_content(source.id).content
    mark = sim.mark()
    extended = client.videos.extend(prompt="more", seconds="4", video=("in.mp4", data, "video/mp4"))
    assert extended.seconds == "8"
    (call,) = creates(sim.since(mark))
    assert call["path"] == "/v1/videos/extensions" and call["status_code"] == 200
    job = sim.state.jobs[call["video_id"]]
    assert (job.model, job.size, job.seconds) == ("sora-2", "720x1280", 8)
    assert support.finish(client, extended.id).status == "completed"


# --- delete ---------------------------------------------------------------------------


def test_delete_reaches_the_upstream(client: openai.OpenAI, sim: Sim) -> None:
    video = client.videos.create_and_poll(prompt="to delete", poll_interval_ms=50)
    upstream = upstream_id(sim, video.id)
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)
    support.wait_for(
        lambda: [
            e
            for e in sim.log()
            if (e["method"], e["path"], e["status_code"])
            == ("DELETE", f"/v1/videos/{upstream}", 200)
        ],
        timeout=5,
    )
    assert upstream not in sim.state.jobs


# --- idempotency and one upstream call per create ------------------------------------


def test_idempotency_key_makes_one_upstream_create(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    key = f"idem-{uuid.uuid4()}"
    mark = sim.mark()
    first = client.videos.create(prompt="exactly once", extra_headers={"Idempotency-Key": key})
    again = client.videos.create(prompt="exactly once", extra_headers={"Idempotency-Key": key})
    assert first.id == again.id
    with pytest.raises(openai.ConflictError) as info:
        client.videos.create(prompt="something else", extra_headers={"Idempotency-Key": key})
    assert info.value.status_code == 409 and info.value.code == "idempotency_key_reused"
    calls = creates(sim.since(mark))
    assert [(e["path"], e["idempotency_key"]) for e in calls] == [("/v1/videos", first.id)]
    assert support.finish(client, first.id).status == "completed"
    listed = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert [v["id"] for v in listed if v["prompt"] == "exactly once"] == [first.id]


def test_concurrent_retries_with_one_key_make_one_upstream_create(
    gw: Gateway, client: openai.OpenAI, sim: Sim
) -> None:
    key = f"race-{uuid.uuid4()}"
    mark = sim.mark()

    def post(_: int) -> str:
        with gw.http() as http:
            response = http.post(
                "/v1/videos", json={"prompt": "raced"}, headers={"Idempotency-Key": key}
            )
            assert response.status_code == 200, response.text
            return str(response.json()["id"])

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(post, range(6)))
    assert len(ids) == 1
    (video_id,) = ids
    assert len(creates(sim.since(mark))) == 1
    assert support.finish(client, video_id).status == "completed"


def test_one_upstream_post_per_client_create(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    mark = sim.mark()
    ids = [client.videos.create(prompt=f"clip {i}", seconds="4").id for i in range(3)]
    form = [("prompt", (None, "multipart clip")), ("size", (None, "1280x720"))]
    multipart = http.post("/v1/videos", files=form)
    assert multipart.status_code == 200, multipart.text
    ids.append(multipart.json()["id"])
    calls = creates(sim.since(mark))
    assert [e["idempotency_key"] for e in calls] == ids
    assert all(e["path"] == "/v1/videos" and e["status_code"] == 200 for e in calls)
    assert len({e["video_id"] for e in calls}) == 4
    for video_id in ids:
        assert support.finish(client, video_id).status == "completed"
    assert len(creates(sim.since(mark))) == 4


# --- what the gateway shows -----------------------------------------------------------


def test_deployment_header_and_ids_are_the_gateways(
    client: openai.OpenAI, http: httpx.Client, recorder: Recorder, sim: Sim
) -> None:
    created = http.post("/v1/videos", json={"prompt": "headers", "size": "1280x720"})
    assert created.status_code == 200
    deployment = created.headers["x-vidgate-deployment"]
    assert deployment and "sk-" not in deployment and SIM_KEY not in deployment
    assert sim.url not in deployment and "127.0.0.1" not in deployment
    video_id = created.json()["id"]
    assert GATEWAY_ID.fullmatch(video_id)
    assert support.finish(client, video_id).status == "completed"
    retrieved = http.get(f"/v1/videos/{video_id}")
    assert retrieved.headers["x-vidgate-deployment"] == deployment
    upstream = upstream_id(sim, video_id)
    listed = http.get("/v1/videos", params={"limit": 100})
    assert upstream not in listed.text and upstream not in retrieved.text
    assert all(GATEWAY_ID.fullmatch(v["id"]) for v in listed.json()["data"])
    assert len(recorder.seen) >= 3 and recorder.leaks(SECRETS) == []


def test_refused_create_can_be_retried_with_the_same_key(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    # Retry-After invites a retry; with the same Idempotency-Key it must be tried again
    # (nothing was created upstream), not answered 409 forever.
    key = f"retry-{uuid.uuid4()}"
    mark = sim.mark()
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as info:
            client.videos.create(
                prompt="[sim:429] retry me", extra_headers={"Idempotency-Key": key}
            )
        assert info.value.response.headers["retry-after"] == "1"
    assert [e["status_code"] for e in creates(sim.since(mark))] == [429, 429]
    with pytest.raises(openai.ConflictError):
        client.videos.create(prompt="[sim:429] another", extra_headers={"Idempotency-Key": key})
    listed = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert not [v for v in listed if "retry me" in v["prompt"]]
