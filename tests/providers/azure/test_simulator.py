"""The Azure simulator, driven over real HTTP by the official openai SDK (v1) and httpx (jobs).

``openai.AzureOpenAI`` sends the ``api-key`` header and ``?api-version=``; ``openai.OpenAI``
with ``default_headers={"api-key": ...}`` is how Microsoft documents the v1 API. The legacy
jobs API has no SDK method, so it is driven with plain httpx per the REST reference.
"""

from __future__ import annotations

import io
import time
from email.utils import formatdate
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.providers.simulators import SimSetup, decoded_shape
from tests.support import Sim, png_bytes, serve, wait_for
from vidgate.providers.azure.simulator import SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "azure-test-key"
JOBS = "/openai/v1/video/generations"
PREVIEW = {"api-version": "preview"}
FAST = SimulatorConfig(api_key=KEY, job_seconds=0.4, queued_seconds=0.1)
SIMULATOR = SimSetup(create_app, FAST)


def azure(url: str, key: str = KEY) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        base_url=f"{url}/openai/v1", api_key=key, api_version="preview", max_retries=0
    )


def v1(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{url}/openai/v1",
        api_key=key,
        default_headers={"api-key": key},
        max_retries=0,
    )


def jobs(url: str, key: str = KEY) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"api-key": key}, params=PREVIEW, timeout=10)


# --- v1 API through the official SDK ---------------------------------------------------


def test_azure_client_create_poll_download(base_url: str, sim: Sim) -> None:
    client = azure(base_url)
    video = client.videos.create(model="sora-2", prompt="a fox", seconds="4", size="1280x720")
    assert video.status == "queued" and video.model == "sora-2" and video.seconds == "4"
    done = client.videos.poll(video.id, poll_interval_ms=50)
    assert done.status == "completed" and done.progress == 100
    assert done.completed_at is not None and done.expires_at is not None
    assert decoded_shape(client.videos.download_content(done.id).content)[:2] == (1280, 720)
    seen = [s for s in sim.state.auth_seen if s["path"] == f"/openai/v1/videos/{video.id}"]
    assert seen and all(s["api-key"] == KEY and s["authorization"] is None for s in seen)


def test_azure_client_sends_api_version(base_url: str, sim: Sim) -> None:
    azure(base_url).videos.create(model="sora-2", prompt="versioned")
    log = httpx.get(f"{base_url}/__sim__/log").json()
    assert log[-1]["path"] == "/openai/v1/videos" and log[-1]["query"] == "api-version=preview"


def test_openai_client_with_api_key_header(base_url: str) -> None:
    client = v1(base_url)
    video = client.videos.create_and_poll(
        model="sora-2", prompt="a ship", seconds="8", poll_interval_ms=50
    )
    assert video.status == "completed" and video.size == "720x1280" and video.seconds == "8"
    assert video.id in [v.id for v in client.videos.list(limit=100)]
    deleted = client.videos.delete(video.id)
    assert deleted.deleted and deleted.id == video.id
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)


def test_wrong_key_is_401_with_azure_body(base_url: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        azure(base_url, key="wrong").videos.create(model="sora-2", prompt="x")
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "401"
    assert "invalid subscription key" in error["message"]
    missing = httpx.post(f"{base_url}/openai/v1/videos", json={"model": "sora-2", "prompt": "x"})
    assert missing.status_code == 401
    assert "missing subscription key" in missing.json()["error"]["message"]


def test_bearer_is_an_entra_token_not_a_key(base_url: str) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/openai/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.videos.list()
    assert "Access token" in str(caught.value)


def test_v1_rejects_seconds_16_and_pro_sizes(base_url: str) -> None:
    client = azure(base_url)
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(model="sora-2", prompt="long", seconds="16")  # type: ignore[arg-type]
    assert caught.value.param == "seconds" and caught.value.code == "invalid_value"
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(model="sora-2", prompt="wide", size="1792x1024")
    assert caught.value.param == "size"


def test_input_reference_must_match_size(base_url: str) -> None:
    client = azure(base_url)
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(
            model="sora-2",
            prompt="animate",
            size="1280x720",
            input_reference=("ref.png", png_bytes(640, 360), "image/png"),
        )
    assert "must match the requested width and height" in str(caught.value)
    video = client.videos.create(
        model="sora-2",
        prompt="animate",
        size="1280x720",
        input_reference=("ref.png", png_bytes(1280, 720), "image/png"),
    )
    assert video.size == "1280x720"


def test_unknown_deployment_and_wrong_api(base_url: str) -> None:
    client = azure(base_url)
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.create(model="no-such-deployment", prompt="x")
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "DeploymentNotFound"
    with pytest.raises(openai.NotFoundError):  # a Sora 1 deployment is not served on v1
        client.videos.create(model="sora", prompt="x")


def test_remix_needs_completed_source(base_url: str) -> None:
    client = azure(base_url)
    source = client.videos.create(model="sora-2", prompt="base", size="1280x720")
    with pytest.raises(openai.BadRequestError):
        client.videos.remix(source.id, prompt="too early")
    client.videos.poll(source.id, poll_interval_ms=50)
    remix = client.videos.remix(source.id, prompt="brighter")
    assert remix.remixed_from_video_id == source.id and remix.size == "1280x720"
    with pytest.raises(openai.NotFoundError):  # no edits/extensions on Azure
        client.videos.edit(prompt="edit", video=("v.mp4", b"\x00", "video/mp4"))


def test_v1_faults(base_url: str) -> None:
    client = azure(base_url)
    with pytest.raises(openai.RateLimitError) as caught:
        client.videos.create(model="sora-2", prompt="[sim:429]")
    assert caught.value.response.headers["retry-after"] == "1"
    assert "x-ratelimit-remaining-requests" in caught.value.response.headers
    with pytest.raises(openai.InternalServerError):
        client.videos.create(model="sora-2", prompt="[sim:500]")
    failed = client.videos.create_and_poll(model="sora-2", prompt="[sim:fail]", poll_interval_ms=50)
    assert failed.status == "failed" and failed.error and failed.error.code == "moderation_blocked"
    odd = client.videos.create(model="sora-2", prompt="[sim:unknown-status]")
    assert wait_for(lambda: str(client.videos.retrieve(odd.id).status) == "rendering")
    flaky = client.videos.create(model="sora-2", prompt="[sim:poll-429] [sim:malformed]")
    with pytest.raises(openai.RateLimitError):
        client.videos.retrieve(flaky.id)
    raw = httpx.get(f"{base_url}/openai/v1/videos/{flaky.id}", headers={"api-key": KEY})
    assert raw.status_code == 200 and raw.json() == {}
    assert client.videos.poll(flaky.id, poll_interval_ms=50).status == "completed"


def test_hang_returns_when_client_gives_up(base_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{base_url}/openai/v1/videos",
            json={"model": "sora-2", "prompt": "[sim:hang]"},
            headers={"api-key": KEY},
            timeout=0.3,
        )
    assert time.monotonic() - started < 20  # the hang lasts 30 s: the client left long before


def test_v1_api_version_checked(base_url: str) -> None:
    client = openai.AzureOpenAI(
        base_url=f"{base_url}/openai/v1", api_key=KEY, api_version="2024-10-21", max_retries=0
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.list()
    assert "API version not supported" in str(caught.value)


# --- legacy jobs API with httpx --------------------------------------------------------


def wait_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"{JOBS}/jobs/{job_id}").json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    result: dict[str, Any] = wait_for(done)
    return result


def create_job(client: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"model": "sora", "prompt": "a rocket", "width": 480, "height": 854, **fields}
    return client.post(f"{JOBS}/jobs", json=body)


def test_jobs_lifecycle(base_url: str) -> None:
    with jobs(base_url) as client:
        response = create_job(client, n_seconds=3, n_variants=2)
        assert response.status_code == 201
        job = response.json()
        assert job["object"] == "video.generation.job" and job["id"].startswith("task_")
        assert job["status"] in ("preprocessing", "queued") and job["generations"] == []
        seen = {job["status"]}
        while job["status"] not in ("succeeded", "failed"):
            time.sleep(0.02)
            job = client.get(f"{JOBS}/jobs/{job['id']}").json()
            seen.add(job["status"])
        assert job["status"] == "succeeded" and seen <= {
            "preprocessing",
            "queued",
            "running",
            "processing",
            "succeeded",
        }
        assert len(job["generations"]) == 2 and job["failure_reason"] is None
        generation = job["generations"][0]
        assert generation["id"].startswith("gen_") and generation["job_id"] == job["id"]
        video = client.get(f"{JOBS}/{generation['id']}/content/video", params={"quality": "low"})
        assert video.headers["content-type"] == "video/mp4"
        width, height, seconds = decoded_shape(video.content)
        assert (width, height) == (480, 854) and abs(seconds - 3) <= 0.5
        thumb = client.get(f"{JOBS}/{generation['id']}/content/thumbnail")
        assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"
        head = client.head(f"{JOBS}/{generation['id']}/content/video")
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(video.content)
        later = formatdate(time.time() + 60, usegmt=True)
        cached = client.get(
            f"{JOBS}/{generation['id']}/content/video", headers={"If-Modified-Since": later}
        )
        assert cached.status_code == 304
        listed = client.get(f"{JOBS}/jobs", params={"limit": 50, "statuses": "succeeded"}).json()
        assert job["id"] in [j["id"] for j in listed["data"]]
        assert client.delete(f"{JOBS}/jobs/{job['id']}").status_code == 204
        assert client.get(f"{JOBS}/jobs/{job['id']}").status_code == 404
        assert client.get(f"{JOBS}/{generation['id']}/content/video").status_code == 404


def test_jobs_need_api_version_and_own_deployment(base_url: str) -> None:
    with httpx.Client(base_url=base_url, headers={"api-key": KEY}) as client:
        missing = create_job(client)
        assert missing.status_code == 400 and "api-version" in missing.json()["error"]["message"]
    with jobs(base_url) as client:
        assert create_job(client, model="sora-2").status_code == 404  # a Sora 2 deployment
        assert client.get(f"{JOBS}/jobs").status_code == 400  # limit is required
        bad = create_job(client, width=1280, height=1280)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "width"
        strings = create_job(client, width="720", height="720", n_variants=2)
        assert strings.status_code == 201  # strings are accepted too
        too_many = create_job(client, width=1920, height=1080, n_variants=2)
        assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "n_variants"
    dated = {"api-version": "2025-04-01-preview"}
    with httpx.Client(base_url=base_url, headers={"api-key": KEY}, params=dated) as client:
        assert create_job(client).status_code == 201


def test_jobs_wrong_key(base_url: str) -> None:
    with jobs(base_url, key="nope") as client:
        response = create_job(client)
    assert response.status_code == 401 and response.json()["error"]["code"] == "401"


def test_jobs_image_to_video_multipart(base_url: str) -> None:
    with jobs(base_url) as client:
        fields = {"model": "sora", "prompt": "animate", "width": "720", "height": "720"}
        item = (
            '[{"frame_index": 0, "type": "image", "file_name": "a.png", "crop_bounds": '
            '{"left_fraction": 0, "top_fraction": 0, "right_fraction": 1, "bottom_fraction": 1}}]'
        )
        files = {"files": ("a.png", png_bytes(64, 64), "image/png")}
        ok = client.post(f"{JOBS}/jobs", data={**fields, "inpaint_items": item}, files=files)
        assert ok.status_code == 201, ok.text
        bad = client.post(
            f"{JOBS}/jobs",
            data={**fields, "inpaint_items": item.replace("a.png", "b.png")},
            files=files,
        )
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "inpaint_items"


def test_jobs_faults(base_url: str) -> None:
    with jobs(base_url) as client:
        refused = create_job(client, prompt="[sim:policy] no")
        assert refused.status_code == 400
        assert refused.json()["error"]["inner_error"]["code"] == "ResponsibleAIPolicyViolation"
        limited = create_job(client, prompt="[sim:429]")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        assert create_job(client, prompt="[sim:500]").status_code == 500
        failed = wait_job(client, create_job(client, prompt="[sim:fail]").json()["id"])
        assert failed["status"] == "failed" and failed["failure_reason"] == "output_moderation"
        assert failed["generations"] == []
        flaky = create_job(client, prompt="[sim:poll-429] [sim:malformed]").json()
        assert client.get(f"{JOBS}/jobs/{flaky['id']}").status_code == 429
        truncated = client.get(f"{JOBS}/jobs/{flaky['id']}")
        assert truncated.status_code == 200
        with pytest.raises(ValueError):
            truncated.json()
        assert wait_job(client, flaky["id"])["status"] == "succeeded"
        odd = create_job(client, prompt="[sim:unknown-status]").json()
        assert wait_for(
            lambda: client.get(f"{JOBS}/jobs/{odd['id']}").json()["status"] == "rendering"
        )


def test_concurrency_limit_per_resource() -> None:
    config = SimulatorConfig(api_key=KEY, job_seconds=30, max_running_jobs=2)
    with serve(create_app(config)) as url, jobs(url) as client:
        assert create_job(client).status_code == 201
        assert azure(url).videos.create(model="sora-2", prompt="second").status == "queued"
        third = create_job(client)
        assert third.status_code == 429 and third.json()["error"]["code"] == "429"


def test_content_expires() -> None:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.1, queued_seconds=0.0, expires_after_s=1.0)
    with serve(create_app(config)) as url:
        client = azure(url)
        video = client.videos.create_and_poll(model="sora-2", prompt="brief", poll_interval_ms=20)
        assert client.videos.download_content(video.id).content
        wait_for(
            lambda: (
                httpx.get(
                    f"{url}/openai/v1/videos/{video.id}/content", headers={"api-key": KEY}
                ).status_code
                == 404
            ),
            timeout=5,
        )
