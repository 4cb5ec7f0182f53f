"""``drop_params`` (LiteLLM's convention) over real HTTP: the gateway in front of the OpenAI
Videos simulator and the local renderer, driven with the official ``openai`` SDK and httpx.

The client example is new-api's documented video create ("AI Model API > Videos > Sora >
Create Video", docs.newapi.pro: ``model, prompt, image, duration, width, height, fps, seed,
n, response_format, user, metadata``) with ``model=sora-2``; the values are those of the
same docs' Kling example (``seed: 20231234``, ``metadata.negative_prompt``, 1280x720, fps
30). Strict by default; lenient by the request's field, the key's setting or the gateway's
setting (the most specific winning), and every response that dropped something says which.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support import Gateway, Sim, quick, running_gateway, serve_sim, wait_for
from vidgate.providers.openai import simulator as openai_sim

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SIM_KEY = "sk-drop-params-upstream"
NEWAPI_EXAMPLE: dict[str, Any] = {
    "model": "sora-2",
    "prompt": "An astronaut in a spacesuit walking on the moon, high quality, cinematic",
    "duration": 8,
    "width": 1280,
    "height": 720,
    "fps": 30,
    "seed": 20231234,
    "n": 1,
    "response_format": "url",
    "user": "user-1234",
    "metadata": {"negative_prompt": "blurry"},
}
DROPPED = ["seed", "fps", "metadata.negative_prompt"]
HEADER = "x-vidgate-dropped-params"


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    config = quick(openai_sim.SimulatorConfig(api_key=SIM_KEY, poll_after_ms=50))
    with serve_sim(openai_sim.create_app(config)) as served:
        yield served


def config(sim: Sim, **settings: Any) -> dict[str, Any]:
    """sora-2 on the simulator, the local renderer, and ``sora-fb``: sora-2 falling back to
    the renderer (which takes seeds, several frame rates and 1-20 s)."""
    upstream = {"provider": "openai", "api_base": f"{sim.url}/v1", "api_key": SIM_KEY}
    upstream |= {"model": "sora-2", "poll_interval_s": 0.1}
    models = [
        {"model_name": "sora-2", **upstream},
        {"model_name": "sora-fb", **upstream},
        {"model_name": "preview", "provider": "local", "model": "preview"},
    ]
    return {
        "model_list": models,
        "router": {"fallbacks": [{"sora-fb": ["preview"]}]},
        "settings": {"local_workers": 1, **settings},
    }


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gw"), config(sim)) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def key(gw: Gateway) -> str:
    """A key with no drop_params setting of its own (the gateway's, strict, applies)."""
    return gw.new_key()


def error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


def created(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def upstream_creates(sim: Sim, mark: int) -> list[dict[str, Any]]:
    return [e for e in sim.since(mark) if e["method"] == "POST"]


def finished(http: httpx.Client, video_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/v1/videos/{video_id}").json()
        return body if body["status"] in ("completed", "failed") else None

    result: dict[str, Any] = wait_for(done)
    return result


# --- strict by default -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/videos", "/v1/video/generations"])
def test_newapi_example_is_refused_by_default(gw: Gateway, sim: Sim, key: str, path: str) -> None:
    mark = sim.mark()
    with gw.http(key) as http:
        refused = error(http.post(path, json=NEWAPI_EXAMPLE))
        assert refused["param"] == "fps" and "allows: 24" in refused["message"]
        without_fps = {k: v for k, v in NEWAPI_EXAMPLE.items() if k != "fps"}
        refused = error(http.post(path, json=without_fps))
    assert refused["param"] == "seed" and "does not accept 'seed'" in refused["message"]
    assert upstream_creates(sim, mark) == []


# --- lenient: the request's field, the key's setting, the gateway's setting --------------------


def test_request_field_drops_what_sora_2_does_not_take(gw: Gateway, sim: Sim, key: str) -> None:
    mark = sim.mark()
    with gw.http(key) as http:
        response = http.post("/v1/videos", json={**NEWAPI_EXAMPLE, "drop_params": True})
        video = created(response)
        assert response.headers[HEADER] == ",".join(DROPPED)
        assert video["dropped_params"] == DROPPED
        assert (video["model"], video["seconds"], video["size"]) == ("sora-2", "8", "1280x720")
        done = finished(http, video["id"])
        assert done["status"] == "completed" and done["dropped_params"] == DROPPED
        assert http.get(f"/v1/videos/{video['id']}").headers[HEADER] == ",".join(DROPPED)
    (job,) = [j for j in sim.state.jobs.values() if j.prompt == NEWAPI_EXAMPLE["prompt"]]
    assert (job.model, job.size, job.seconds) == ("sora-2", "1280x720", 8)
    assert len(upstream_creates(sim, mark)) == 1


def test_the_openai_sdk_sends_drop_params_in_extra_body(gw: Gateway, key: str) -> None:
    client = gw.sdk(key)
    raw = client.videos.with_raw_response.create(
        prompt="sdk, lenient",
        model="sora-2",
        seconds="4",
        size="720x1280",
        extra_body={"seed": 7, "fps": 30, "drop_params": True},
    )
    assert raw.headers[HEADER] == "seed,fps"
    video = raw.parse()
    assert client.videos.poll(video.id, poll_interval_ms=50).status == "completed"
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="sdk, strict", model="sora-2", extra_body={"seed": 7})
    assert info.value.param == "seed"


def test_multipart_takes_true_and_false_as_text(gw: Gateway, key: str) -> None:
    form = {"model": "sora-2", "prompt": "a multipart create", "seed": "5"}

    def parts(drop: str) -> dict[str, tuple[None, str]]:
        return {name: (None, value) for name, value in {**form, "drop_params": drop}.items()}

    with gw.http(key) as http:
        response = http.post("/v1/videos", files=parts("true"))
        assert response.request.headers["content-type"].startswith("multipart/form-data")
        assert created(response)["dropped_params"] == ["seed"]
        assert response.headers[HEADER] == "seed"
        assert error(http.post("/v1/videos", files=parts("false")))["param"] == "seed"
        wrong = error(http.post("/v1/videos", files=parts("maybe")))
    assert wrong["param"] == "drop_params" and "Allowed: true, false" in wrong["message"]


def test_key_setting_and_the_request_overriding_it(gw: Gateway) -> None:
    lenient = gw.new_key(drop_params=True)
    with gw.http() as admin:
        info = admin.get("/key/info", params={"key": lenient}).json()["info"]
        assert info["drop_params"] is True
        listed = admin.get("/key/list").json()["keys"]
        assert {k["key_id"]: k["drop_params"] for k in listed}[info["key_id"]] is True
        bad = error(admin.post("/key/generate", json={"drop_params": "yes"}))
        assert bad["param"] == "drop_params"
    with gw.http(lenient) as http:
        response = http.post("/v1/video/generations", json=NEWAPI_EXAMPLE)
        assert created(response)["dropped_params"] == DROPPED
        assert response.headers[HEADER] == ",".join(DROPPED)
        refused = error(http.post("/v1/videos", json={**NEWAPI_EXAMPLE, "drop_params": False}))
        assert refused["param"] == "fps"
    with gw.http() as admin:
        changed = admin.post("/key/update", json={"key": lenient, "drop_params": None}).json()
        assert changed["drop_params"] is None
    with gw.http(lenient) as http:  # back to the gateway's (strict) setting
        assert error(http.post("/v1/videos", json=NEWAPI_EXAMPLE))["param"] == "fps"


def test_gateway_setting_and_a_key_overriding_it(sim: Sim, tmp_path: Path) -> None:
    with running_gateway(tmp_path, config(sim, drop_params=True)) as gw:
        with gw.http(gw.new_key()) as http:
            response = http.post("/v1/videos", json=NEWAPI_EXAMPLE)
            assert created(response)["dropped_params"] == DROPPED
            assert response.headers[HEADER] == ",".join(DROPPED)
        with gw.http(gw.new_key(drop_params=False)) as http:
            assert error(http.post("/v1/videos", json=NEWAPI_EXAMPLE))["param"] == "fps"
            body = {**NEWAPI_EXAMPLE, "drop_params": True}
            assert created(http.post("/v1/videos", json=body))["dropped_params"] == DROPPED


# --- what is never dropped ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "param", "needle"),
    [
        ({"duration": 7}, "duration", "allows: 4, 8, 12, 16, 20"),
        ({"width": 1000, "height": 1000}, "width", "allows: 720x1280, 1280x720"),
        ({"model": "preview", "fps": 13}, "fps", "allows: 12, 24, 25, 30"),
        ({"model": "preview", "duration": 60}, "duration", "allows: 1, 2, 3"),
        ({"images": ["a", "b", "c"]}, "images[0]", "neither a URL"),
        ({"input_reference": {"file_id": "file_1"}, "model": "preview"}, "input_reference",
         "cannot use a file id"),
        ({"promt": "a typo"}, "promt", "Unrecognized request argument"),
        ({"prompt": ""}, "prompt", "Missing required parameter"),
    ],
)  # fmt: skip
def test_out_of_range_and_never_dropped_fields_are_still_400(
    gw: Gateway, sim: Sim, key: str, change: dict[str, Any], param: str, needle: str
) -> None:
    mark = sim.mark()
    with gw.http(key) as http:
        refused = error(
            http.post("/v1/videos", json={**NEWAPI_EXAMPLE, "drop_params": True, **change})
        )
    assert refused["param"] == param and needle in refused["message"], refused
    assert upstream_creates(sim, mark) == []


def test_options_the_models_table_lacks_are_dropped_as_sent(gw: Gateway, key: str) -> None:
    body = {"model": "preview", "prompt": "options", "seconds": 1, "size": "320x180"}
    body |= {"metadata": {"style": "noir"}, "parameters": {"cfg_scale": 3}, "mode": "pro"}
    with gw.http(key) as http:
        assert error(http.post("/v1/videos", json=body))["code"] == "unknown_parameter"
        response = http.post("/v1/videos", json={**body, "drop_params": True})
        dropped = ["parameters.cfg_scale", "mode", "metadata.style"]  # by option name
        assert created(response)["dropped_params"] == dropped
        assert finished(http, response.json()["id"])["status"] == "completed"


# --- per deployment, and on every surface ---------------------------------------------------------


def test_what_is_dropped_is_the_deployment_that_took_the_job(gw: Gateway, key: str) -> None:
    body = {"model": "sora-fb", "prompt": "per deployment", "seed": 11, "drop_params": True}
    with gw.http(key) as http:
        on_sora = http.post("/v1/videos", json={**body, "seconds": 4})
        assert created(on_sora)["provider"] == "openai" and on_sora.headers[HEADER] == "seed"
        # sora-2 cannot make 3 s (not droppable): the renderer can, and takes the seed
        fallback = http.post("/v1/videos", json={**body, "seconds": 3, "size": "1280x720"})
        video = created(fallback)
        assert (video["provider"], video["dropped_params"]) == ("local", [])
        assert HEADER not in fallback.headers
        assert finished(http, video["id"])["status"] == "completed"


def test_compat_surfaces_name_what_they_dropped(gw: Gateway, key: str) -> None:
    v2 = {"model": "sora-2", "prompt": "aimlapi", "duration": 4, "seed": 3}
    v2 |= {"negative_prompt": "fog", "drop_params": True}
    with gw.http(key) as http:
        response = http.post("/v2/video/generations", json=v2)
        assert response.status_code == 201, response.text
        assert response.headers[HEADER] == "seed,negative_prompt"
        assert (
            error(http.post("/v2/video/generations", json={**v2, "drop_params": False}))["param"]
            == "seed"
        )
        task = http.post("/v1/video/generations", json={**NEWAPI_EXAMPLE, "drop_params": True})
        assert created(task)["dropped_params"] == DROPPED
        assert task.headers[HEADER] == ",".join(DROPPED)
        polled = http.get(f"/v1/video/generations/{task.json()['id']}").json()
        assert polled["data"]["data"]["dropped_params"] == DROPPED


def test_estimate_reports_what_would_be_dropped(gw: Gateway, sim: Sim, key: str) -> None:
    mark = sim.mark()
    with gw.http(key) as http:
        refused = error(http.post("/v1/videos/estimate", json=NEWAPI_EXAMPLE))
        assert refused["param"] == "fps"
        body = {**NEWAPI_EXAMPLE, "drop_params": True}
        estimate = created(http.post("/v1/videos/estimate", json=body))
    assert estimate["dropped_params"] == DROPPED
    assert (estimate["seconds"], estimate["size"]) == ("8", "1280x720")
    assert estimate["estimated_cost_usd"] == pytest.approx(0.80)  # 8 s of sora-2 at $0.10/s
    assert upstream_creates(sim, mark) == []


def test_drop_params_is_not_part_of_the_idempotency_fingerprint(gw: Gateway, key: str) -> None:
    """Leniency decides whether a request is refused, not which video a job makes: the same
    Idempotency-Key and body return the job however drop_params was asked for."""
    headers = {"Idempotency-Key": "drop-params-replay"}
    with gw.http(key) as http:
        first = http.post(
            "/v1/videos", json={**NEWAPI_EXAMPLE, "drop_params": True}, headers=headers
        )
        again = http.post(
            "/v1/videos", json={**NEWAPI_EXAMPLE, "drop_params": "false"}, headers=headers
        )
        plain = http.post("/v1/videos", json=NEWAPI_EXAMPLE, headers=headers)
        other = http.post("/v1/videos", json={**NEWAPI_EXAMPLE, "seed": 1}, headers=headers)
    assert created(again)["id"] == created(plain)["id"] == created(first)["id"]
    assert again.headers[HEADER] == ",".join(DROPPED)
    assert error(other, 409)["code"] == "idempotency_key_reused"


def test_audio_and_fields_of_other_operations_are_dropped_as_sent(gw: Gateway, key: str) -> None:
    """``metadata.audio`` on a model that makes none (``generate_audio`` on ``/v2``), and
    ``seconds`` (sent as ``duration``) on an edit, which keeps its source's length."""
    body = {"model": "preview", "prompt": "quiet", "seconds": 1, "size": "320x180"}
    body |= {"metadata": {"audio": True}}
    with gw.http(key) as http:
        assert error(http.post("/v1/videos", json=body))["param"] == "metadata.audio"
        source = created(http.post("/v1/videos", json={**body, "drop_params": True}))
        assert source["dropped_params"] == ["metadata.audio"]
        v2 = {"model": "preview", "prompt": "quiet", "duration": 1, "generate_audio": True}
        response = http.post("/v2/video/generations", json={**v2, "drop_params": True})
        assert response.status_code == 201 and response.headers[HEADER] == "generate_audio"
        assert finished(http, source["id"])["status"] == "completed"
        edit = {"prompt": "tinted", "video": {"id": source["id"]}, "duration": 5}
        assert error(http.post("/v1/videos/edits", json=edit))["param"] == "duration"
        edited = http.post("/v1/videos/edits", json={**edit, "drop_params": True})
        assert created(edited)["dropped_params"] == ["duration"]
        assert edited.headers[HEADER] == "duration" and edited.json()["seconds"] == "1"


def test_option_names_of_any_spelling_are_named_in_a_safe_header(gw: Gateway, key: str) -> None:
    """A dropped metadata key is named as sent in the body, and percent-encoded and cut short
    in the header (a header is ASCII: an unencoded ``ключ`` was a 500 after the job existed,
    a newline a reset connection)."""
    odd = {"ключ": 1, "a\r\nx-injected: 1": 2, "k" * 5000: 3}
    body = {"model": "preview", "prompt": "odd option names", "metadata": odd, "drop_params": True}
    with gw.http(key) as http:
        response = http.post("/v1/video/generations", json=body)
        assert response.status_code == 200, response.text
        header = response.headers[HEADER]
        # sorted as dropped; the 5 KB name does not fit, so the list ends there
        assert header == "metadata.a%0D%0Ax-injected%3A%201,..."
        task = response.json()["id"]
        assert http.get(f"/v1/video/generations/{task}").status_code == 200
        again = http.get(f"/v1/videos/{task}")
        assert again.status_code == 200 and again.headers[HEADER] == header
        video = again.json()
    assert sorted(video["dropped_params"]) == sorted(f"metadata.{name}" for name in odd)
    assert "x-injected" not in response.headers
