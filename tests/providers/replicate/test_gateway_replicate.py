"""The gateway in front of the Replicate simulator, over real HTTP on loopback.

The simulator plays api.replicate.com; ``app.state.sim`` shows every prediction it got
(path, input, headers). The gateway is driven with the official openai SDK and raw httpx;
no prediction id, token or upstream host may reach a client.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from tests import support
from tests.support import GatewaySetup, Sim
from vidgate.providers.replicate.simulator import SimPrediction, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "r8_" + "7e" * 20
SHA = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
SETUP = GatewaySetup(
    provider="replicate",
    simulator=create_app,
    sim_config=SimulatorConfig(api_key=KEY, list_output=True),
    path="/v1",
    key=KEY,
    models={
        "seedance": "bytedance/seedance-2.0",
        "vidu": "vidu/q3-turbo",
        "pinned": {
            "model": f"acme/clouds:{SHA}",
            "options": {"cancel_after": "45m", "input_keys": {"first_frame": "start_image"}},
        },
        "badversion": "acme/clouds:nothex",
    },
    upstream_ids=lambda state: state.predictions,
)


def prediction_for(sim: Sim, prompt: str) -> SimPrediction:
    found: SimPrediction = sim.find("predictions", lambda p: p.input.get("prompt") == prompt)
    return found


def creates(sim: Sim) -> int:
    return sum(1 for e in sim.log() if e["method"] == "POST" and e["path"].endswith("/predictions"))


def test_official_model_end_to_end(client: openai.OpenAI, http: httpx.Client, sim: Sim) -> None:
    prompt = "a lighthouse at dusk on replicate"
    response = support.post_video(
        http, model="seedance", prompt=prompt, size="720x1280", seconds="4", seed=9
    )
    assert response.status_code == 200, response.text
    prediction = prediction_for(sim, prompt)
    assert prediction.path == "/v1/models/bytedance/seedance-2.0/predictions"
    assert prediction.headers["authorization"] == f"Bearer {KEY}"
    assert "prefer" not in prediction.headers and "cancel-after" not in prediction.headers
    assert prediction.input == {
        "prompt": prompt,
        "duration": 4,
        "aspect_ratio": "9:16",
        "resolution": "720p",
        "seed": 9,
        "generate_audio": True,
    }
    support.completed(client, response.json()["id"], "720x1280", 4)
    # The public delivery URL (output was a list here) was fetched without the token.
    fetched = [e for e in sim.log() if e["path"] == f"/delivery/{prediction.id}/output.mp4"]
    assert fetched and all(e["status_code"] == 200 for e in fetched)


def test_frames_audio_and_reference_images(http: httpx.Client, sim: Sim) -> None:
    prompt = "first and last frame on seedance"
    response = support.post_video(
        http,
        model="seedance",
        prompt=prompt,
        size="854x480",
        seconds="5",
        input_reference={"image_url": support.png_uri(64, 36)},
        metadata={"last_frame": support.png_uri(32, 32), "audio": False},
    )
    assert response.status_code == 200, response.text
    data = prediction_for(sim, prompt).input
    assert data["image"].startswith("data:image/png;base64,")
    assert data["last_frame_image"].startswith("data:image/png;base64,")
    assert (data["generate_audio"], data["aspect_ratio"], data["resolution"]) == (
        False,
        "16:9",
        "480p",
    )
    vidu = support.post_video(
        http,
        model="vidu",
        prompt="vidu start image",
        size="1920x1080",
        seconds="3",
        input_reference={"image_url": support.png_uri(64, 36)},
    )
    assert vidu.status_code == 200, vidu.text
    vidu_input = prediction_for(sim, "vidu start image").input
    assert vidu_input["start_image"].startswith("data:image/png;base64,")
    assert (vidu_input["resolution"], vidu_input["duration"]) == ("1080p", 3)


def test_pinned_version_with_options_and_extras(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "a pinned community model"
    response = support.post_video(
        http,
        model="pinned",
        prompt=prompt,
        size="854x480",
        seconds="4",
        input_reference={"image_url": support.png_uri(64, 36)},
        metadata={"negative_prompt": "blur", "num_inference_steps": 30, "loop": True},
    )
    assert response.status_code == 200, response.text
    prediction = prediction_for(sim, prompt)
    assert prediction.path == "/v1/predictions" and prediction.version == SHA
    assert prediction.model == "acme/clouds"
    assert prediction.headers["cancel-after"] == "45m"
    data = prediction.input
    assert data["start_image"].startswith("data:image/png;base64,") and "image" not in data
    assert (data["negative_prompt"], data["num_inference_steps"], data["loop"]) == (
        "blur",
        30,
        True,
    )
    assert (data["aspect_ratio"], data["resolution"], data["duration"]) == ("16:9", "480p", 4)
    assert support.finish(client, response.json()["id"]).status == "completed"


def test_delete_while_running_cancels_the_prediction(
    client: openai.OpenAI, http: httpx.Client, sim: Sim
) -> None:
    prompt = "[sim:slow] to be deleted"
    response = support.post_video(
        http, model="seedance", prompt=prompt, size="1280x720", seconds="4"
    )
    assert response.status_code == 200, response.text
    prediction = prediction_for(sim, prompt)
    client.videos.delete(response.json()["id"])
    support.wait_for(lambda: prediction.canceled_at is not None)
    cancels = [e for e in sim.log() if e["path"] == f"/v1/predictions/{prediction.id}/cancel"]
    assert [e["method"] for e in cancels] == ["POST"]
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(response.json()["id"])


def test_extras_a_model_lacks_are_refused_before_any_call(http: httpx.Client, sim: Sim) -> None:
    before = creates(sim)
    error = support.refusal(
        support.post_video(http, model="vidu", prompt="x", metadata={"movement_amplitude": "auto"})
    )
    assert error["param"] == "metadata.movement_amplitude"
    assert creates(sim) == before


def test_a_version_that_is_not_a_hash_names_the_model(http: httpx.Client) -> None:
    error = support.refusal(support.post_video(http, model="badversion", prompt="which version"))
    assert error["param"] == "model"
