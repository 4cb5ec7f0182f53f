"""The official ``replicate`` SDK against the simulator, over real HTTP on loopback.

The SDK's own paths (``/v1/...``), headers and pydantic models prove the simulator speaks
Replicate's wire format; what the SDK cannot express (``Cancel-After``, the ``aborted``
status, raw fault bodies) is checked with httpx.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
from replicate.client import Client
from replicate.exceptions import ReplicateError

from tests.providers.simulators import SimSetup, decoded_shape
from tests.support import Sim, serve_sim
from vidgate.providers.replicate.simulator import SimulatorConfig, create_app

TOKEN = "r8_" + "ab" * 20
SHA = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
FAST = SimulatorConfig(api_key=TOKEN, job_seconds=0.3, queued_seconds=0.05)
SIMULATOR = SimSetup(create_app, FAST, headers={"Authorization": f"Bearer {TOKEN}"})


def sdk(url: str, token: str = TOKEN, **kwargs: Any) -> Client:
    """The official SDK's client of the simulator at ``url`` (it polls every 50 ms)."""
    client = Client(api_token=token, base_url=url, **kwargs)
    client.poll_interval = 0.05
    return client


def test_official_model_create_wait_and_download(sim: Sim) -> None:
    client = sdk(sim.url)
    prediction = client.models.predictions.create(
        model="bytedance/seedance-2.0",
        input={"prompt": "a fox", "duration": 4, "aspect_ratio": "16:9", "resolution": "480p"},
    )
    first_status: str = prediction.status
    assert first_status == "starting" and prediction.model == "bytedance/seedance-2.0"
    assert prediction.urls is not None
    assert prediction.urls["get"] == f"{sim.url}/v1/predictions/{prediction.id}"
    assert (
        sim.state.predictions[prediction.id].path == "/v1/models/bytedance/seedance-2.0/predictions"
    )
    prediction.wait()
    assert prediction.status == "succeeded" and prediction.error is None
    assert isinstance(prediction.output, str)
    assert prediction.metrics is not None and prediction.metrics["predict_time"] > 0
    assert prediction.completed_at and prediction.completed_at.endswith("Z")
    width, height, seconds = decoded_shape(httpx.get(prediction.output).content)  # no auth
    assert (width, height) == (854, 480) and abs(seconds - 4) <= 1


def test_pinned_version_create(sim: Sim) -> None:
    client = sdk(sim.url)
    pinned = client.predictions.create(version=f"acme/clouds:{SHA}", input={"prompt": "sky"})
    assert pinned.version == SHA and pinned.model == "acme/clouds"
    bare = client.predictions.create(version=SHA, input={"prompt": "sky"})
    assert bare.version == SHA
    assert sim.state.predictions[bare.id].path == "/v1/predictions"
    with pytest.raises(ReplicateError) as caught:
        client.predictions.create(version="not-a-version", input={"prompt": "sky"})
    assert caught.value.status == 422 and caught.value.detail


def test_reload_reports_progress_from_logs(sim: Sim) -> None:
    client = sdk(sim.url)
    prediction = client.models.predictions.create(
        model="acme/any-video", input={"prompt": "[sim:slow] waves"}
    )
    deadline = time.monotonic() + 5
    while prediction.status != "processing" and time.monotonic() < deadline:
        time.sleep(0.05)
        prediction.reload()
    assert prediction.status == "processing"
    time.sleep(0.3)
    prediction.reload()
    progress = prediction.progress
    assert progress is not None and 0 < progress.percentage < 1 and progress.total == 100
    client.predictions.cancel(prediction.id)


def test_cancel(sim: Sim) -> None:
    client = sdk(sim.url)
    prediction = client.models.predictions.create(
        model="acme/any-video", input={"prompt": "[sim:slow] long"}
    )
    canceled = client.predictions.cancel(prediction.id)
    assert canceled.status == "canceled" and canceled.output is None
    prediction.wait()
    assert prediction.status == "canceled"
    finished = client.models.predictions.create(model="acme/any-video", input={"prompt": "x"})
    finished.wait()
    assert client.predictions.cancel(finished.id).status == "succeeded"  # too late: no-op


def test_failure_is_a_failed_prediction(sim: Sim) -> None:
    client = sdk(sim.url)
    prediction = client.models.predictions.create(
        model="acme/any-video", input={"prompt": "[sim:fail] nope"}
    )
    prediction.wait()
    assert prediction.status == "failed" and prediction.output is None
    assert prediction.error is not None and "E005" in prediction.error


def test_bad_token_is_a_401_problem(sim: Sim) -> None:
    with pytest.raises(ReplicateError) as caught:
        sdk(sim.url, "r8_wrong").models.predictions.create(
            model="acme/any-video", input={"prompt": "x"}
        )
    error = caught.value
    assert error.status == 401 and error.title == "Unauthenticated" and error.detail


def test_legacy_token_scheme_is_accepted(sim: Sim) -> None:
    client = sdk(sim.url, headers={"Authorization": f"Token {TOKEN}"})
    prediction = client.models.predictions.create(model="acme/any-video", input={"prompt": "x"})
    assert sim.state.predictions[prediction.id].headers["authorization"] == f"Token {TOKEN}"


def test_invalid_input_is_a_422_with_invalid_fields(sim: Sim) -> None:
    with pytest.raises(ReplicateError) as caught:
        sdk(sim.url).models.predictions.create(
            model="bytedance/seedance-2.0", input={"prompt": "x", "duration": 20}
        )
    assert caught.value.status == 422 and "input.duration" in (caught.value.detail or "")
    with SIMULATOR.client(sim.url) as http:
        body = {"input": {"prompt": "x", "resolution": "4k"}}
        response = http.post("/v1/models/bytedance/seedance-2.0/predictions", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["invalid_fields"][0]["field"] == "input.resolution"


def test_create_faults(sim: Sim) -> None:
    client = sdk(sim.url)
    with pytest.raises(ReplicateError) as throttled:
        client.models.predictions.create(model="acme/v", input={"prompt": "[sim:429] x"})
    assert throttled.value.status == 429
    with SIMULATOR.client(sim.url) as http:
        response = http.post(
            "/v1/models/acme/v/predictions", json={"input": {"prompt": "[sim:429]"}}
        )
        assert response.headers["retry-after"] == "1" and response.json()["retry_after"] == 1
    with pytest.raises(ReplicateError) as broken:
        client.models.predictions.create(model="acme/v", input={"prompt": "[sim:500] x"})
    assert broken.value.status == 500


def test_poll_faults_and_unknown_status(sim: Sim) -> None:
    with SIMULATOR.client(sim.url) as http:
        path = "/v1/models/acme/v/predictions"
        created = http.post(path, json={"input": {"prompt": "[sim:poll-429] [sim:malformed]"}})
        pid = created.json()["id"]
        first = http.get(f"/v1/predictions/{pid}")
        assert first.status_code == 429 and first.headers["retry-after"] == "1"
        assert http.get(f"/v1/predictions/{pid}").status_code == 200  # poll-429 only once
        odd = http.post(path, json={"input": {"prompt": "[sim:unknown-status] [sim:slow]"}}).json()
        deadline = time.monotonic() + 5
        seen = set()
        while time.monotonic() < deadline and "booting" not in seen:
            seen.add(http.get(f"/v1/predictions/{odd['id']}").json()["status"])
            time.sleep(0.05)
        assert "booting" in seen


def test_malformed_first_poll(sim: Sim) -> None:
    with SIMULATOR.client(sim.url) as http:
        pid = http.post(
            "/v1/models/acme/v/predictions", json={"input": {"prompt": "[sim:malformed]"}}
        ).json()["id"]
        first = http.get(f"/v1/predictions/{pid}")
        with pytest.raises(ValueError):
            first.json()
        assert http.get(f"/v1/predictions/{pid}").json()["id"] == pid


def test_prefer_wait_returns_the_finished_prediction(sim: Sim) -> None:
    prediction = sdk(sim.url).models.predictions.create(
        model="minimax/video-01", input={"prompt": "a dog"}, wait=5
    )
    assert prediction.status == "succeeded"
    assert sim.state.predictions[prediction.id].headers["prefer"] == "wait=5"
    assert isinstance(prediction.output, str)
    width, height, seconds = decoded_shape(httpx.get(prediction.output).content)
    assert (width, height) == (1280, 720) and abs(seconds - 6) <= 1


def test_cancel_after_aborts_a_prediction_that_never_started(sim: Sim) -> None:
    with SIMULATOR.client(sim.url) as http:
        body = {"input": {"prompt": "late"}}
        aborted = http.post(
            "/v1/models/acme/v/predictions", json=body, headers={"Cancel-After": "10ms"}
        ).json()
        running = http.post(
            "/v1/models/acme/v/predictions",
            json={"input": {"prompt": "[sim:slow] late"}},
            headers={"Cancel-After": "0.2s"},
        ).json()
        time.sleep(0.25)
        assert http.get(f"/v1/predictions/{aborted['id']}").json()["status"] == "aborted"
        assert http.get(f"/v1/predictions/{running['id']}").json()["status"] == "canceled"


def test_list_and_unknown_prediction() -> None:
    # a fresh simulator: SDK 1.0.7 cannot parse the ``aborted`` status other tests leave
    with serve_sim(SIMULATOR.app()) as sim:
        client = sdk(sim.url)
        made = [
            client.models.predictions.create(model="acme/v", input={"prompt": str(i)})
            for i in range(2)
        ]
        page = client.predictions.list()
        assert [p.id for p in page.results] == [made[1].id, made[0].id]
        assert page.next is None
        with pytest.raises(ReplicateError) as caught:
            client.predictions.get("doesnotexist")
        assert caught.value.status == 404


def test_list_output_and_expiry() -> None:
    config = replace(FAST, list_output=True, output_ttl_s=0.3, job_seconds=0.1)
    with serve_sim(create_app(config)) as sim:
        client = sdk(sim.url)
        shape = {"duration": 4, "aspect_ratio": "16:9", "resolution": "480p"}
        prediction = client.models.predictions.create(
            model="acme/v", input={"prompt": "x", **shape}
        )
        prediction.wait()
        assert isinstance(prediction.output, list) and len(prediction.output) == 1
        url = prediction.output[0]
        assert httpx.get(url).status_code == 200
        time.sleep(0.35)
        prediction.reload()
        assert prediction.output is None and prediction.status == "succeeded"
        with SIMULATOR.client(sim.url) as http:
            assert http.get(f"/v1/predictions/{prediction.id}").json()["data_removed"] is True
        assert httpx.get(url).status_code == 404
