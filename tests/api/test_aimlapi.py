"""The aimlapi-style ``/v2`` surface over real HTTP on loopback, in front of the MiniMax and
Kling simulators: aimlapi's documented request bodies go in, the upstream gets the vendor's
own fields, and the poll answers aimlapi's shape for the very job ``/v1/videos`` shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import Gateway, png_uri, running_gateway, serve, video_shape, wait_for
from vidgate.api.aimlapi import translate, vidgate_model
from vidgate.providers.kling import simulator as kling_sim
from vidgate.providers.minimax import simulator as minimax_sim
from vidgate.providers.registry import PROVIDERS
from vidgate.routing.config import build_table
from vidgate.settings import DeploymentEntry, FileConfig

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MINIMAX_KEY = "sk-api-" + "5a" * 32
AK, SK = "ak-aimlapi-test-1234", "sk-aimlapi-test-5678"
PRICE_01 = 0.05  # USD per second for the 01 series (no list price)
JOB_DEADLINE_S = 120.0
"""For a job to end: the simulator renders a real MP4 (1.2 s of CPU for 5 s of 720p) and the
gateway archives it (probe, thumbnail, spritesheet), all in this process. On a two-core
machine busy with other runs (load 10) that took over 15 s, the old deadline; only a job
that never ends should reach this one."""
POLL_KEYS = {
    "id",
    "generation_id",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "video",
    "duration",
    "error",
    "meta",
}


@dataclass
class Sims:
    minimax: minimax_sim.SimState
    kling: kling_sim.SimState
    urls: dict[str, str]

    def minimax_task(self, prompt: str) -> minimax_sim.SimTask:
        (task,) = [t for t in self.minimax.tasks.values() if t.prompt == prompt]
        return task

    def kling_task(self, prompt: str) -> kling_sim.SimTask:
        (task,) = [t for t in self.kling.tasks.values() if t.body.get("prompt") == prompt]
        return task


@pytest.fixture(scope="module")
def sims() -> Iterator[Sims]:
    minimax = minimax_sim.create_app(
        minimax_sim.SimulatorConfig(api_key=MINIMAX_KEY, job_seconds=0.3, queued_seconds=0.05)
    )
    kling = kling_sim.create_app(
        kling_sim.SimulatorConfig(api_key=f"{AK}:{SK}", job_seconds=0.3, queued_seconds=0.05)
    )
    with serve(minimax) as url_m, serve(kling) as url_k:
        yield Sims(minimax.state.sim, kling.state.sim, {"minimax": url_m, "kling": url_k})


@pytest.fixture(scope="module")
def gw(sims: Sims, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    minimax = {
        "provider": "minimax",
        "api_base": sims.urls["minimax"],
        "api_key": MINIMAX_KEY,
        "poll_interval_s": 0.1,
    }
    series01 = {**minimax, "pricing": {"per_second": {"*": PRICE_01}}}
    kling = {
        "provider": "kling",
        "api_base": sims.urls["kling"],
        "api_key": AK,
        "options": {"secret_key": SK},
        "poll_interval_s": 0.1,
    }
    config = {
        "model_list": [
            {**minimax, "model_name": "hailuo", "model": "MiniMax-Hailuo-02"},
            {**series01, "model_name": "t2v", "model": "T2V-01"},
            {**series01, "model_name": "i2v", "model": "I2V-01"},
            {**kling, "model_name": "kling-master", "model": "kling-v2-master"},
            {**kling, "model_name": "kling-16", "model": "kling-v1-6"},
        ],
    }
    with running_gateway(tmp_path_factory.mktemp("gw-aimlapi"), config) as gateway:
        yield gateway


@pytest.fixture
def http(gw: Gateway) -> Iterator[httpx.Client]:
    with gw.http() as client:
        yield client


def create(http: httpx.Client, body: dict[str, Any], vendor: str | None = None) -> dict[str, Any]:
    path = f"/v2/generate/video/{vendor}/generation" if vendor else "/v2/video/generations"
    response = http.post(path, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"id", "generation_id", "status", "model", "created_at"}
    assert created["id"] == created["generation_id"] and created["id"].startswith("video_")
    assert created["status"] in ("queued", "generating")
    assert isinstance(created["created_at"], int)
    return dict(created)


def poll(http: httpx.Client, generation_id: str, vendor: str | None = None) -> dict[str, Any]:
    """Poll like an aimlapi client until a terminal status; every body is checked."""
    path = f"/v2/generate/video/{vendor}/generation" if vendor else "/v2/video/generations"
    seen: list[str] = []

    def terminal() -> dict[str, Any] | None:
        response = http.get(path, params={"generation_id": generation_id})
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == POLL_KEYS and body["id"] == body["generation_id"] == generation_id
        seen.append(body["status"])
        if body["status"] in ("completed", "error"):
            return dict(body)
        assert body["video"] is None and body["error"] is None
        return None

    body = wait_for(terminal, timeout=JOB_DEADLINE_S)
    assert set(seen) <= {"queued", "generating", "completed", "error"}, seen
    return dict(body)


def error_of(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


def check_same_job(gw: Gateway, http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """The generation is the /v1 video with that id: same status, size, usage and bytes."""
    video = http.get(f"/v1/videos/{body['id']}")
    assert video.status_code == 200, video.text
    v1 = video.json()
    assert (v1["id"], v1["status"], v1["model"]) == (body["id"], "completed", body["model"])
    assert v1["usage"] == body["meta"]["usage"]
    assert v1["url"] == body["video"]["url"] == f"{gw.url}/v1/videos/{body['id']}/content"
    sdk = gw.sdk().videos.retrieve(body["id"])
    assert (sdk.id, sdk.status, sdk.size) == (body["id"], "completed", v1["size"])
    download = http.get(body["video"]["url"])  # the owner's key, as an aimlapi client sends it
    assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
    width, height, seconds = video_shape(download.content)
    assert f"{width}x{height}" == v1["size"]
    assert seconds == pytest.approx(body["duration"], abs=0.3)
    return dict(v1)


# --- the documented examples, end to end ------------------------------------------------


def test_universal_hailuo_02_with_image_url(gw: Gateway, http: httpx.Client, sims: Sims) -> None:
    prompt = "a paper boat on a rainy street, universal path"
    created = create(
        http,
        {
            "model": "minimax/hailuo-02",
            "prompt": prompt,
            "image_url": png_uri(),
            "duration": 6,
            "resolution": "768P",
            "enhance_prompt": True,
        },
    )
    assert created["model"] == "hailuo"  # minimax/hailuo-02 → minimax/MiniMax-Hailuo-02
    task = sims.minimax_task(prompt)
    assert task.headers["authorization"] == f"Bearer {MINIMAX_KEY}"
    body = task.body
    assert body["first_frame_image"].startswith("data:image/png;base64,")
    assert {k: v for k, v in body.items() if k != "first_frame_image"} == {
        "model": "MiniMax-Hailuo-02",
        "prompt": prompt,
        "duration": 6,
        "resolution": "768P",
        "prompt_optimizer": True,  # enhance_prompt, under the name MiniMax takes
    }
    done = poll(http, created["id"])
    assert done["status"] == "completed" and done["error"] is None and done["progress"] == 100
    assert done["video"]["duration"] == done["duration"] == pytest.approx(6, abs=0.3)
    assert done["meta"]["usage"]["duration_seconds"] == done["duration"]
    assert done["meta"]["usage"]["cost_usd"] == pytest.approx(0.28, abs=0.01)  # 768P, 6 s
    assert isinstance(done["completed_at"], int) and done["completed_at"] >= done["created_at"]
    v1 = check_same_job(gw, http, done)
    assert v1["size"] == "1366x768" and v1["seconds"] == "6"


def test_legacy_minimax_video_01_picks_t2v_or_i2v(
    gw: Gateway, http: httpx.Client, sims: Sims
) -> None:
    bare_base64 = png_uri().split(",", 1)[1]
    prompt = "a fox in the snow, legacy minimax"
    created = create(
        http,
        {
            "model": "video-01",
            "prompt": prompt,
            "prompt_optimizer": False,
            "first_frame_image": bare_base64,
        },
        vendor="minimax",
    )
    assert created["model"] == "i2v"  # video-01 with a first frame → I2V-01
    task = sims.minimax_task(prompt)
    assert task.body["model"] == "I2V-01" and task.body["prompt_optimizer"] is False
    assert task.body["first_frame_image"].startswith("data:image/png;base64,")
    text_only = create(http, {"prompt": "no image, legacy minimax"}, vendor="minimax")
    assert text_only["model"] == "t2v"  # no model: the vendor's default, video-01
    assert sims.minimax_task("no image, legacy minimax").body["model"] == "T2V-01"

    done = poll(http, created["id"], vendor="minimax")
    assert done["status"] == "completed"
    assert done["meta"]["usage"]["cost_usd"] == pytest.approx(6 * PRICE_01, abs=0.01)
    v1 = check_same_job(gw, http, done)
    assert v1["size"] == "1280x720"
    # Either poll path reads either id: one job store, one owner.
    other = http.get("/v2/video/generations", params={"generation_id": text_only["id"]})
    assert other.status_code == 200 and other.json()["model"] == "t2v"


def test_legacy_kling_string_duration_and_vendor_fields(
    gw: Gateway, http: httpx.Client, sims: Sims
) -> None:
    prompt = "a lighthouse at dusk, legacy kling"
    created = create(
        http,
        {
            "model": "klingai/v2-master-text-to-video",
            "prompt": prompt,
            "aspect_ratio": "9:16",
            "duration": "5",
            "negative_prompt": "blur",
        },
        vendor="kling",
    )
    assert created["model"] == "kling-master"
    task = sims.kling_task(prompt)
    assert task.family == "text2video"
    assert task.body["model_name"] == "kling-v2-master"
    assert (task.body["duration"], task.body["aspect_ratio"]) == ("5", "9:16")
    assert (task.body["mode"], task.body["negative_prompt"]) == ("std", "blur")
    assert "cfg_scale" not in task.body

    # cfg_scale is a Kling v1 option: passed on where the model takes it, named otherwise.
    refused = http.post(
        "/v2/generate/video/kling/generation",
        json={"model": "klingai/v2-master-text-to-video", "prompt": "x", "cfg_scale": 0.5},
    )
    error = error_of(refused)
    assert error["param"] == "cfg_scale" and "cfg_scale" in error["message"]
    v16 = "kling with cfg_scale, v1.6 standard"
    accepted = create(
        http,
        {"model": "kling-video/v1.6/standard/text-to-video", "prompt": v16, "cfg_scale": 0.5},
    )
    assert accepted["model"] == "kling-16"
    assert sims.kling_task(v16).body["cfg_scale"] == 0.5

    done = poll(http, created["id"], vendor="kling")
    assert done["status"] == "completed" and done["duration"] == pytest.approx(5, abs=0.3)
    assert done["meta"]["usage"]["cost_usd"] > 0
    v1 = check_same_job(gw, http, done)
    assert v1["size"] == "720x1280"


def test_failed_job_is_status_error(http: httpx.Client) -> None:
    created = create(http, {"model": "minimax/hailuo-02", "prompt": "[sim:fail] flagged"})
    done = poll(http, created["id"])
    assert done["status"] == "error" and done["video"] is None
    assert set(done["error"]) == {"name", "message"}
    assert done["error"]["name"] == "moderation_blocked" and done["error"]["message"]
    assert done["meta"]["usage"]["cost_usd"] == 0  # refunded: vidgate bills on completion
    v1 = http.get(f"/v1/videos/{created['id']}").json()
    assert v1["status"] == "failed" and v1["error"]["code"] == "moderation_blocked"


def test_batch_poll_by_generation_ids(http: httpx.Client) -> None:
    first = create(http, {"model": "hailuo", "prompt": "batch one"})
    second = create(http, {"model": "hailuo", "prompt": "batch two"})
    ids = [first["id"], second["id"]]
    for params in ({"generation_ids": ",".join(ids)}, [("generation_ids[]", i) for i in ids]):
        response = http.get("/v2/generate/video/minimax/generation", params=params)
        assert response.status_code == 200, response.text
        assert [g["id"] for g in response.json()] == ids


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "needle"),
    [
        ({"model": "minimax/hailuo-02"}, "prompt", "Missing required parameter"),
        ({"prompt": "x"}, "model", "Missing required parameter"),
        ({"model": "minimax/hailuo-02", "prompt": "x", "duration": "seven"}, "duration",
         "expected an integer"),
        ({"model": "minimax/hailuo-02", "prompt": "x", "duration": 7}, "duration", "allows: 6, 10"),
        ({"model": "minimax/hailuo-02", "prompt": "x", "resolution": "huge"}, "resolution",
         "expected a tier"),
        ({"model": "minimax/hailuo-02", "prompt": "x", "resolution": "4K"}, "resolution",
         "no 2160p size"),
        ({"model": "minimax/hailuo-02", "prompt": "x", "image_url": "not an image"}, "image_url",
         "neither a URL"),
        ({"model": "minimax/hailuo-02", "prompt": "x", "image_url": png_uri(),
          "first_frame_image": png_uri()}, "first_frame_image", "give one"),
        ({"model": "minimax/hailuo-02", "prompt": "x", "generate_audio": True}, "generate_audio",
         "does not generate audio"),
        ({"model": "video-01", "prompt": "x", "last_image_url": "https://x.test/l.png"},
         "last_image_url", "does not accept 'last_image_url'"),
        ({"model": "minimax/hailuo-02", "prompt": "x", "person_generation": "allow_all"},
         "person_generation", "Unsupported option"),
    ],
)  # fmt: skip
def test_create_rejections_name_the_field_sent(
    http: httpx.Client, body: dict[str, Any], param: str, needle: str
) -> None:
    error = error_of(http.post("/v2/video/generations", json=body))
    assert error["param"] == param and needle in error["message"], error
    assert error["type"] == "invalid_request_error"


def test_unknown_model_and_vendor_are_404(http: httpx.Client) -> None:
    error = error_of(http.post("/v2/video/generations", json={"model": "nope", "prompt": "x"}), 404)
    assert error["code"] == "model_not_found" and "'nope'" in error["message"]
    for response in (
        http.post("/v2/generate/video/acme/generation", json={"prompt": "x"}),
        http.get("/v2/generate/video/acme/generation", params={"generation_id": "video_x"}),
    ):
        error = error_of(response, 404)
        assert error["param"] == "vendor" and "kling, luma, luma-ai, minimax" in error["message"]


def test_poll_errors_and_ownership(gw: Gateway, http: httpx.Client) -> None:
    assert error_of(http.get("/v2/video/generations"))["param"] == "generation_id"
    missing = http.get("/v2/video/generations", params={"generation_id": "video_nope"})
    assert error_of(missing, 404)["param"] == "generation_id"
    created = create(http, {"model": "hailuo", "prompt": "owned by the master key"})
    with gw.http(gw.new_key()) as stranger:
        for path in ("/v2/video/generations", "/v2/generate/video/minimax/generation"):
            other = stranger.get(path, params={"generation_id": created["id"]})
            assert error_of(other, 404)["code"] == "not_found"
        content = stranger.get(f"/v1/videos/{created['id']}/content")
        assert content.status_code == 404
    anonymous = httpx.get(f"{gw.url}/v2/video/generations", params={"generation_id": "x"})
    assert error_of(anonymous, 401)["code"] == "missing_api_key"


# --- model names (no server) ------------------------------------------------------------


def test_model_names_map_to_the_first_configured_and_config_names_win() -> None:
    entries = [
        DeploymentEntry(
            model_name="veo30", provider="gemini", model="veo-3.0-generate-001", api_key="k"
        ),
        DeploymentEntry(
            model_name="k16", provider="kling", model="kling-v1-6", api_key="a",
            options={"secret_key": "b"},
        ),
        DeploymentEntry(model_name="video-01-live2d", provider="local", model="preview"),
    ]  # fmt: skip
    table = build_table(FileConfig(model_list=entries), PROVIDERS)
    assert table.resolve(vidgate_model("google/veo3", False, table)) == "veo30"
    assert table.resolve(vidgate_model("veo3", False, table)) == "veo30"  # no Veo 3.1 here
    assert vidgate_model("video-01-live2d", True, table) == "video-01-live2d"  # a group wins
    assert vidgate_model("google/veo-3.1-t2v", False, table) == "google/veo-3.1-t2v"  # 404s
    fields, names = translate(
        {"model": "kling-video/v1.6/pro/text-to-video", "prompt": "x", "duration": "5s"}, table
    )
    assert fields == {"model": "kling/kling-v1-6", "prompt": "x", "seconds": "5",
                      "resolution": "1080p"}  # fmt: skip
    assert names == {"seconds": "duration"}
