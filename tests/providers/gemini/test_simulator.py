"""The Gemini Veo simulator, driven over loopback by the official ``google-genai`` SDK.

google-genai 3.3 refuses ``models.generate_videos`` in Gemini Developer API mode (it raises
``ValueError`` before sending: the method is Vertex-only in this SDK version), so creates go
through the SDK's own API client (``client._api_client.request``: same base URL, version
prefix, ``x-goog-api-key`` and error handling) and are parsed with the SDK's
``GenerateVideosOperation.from_api_response``. Polling (``operations.get``) and downloading
(``files.download``, which follows the 302) use the public SDK methods unchanged.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.providers.simulators import SimSetup, decoded_shape
from tests.support import Sim, png_bytes, serve
from vidgate.providers.gemini.simulator import SimulatorConfig, create_app
from vidgate.providers.simkit import Timeline

KEY = "sim-key-for-sdk-tests"
MODEL = "veo-3.1-generate-preview"
FAST = SimulatorConfig(api_key=KEY, job_seconds=0.3, queued_seconds=0.1, fps=8)
SIMULATOR = SimSetup(create_app, FAST)


def sdk_options(url: str) -> types.HttpOptions:
    """The SDK defaults to ``v1`` for the Gemini API; Veo's documented REST base is ``v1beta``."""
    return types.HttpOptions(base_url=url, api_version="v1beta")


def png(width: int = 64, height: int = 36) -> dict[str, str]:
    data = base64.b64encode(png_bytes(width, height)).decode()
    return {"bytesBase64Encoded": data, "mimeType": "image/png"}


@pytest.fixture(scope="module")
def client(base_url: str) -> genai.Client:
    return genai.Client(api_key=KEY, http_options=sdk_options(base_url))


def create(
    client: genai.Client, body: dict[str, Any], model: str = MODEL
) -> types.GenerateVideosOperation:
    response = client._api_client.request("post", f"models/{model}:predictLongRunning", body)
    return types.GenerateVideosOperation.from_api_response(json.loads(response.body))


def finish(
    client: genai.Client, operation: types.GenerateVideosOperation
) -> types.GenerateVideosOperation:
    deadline = time.monotonic() + 20
    while not operation.done:
        assert time.monotonic() < deadline, "operation did not finish"
        time.sleep(0.05)
        operation = client.operations.get(operation)
    return operation


def download(client: genai.Client, uri: str) -> bytes:
    # The SDK extracts the file id only from https:// URIs (`files/([a-z0-9]+)`); loopback is http.
    return client.files.download(file=types.Video(uri=uri.replace("http://", "https://", 1)))


def text_body(prompt: str = "a lighthouse at dusk", **params: Any) -> dict[str, Any]:
    return {"instances": [{"prompt": prompt}], "parameters": params}


def test_text_to_video_round_trip(client: genai.Client, sim: Sim) -> None:
    operation = create(client, text_body(aspectRatio="9:16", durationSeconds=4, resolution="720p"))
    assert operation.name and operation.name.startswith(f"models/{MODEL}/operations/")
    assert not operation.done
    operation = finish(client, operation)
    assert operation.error is None and operation.result is not None
    videos = operation.result.generated_videos
    assert videos and videos[0].video and videos[0].video.uri
    uri = videos[0].video.uri
    assert uri.startswith(f"{sim.url}/v1beta/files/") and uri.endswith(":download?alt=media")
    width, height, seconds = decoded_shape(download(client, uri))
    assert (width, height) == (720, 1280) and abs(seconds - 4) <= 0.5
    assert all(via == "header" for _, via in sim.state.auth)


def test_pending_operation_has_no_done_then_done_false(client: genai.Client, sim: Sim) -> None:
    operation = create(client, text_body())
    url, state = sim.url, sim.state
    job = state.jobs[str(operation.name)]
    job.timeline = Timeline(duration_s=100, queued_s=50)  # the clock, held still
    raw = httpx.get(f"{url}/v1beta/{operation.name}", params={"key": KEY}).json()
    assert raw == {"name": operation.name}
    job.timeline.started -= 60
    raw = httpx.get(f"{url}/v1beta/{operation.name}", params={"key": KEY}).json()
    assert raw == {"name": operation.name, "done": False}
    assert state.auth[-1] == (f"/v1beta/{operation.name}", "query")


def test_download_redirects_to_signed_storage(client: genai.Client, sim: Sim) -> None:
    operation = finish(client, create(client, text_body(durationSeconds=4)))
    assert operation.result and operation.result.generated_videos
    uri = str(operation.result.generated_videos[0].video.uri)  # type: ignore[union-attr]
    first = httpx.get(uri, headers={"x-goog-api-key": KEY})
    assert first.status_code == 302 and "/sim-storage/" in first.headers["location"]
    assert httpx.get(first.headers["location"]).headers["content-type"] == "video/mp4"
    forged = first.headers["location"].split("?")[0] + "?sig=0"
    assert httpx.get(forged).status_code == 403
    assert httpx.get(uri).status_code == 403  # the file URI itself needs the key


def test_first_and_last_frame(client: genai.Client) -> None:
    body = {
        "instances": [{"prompt": "a door opens", "image": png(), "lastFrame": png()}],
        "parameters": {"durationSeconds": 6, "personGeneration": "allow_adult"},
    }
    operation = finish(client, create(client, body))
    assert operation.result and operation.result.generated_videos


def test_reference_images_need_eight_seconds(client: genai.Client) -> None:
    refs = [{"image": png(), "referenceType": "asset"} for _ in range(3)]
    body = {"instances": [{"prompt": "this dress on a runway", "referenceImages": refs}]}
    with pytest.raises(errors.ClientError) as info:
        create(client, body | {"parameters": {"durationSeconds": 6}})
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    assert "durationSeconds" in str(info.value.message)
    operation = finish(client, create(client, body | {"parameters": {"durationSeconds": 8}}))
    assert operation.result and operation.result.generated_videos
    style = [{"image": png(), "referenceType": "STYLE"}]
    with pytest.raises(errors.ClientError):
        create(client, {"instances": [{"prompt": "x", "referenceImages": style}]})


def test_extension_adds_seven_seconds(client: genai.Client) -> None:
    source = finish(client, create(client, text_body(durationSeconds=4)))
    uri = source.result.generated_videos[0].video.uri  # type: ignore[union-attr,index]
    body = {"instances": [{"prompt": "keep going", "video": {"uri": uri}}], "parameters": {}}
    extended = finish(client, create(client, body))
    out = extended.result.generated_videos[0].video.uri  # type: ignore[union-attr,index]
    width, height, seconds = decoded_shape(download(client, str(out)))
    assert (width, height) == (1280, 720) and abs(seconds - 11) <= 0.5
    with pytest.raises(errors.ClientError) as info:
        create(client, {"instances": [{"prompt": "x", "video": {"uri": "files/nope"}}]})
    assert info.value.code == 400
    with pytest.raises(errors.ClientError):
        create(client, body, model="veo-3.0-generate-001")  # no extension before Veo 3.1


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"seed": 7}, "`seed` isn't supported"),
        ({"generateAudio": True}, "`generateAudio` isn't supported"),
        ({"storageUri": "gs://b/o"}, "`storageUri` isn't supported"),
        ({"resolution": "4k", "durationSeconds": 4}, "durationSeconds"),
        ({"durationSeconds": 5}, "durationSeconds"),
        ({"durationSeconds": "8"}, "durationSeconds"),
        ({"aspectRatio": "1:1"}, "aspectRatio"),
        ({"personGeneration": "allow_adult"}, "allow_adult for personGeneration is currently not"),
        ({"personGeneration": "everyone"}, "personGeneration"),
    ],
)
def test_rejected_parameters(client: genai.Client, params: dict[str, Any], needle: str) -> None:
    with pytest.raises(errors.ClientError) as info:
        create(client, text_body(**params))
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    assert needle in str(info.value.message)


def test_vertex_only_image_forms_are_rejected(client: genai.Client) -> None:
    gcs = {"gcsUri": "gs://bucket/frame.png", "mimeType": "image/png"}
    with pytest.raises(errors.ClientError, match="gcsUri"):
        create(client, {"instances": [{"prompt": "x", "image": gcs}]})
    with pytest.raises(errors.ClientError, match="isn't supported"):
        create(client, {"instances": [{"prompt": "x", "mask": png()}]})


def test_model_limits(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError, match="resolution"):
        create(client, text_body(resolution="4k"), model="veo-3.1-fast-generate-preview")
    with pytest.raises(errors.ClientError, match="lastFrame"):
        create(
            client,
            {"instances": [{"prompt": "x", "image": png(), "lastFrame": png()}]},
            model="veo-2.0-generate-001",
        )
    operation = finish(
        client, create(client, text_body(durationSeconds=5), model="veo-2.0-generate-001")
    )
    assert operation.result and operation.result.generated_videos
    with pytest.raises(errors.ClientError) as info:
        create(client, text_body(), model="veo-9")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"


def test_auth_errors(sim: Sim) -> None:
    bad = genai.Client(api_key="wrong", http_options=sdk_options(sim.url))
    with pytest.raises(errors.ClientError) as info:
        create(bad, text_body())
    assert info.value.code == 400 and "API key not valid" in str(info.value.message)
    assert info.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    missing = httpx.post(f"{sim.url}/v1beta/models/{MODEL}:predictLongRunning", json=text_body())
    assert missing.status_code == 403 and missing.json()["error"]["status"] == "PERMISSION_DENIED"


def test_content_filter_and_operation_error(client: genai.Client) -> None:
    filtered = finish(client, create(client, text_body("[sim:fail] something")))
    assert filtered.error is None and filtered.result is not None
    assert not filtered.result.generated_videos
    assert filtered.result.rai_media_filtered_count == 1
    assert filtered.result.rai_media_filtered_reasons
    failed = finish(client, create(client, text_body("[sim:op-error] something")))
    assert failed.error and failed.error["code"] == 13 and failed.result is None


def test_rate_limit_and_server_error(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        create(client, text_body("[sim:429] x"))
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
    retry = [d for d in info.value.details["error"]["details"] if d["@type"].endswith("RetryInfo")]
    assert retry == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]
    with pytest.raises(errors.ServerError) as server:
        create(client, text_body("[sim:500] x"))
    assert server.value.code == 500 and server.value.status == "INTERNAL"


def test_poll_faults(client: genai.Client, sim: Sim) -> None:
    url = sim.url
    limited = create(client, text_body("[sim:poll-429] x"))
    with pytest.raises(errors.ClientError) as info:
        client.operations.get(limited)
    assert info.value.code == 429
    assert finish(client, limited).result is not None
    broken = create(client, text_body("[sim:malformed] x"))
    first = httpx.get(f"{url}/v1beta/{broken.name}", headers={"x-goog-api-key": KEY})
    assert first.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        first.json()
    assert finish(client, broken).result is not None
    odd = create(client, text_body("[sim:unknown-status] x"))
    job = sim.state.jobs[str(odd.name)]
    job.timeline = Timeline(duration_s=100, queued_s=0)
    body = httpx.get(f"{url}/v1beta/{odd.name}", headers={"x-goog-api-key": KEY}).json()
    assert body["done"] is False and body["metadata"]["state"] == "RENDERING"
    job.timeline.started -= 100
    assert finish(client, odd).result is not None


def test_hang_is_cancelled_when_the_caller_leaves(sim: Sim) -> None:
    url, state = sim.url, sim.state
    before = len(state.jobs)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{url}/v1beta/models/{MODEL}:predictLongRunning",
            json=text_body("[sim:hang] x"),
            headers={"x-goog-api-key": KEY},
            timeout=0.3,
        )
    assert httpx.get(f"{url}/__sim__/log").status_code == 200  # still serving
    assert len(state.jobs) == before


def test_hang_answers_after_the_configured_wait() -> None:
    app = create_app(SimulatorConfig(api_key=KEY, hang_seconds=0.3))
    with serve(app) as url:
        started = time.monotonic()
        response = httpx.post(
            f"{url}/v1beta/models/{MODEL}:predictLongRunning",
            json=text_body("[sim:hang] x"),
            headers={"x-goog-api-key": KEY},
        )
        assert response.status_code == 200 and time.monotonic() - started >= 0.3


def test_request_log(sim: Sim) -> None:
    log = httpx.get(f"{sim.url}/__sim__/log").json()
    assert any(e["method"] == "POST" and e["path"].endswith(":predictLongRunning") for e in log)


@pytest.mark.parametrize("body", [{"instances": {"prompt": "x"}}, [1], {"instances": []}, {"x": 1}])
def test_malformed_bodies_are_400s(sim: Sim, body: Any) -> None:
    response = httpx.post(
        f"{sim.url}/v1beta/models/{MODEL}:predictLongRunning",
        json=body,
        headers={"x-goog-api-key": KEY},
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
