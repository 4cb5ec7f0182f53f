"""The moderation simulator speaks OpenAI's wire format: the official SDK reads it.

The gateway's moderation tests lean on it, so it is checked on its own first, with
``openai``'s ``client.moderations.create`` over real HTTP on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.support import Sim, serve_sim
from vidgate.providers import moderation_sim

KEY = "sk-mod-sim-test"


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    with serve_sim(moderation_sim.create_app(moderation_sim.SimulatorConfig(api_key=KEY))) as s:
        yield s


def _client(sim: Sim, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sim.url}/v1", api_key=key, max_retries=0)


def test_a_harmless_text_passes(sim: Sim) -> None:
    reply = _client(sim).moderations.create(
        model="omni-moderation-latest", input="a kite over a beach"
    )
    (result,) = reply.results
    assert reply.id.startswith("modr-") and reply.model == "omni-moderation-latest"
    assert result.flagged is False
    assert result.categories.violence is False and result.category_scores.violence < 0.01
    assert result.category_applied_input_types.violence == ["text"]


def test_configured_words_flag_their_categories_one_result_per_text(sim: Sim) -> None:
    reply = _client(sim).moderations.create(
        model="omni-moderation-latest", input=["a calm lake", "a BLOODBATH in the hall"]
    )
    calm, bloody = reply.results
    assert calm.flagged is False
    assert bloody.flagged is True
    assert bloody.categories.violence and bloody.categories.violence_graphic
    assert bloody.category_scores.violence > 0.9
    assert not bloody.categories.sexual


def test_a_marker_flags_any_category_in_multimodal_input(sim: Sim) -> None:
    reply = _client(sim).moderations.create(
        model="omni-moderation-latest",
        input=[
            {"type": "text", "text": "a scene [mod:flag=self-harm/intent]"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        ],
    )
    (result,) = reply.results  # parts of one input: one result
    assert result.flagged and result.categories.self_harm_intent


def test_a_wrong_key_is_refused(sim: Sim) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        _client(sim, "sk-wrong").moderations.create(input="x")
    assert caught.value.code == "invalid_api_key"


def test_markers_make_it_fail(sim: Sim) -> None:
    with pytest.raises(openai.InternalServerError):
        _client(sim).moderations.create(input="anything [mod:500]")
    with pytest.raises(openai.RateLimitError):
        _client(sim).moderations.create(input="anything [mod:429]")
    odd = httpx.post(
        f"{sim.url}/v1/moderations",
        json={"input": "x [mod:malformed]"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert odd.status_code == 200 and "results" not in odd.json()


def test_it_can_be_told_to_fail_every_call(sim: Sim) -> None:
    sim.state.config.fail_status = 503
    try:
        with pytest.raises(openai.InternalServerError) as caught:
            _client(sim).moderations.create(input="a kite")
        assert caught.value.status_code == 503
    finally:
        sim.state.config.fail_status = None
    assert _client(sim).moderations.create(input="a kite").results[0].flagged is False


def test_a_bad_request_is_a_400_in_the_envelope(sim: Sim) -> None:
    with pytest.raises(openai.BadRequestError) as missing:
        _client(sim).moderations.create(input=[])
    assert missing.value.param == "input"
    with pytest.raises(openai.NotFoundError):
        _client(sim).moderations.create(model="no-such-model", input="x")
