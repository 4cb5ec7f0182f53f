"""The extended fields of ``POST /v1/videos`` (aggregator gateways' names) through real HTTP.

A gateway with the local renderer, a Seedance simulator (image roles) and a Kling simulator
(``mode``); each test sends the fields as clients of other gateways do, checks what the
upstream received and what came back, and follows the job through the OpenAI SDK.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Gateway, png_uri, running_gateway, serve, video_shape, wait_for
from vidgate.providers.kling import simulator as kling_sim
from vidgate.providers.seedance import simulator as seedance_sim

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ARK_KEY = "ark-" + "5eed" * 8
AK, SK = "ak-extended-test-01", "sk-extended-test-02"
LITE_I2V = "doubao-seedance-1-0-lite-i2v-250428"


@dataclass
class Sims:
    seedance: seedance_sim.SimState
    kling: kling_sim.SimState

    def seedance_images(self, prompt: str) -> list[tuple[str, str]]:
        """(role, url) of each image a Seedance task got; the prompt is checked too."""
        (task,) = [t for t in self.seedance.tasks.values() if t.checked.prompt == prompt]
        assert task.body["content"][0]["text"].startswith(prompt)  # then Seedance's flags
        return task.checked.images

    def kling_body(self, prompt: str) -> dict[str, Any]:
        (task,) = [t for t in self.kling.tasks.values() if t.body.get("prompt") == prompt]
        return task.body


@pytest.fixture(scope="module")
def sims_and_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Sims, Gateway]]:
    seedance = seedance_sim.create_app(
        seedance_sim.SimulatorConfig(api_key=ARK_KEY, job_seconds=0.2, queued_seconds=0.05)
    )
    kling = kling_sim.create_app(
        kling_sim.SimulatorConfig(api_key=f"{AK}:{SK}", job_seconds=0.2, queued_seconds=0.05)
    )
    with serve(seedance) as seedance_url, serve(kling) as kling_url:
        config = {
            "model_list": [
                {"model_name": "preview", "provider": "local", "model": "preview"},
                {
                    "model_name": "seedance",
                    "provider": "seedance",
                    "model": LITE_I2V,
                    "api_base": f"{seedance_url}/api/v3",
                    "api_key": ARK_KEY,
                    "poll_interval_s": 0.1,
                },
                {
                    "model_name": "kling",
                    "provider": "kling",
                    "model": "kling-v2-1",
                    "api_base": kling_url,
                    "api_key": AK,
                    "options": {"secret_key": SK},
                    "poll_interval_s": 0.1,
                },
            ],
            "default_model": "preview",
        }
        with running_gateway(tmp_path_factory.mktemp("gw-extended"), config) as gw:
            yield Sims(seedance.state.sim, kling.state.sim), gw


@pytest.fixture
def gw(sims_and_gateway: tuple[Sims, Gateway]) -> Gateway:
    return sims_and_gateway[1]


@pytest.fixture
def sims(sims_and_gateway: tuple[Sims, Gateway]) -> Sims:
    return sims_and_gateway[0]


def completed(gw: Gateway, video_id: str, key: str | None = None) -> dict[str, Any]:
    with gw.http(key) as http:

        def done() -> dict[str, Any] | None:
            body: dict[str, Any] = http.get(f"/v1/videos/{video_id}").json()
            return body if body["status"] in ("completed", "failed") else None

        return wait_for(done)


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    return dict(response.json()["error"])


# --- the local renderer: sizes, durations, images, user, task_id and url ----------------


def test_extended_json_create_follows_one_job_through_the_openai_surface(gw: Gateway) -> None:
    key = gw.new_key()
    body = {
        "model": "preview",
        "prompt": "a lighthouse at dusk",
        "duration": 2,
        "width": 640,
        "height": 360,
        "fps": 12,
        "seed": 7,
        "n": 1,
        "response_format": "url",
        "user": "end-user-42",
        "image": png_uri(640, 360),
    }
    with gw.http(key) as http:
        response = http.post("/v1/videos", json=body)
        assert response.status_code == 200, response.text
        created = response.json()
        assert created["task_id"] == created["id"] and created["url"] is None
        assert (created["seconds"], created["size"]) == ("2", "640x360")
        video = completed(gw, created["id"], key)
        assert video["status"] == "completed" and video["task_id"] == created["id"]
        assert video["url"] == f"{gw.url}/v1/videos/{created['id']}/content"
        content = http.get(video["url"])
        assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
        width, height, seconds = video_shape(content.content)
        assert (width, height) == (640, 360) and abs(seconds - 2) < 0.2
        listed = http.get("/v1/videos").json()["data"]
        assert [(v["id"], v["url"]) for v in listed] == [(created["id"], video["url"])]
    sdk = gw.sdk(key).videos.retrieve(created["id"])
    assert sdk.id == created["id"] and sdk.status == "completed" and sdk.size == "640x360"
    with gw.http(gw.new_key()) as other:
        assert other.get(video["url"]).status_code == 404  # the url works for its owner only
    with gw.http() as admin:
        record = admin.get(f"/jobs/{created['id']}").json()
    assert record["end_user"] == "end-user-42"


def test_user_is_recorded_in_the_request_log(gw: Gateway) -> None:
    key = gw.new_key()
    body = {"prompt": "logged", "seconds": "1", "size": "320x180", "user": "u-log-7"}
    with gw.http(key) as http:
        video_id = http.post("/v1/videos", json=body).json()["id"]

    def logged() -> list[Any]:
        with sqlite3.connect(gw.data_dir / "vidgate.db") as db:
            query = "SELECT end_user, route FROM request_logs WHERE job_id = ? AND method = 'POST'"
            return db.execute(query, (video_id,)).fetchall()

    assert wait_for(logged) == [("u-log-7", "/v1/videos")]


def test_seconds_wins_over_duration_and_metadata_model_may_repeat_model(gw: Gateway) -> None:
    body = {
        "model": "preview",
        "prompt": "x",
        "seconds": "3",
        "duration": 5,
        "size": "320x180",
        "metadata": {"model": "preview"},
    }
    with gw.http() as http:
        response = http.post("/v1/videos", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["seconds"] == "3"


def test_multipart_with_image_upload_and_json_string_metadata(gw: Gateway) -> None:
    image = base64.b64decode(png_uri(480, 480).split(",", 1)[1])
    form = {
        "model": "preview",
        "prompt": "a square garden",
        "duration": "1",
        "width": "480",
        "height": "480",
        "metadata": '{"model": "preview"}',
        "user": "form-user",
    }
    with gw.http() as http:
        response = http.post(
            "/v1/videos", data=form, files={"image": ("garden.png", image, "image/png")}
        )
        assert response.status_code == 200, response.text
        created = response.json()
    assert (created["seconds"], created["size"]) == ("1", "480x480")
    assert completed(gw, created["id"])["status"] == "completed"


def test_bare_base64_image_is_accepted(gw: Gateway) -> None:
    bare = png_uri(320, 180).split(",", 1)[1]
    body = {"prompt": "bare", "duration": 1, "size": "320x180", "image": bare}
    with gw.http() as http:
        response = http.post("/v1/videos", json=body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("extra", "param", "needle"),
    [
        ({"n": 2}, "n", "Allowed: 1"),
        ({"response_format": "b64_json"}, "response_format", "Allowed: url"),
        ({"width": 640}, "height", "'height' is missing"),
        ({"width": "wide", "height": 360}, "width", "whole number"),
        ({"width": 1000, "height": 1000}, "width", "allows: 1280x720"),
        ({"size": "640x360", "width": 640, "height": 360}, "size", "not both"),
        ({"duration": 99}, "duration", "allows: 1, 2, 3"),
        ({"duration": "long"}, "duration", "expected an integer"),
        ({"metadata": {"model": "sora-2"}}, "metadata.model", "billed is the model used"),
        ({"parameters": {"model": "sora-2"}}, "parameters.model", "billed is the model used"),
        ({"parameters": {"steps": 3}}, "parameters.steps", "Allowed: none"),
        ({"mode": "pro"}, "mode", "Allowed: none"),
        ({"parameters": "[1]"}, "parameters", "must be an object"),
        ({"image": "not an image"}, "image", "neither a URL"),
        ({"image": png_uri(), "input_reference": {"image_url": png_uri()}}, "image", "not both"),
        ({"images": [png_uri(), png_uri()]}, "images", "cannot take 2 image(s)"),
        ({"content": [{"type": "video_url"}]}, "content", "Allowed: text, image_url"),
        ({"content": [{"type": "image_url", "image_url": {"url": png_uri()}, "role": "x"}]},
         "content[0].role", "Allowed: first_frame"),
        ({"content": [{"type": "text", "text": "y"}]}, "content", "not both"),
        ({"resolution": "720p", "size": "1280x720"}, "resolution", "not both"),
        ({"resolution": "5000p"}, "resolution", "no 5000p size"),
        ({"aspect_ratio": "wide"}, "aspect_ratio", "W:H"),
    ],
)  # fmt: skip
def test_extended_rejections_name_what_the_client_sent(
    gw: Gateway, extra: dict[str, Any], param: str, needle: str
) -> None:
    with gw.http() as http:
        error = error_of(http.post("/v1/videos", json={"prompt": "x", **extra}))
    assert error["param"] == param and needle in error["message"], error


def test_resolution_and_aspect_ratio_pick_the_models_size(gw: Gateway) -> None:
    with gw.http() as http:
        body = {"prompt": "tall", "seconds": 1, "resolution": "720p", "aspect_ratio": "9:16"}
        assert http.post("/v1/videos", json=body).json()["size"] == "720x1280"
        body = {"prompt": "hd", "seconds": 1, "resolution": "1080P"}
        assert http.post("/v1/videos", json=body).json()["size"] == "1920x1080"


# --- providers: images by model, content roles, mode and parameters ---------------------


def test_images_take_their_roles_from_the_model(gw: Gateway, sims: Sims) -> None:
    first, last = png_uri(colour=(200, 0, 0)), png_uri(colour=(0, 0, 200))
    refs = [png_uri(colour=(0, 100 + i, 0)) for i in range(3)]
    with gw.http() as http:
        two = http.post(
            "/v1/videos", json={"model": "seedance", "prompt": "pair", "images": [first, last]}
        )
        three = http.post(
            "/v1/videos", json={"model": "seedance", "prompt": "trio", "images": refs}
        )
        five = http.post(
            "/v1/videos", json={"model": "seedance", "prompt": "five", "images": refs * 2}
        )
    assert two.status_code == 200 and three.status_code == 200, (two.text, three.text)
    assert sims.seedance_images("pair") == [("first_frame", first), ("last_frame", last)]
    assert sims.seedance_images("trio") == [("reference_image", ref) for ref in refs]
    error = error_of(five)
    assert error["param"] == "images" and "1 to 4 reference images" in error["message"]
    assert completed(gw, two.json()["id"])["status"] == "completed"
    assert completed(gw, three.json()["id"])["status"] == "completed"


def test_seedance_content_array(gw: Gateway, sims: Sims) -> None:
    first, last = png_uri(colour=(9, 9, 9)), png_uri(colour=(250, 250, 250))
    body = {
        "model": "seedance",
        "content": [
            {"type": "text", "text": "content prompt"},
            {"type": "image_url", "image_url": {"url": first}, "role": "first_frame"},
            {"type": "image_url", "image_url": {"url": last}, "role": "last_frame"},
        ],
        "duration": 5,
    }
    with gw.http() as http:
        response = http.post("/v1/videos", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["prompt"] == "content prompt"
    images = sims.seedance_images("content prompt")
    assert images == [("first_frame", first), ("last_frame", last)]
    video = completed(gw, response.json()["id"])
    assert video["status"] == "completed" and video["seconds"] == "5"


def test_mode_and_parameters_reach_the_provider(gw: Gateway, sims: Sims) -> None:
    body = {
        "model": "kling",
        "prompt": "kling pro",
        "mode": "pro",
        "duration": "10",
        "parameters": {"model": "kling"},
        "size": "1920x1080",
    }
    with gw.http() as http:
        response = http.post("/v1/videos", json=body)
        assert response.status_code == 200, response.text
        sent = sims.kling_body("kling pro")
        assert (sent["mode"], sent["duration"], sent["model_name"]) == ("pro", "10", "kling-v2-1")
        bad = http.post("/v1/videos", json={**body, "parameters": {"cfg_scale": 0.5}})
        error = error_of(bad)
    assert error["param"] == "parameters.cfg_scale" and "mode" in error["message"]
    assert completed(gw, response.json()["id"])["status"] == "completed"


def test_public_url_sets_the_host_of_url(tmp_path: Path) -> None:
    config = {
        "model_list": [{"model_name": "preview", "provider": "local", "model": "preview"}],
        "settings": {"public_url": "https://videos.example.com/gw/"},
    }
    with running_gateway(tmp_path / "gw", config) as gw:
        with gw.http() as http:
            body = {"prompt": "behind a proxy", "seconds": 1, "size": "320x180"}
            video_id = http.post("/v1/videos", json=body).json()["id"]
        video = completed(gw, video_id)
    assert video["url"] == f"https://videos.example.com/gw/v1/videos/{video_id}/content"
