"""``seconds`` on a remix, through the official ``openai`` SDK against the gateway in front of
the OpenAI Videos simulator and the local renderer.

The SDK's ``videos.remix`` takes only ``prompt``, so a client asking for a length (the
LiteLLM-based host's quick start: ``client.videos.remix(video_id, prompt=..., seconds=8)``)
sends it in ``extra_body``. The source's length is always fine and changes nothing upstream;
OpenAI's remix cannot set a length (its body is ``{prompt}``), so another length on sora-2 is
a 400 naming the source's length, or dropped and reported under ``drop_params``; the local
renderer's remix can, and the job is priced by the length made.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support import Gateway, Sim, quick, running_gateway, serve_sim, video_shape
from vidgate.providers.openai import simulator as openai_sim

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SIM_KEY = "sk-remix-seconds-upstream"
PREVIEW_USD_PER_S = 0.05
HEADER = "x-vidgate-dropped-params"


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    config = quick(openai_sim.SimulatorConfig(api_key=SIM_KEY, poll_after_ms=50))
    with serve_sim(openai_sim.create_app(config)) as served:
        yield served


@pytest.fixture(scope="module")
def gw(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    sora = {"model_name": "sora-2", "provider": "openai", "model": "sora-2"}
    sora |= {"api_base": f"{sim.url}/v1", "api_key": SIM_KEY, "poll_interval_s": 0.1}
    preview = {"model_name": "preview", "provider": "local", "model": "preview"}
    preview |= {"pricing": {"per_second": {"*": PREVIEW_USD_PER_S}}}
    config = {"model_list": [sora, preview], "settings": {"local_workers": 1}}
    with running_gateway(tmp_path_factory.mktemp("gw"), config) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def client(gw: Gateway) -> openai.OpenAI:
    return gw.sdk(gw.new_key())


@pytest.fixture(scope="module")
def source(client: openai.OpenAI) -> openai.types.Video:
    """A completed 4 s sora-2 video on the simulator."""
    video = client.videos.create_and_poll(
        prompt="a lighthouse at dusk", model="sora-2", seconds="4", poll_interval_ms=50
    )
    assert video.status == "completed", video.error
    return video


def remixes_upstream(sim: Sim, mark: int) -> list[dict[str, Any]]:
    return [e for e in sim.since(mark) if e["method"] == "POST" and e["path"].endswith("/remix")]


def upstream_job(sim: Sim, prompt: str) -> Any:
    (job,) = [j for j in sim.state.jobs.values() if j.prompt == prompt]
    return job


def extra(video: openai.types.Video, name: str) -> Any:
    """A field the SDK's Video type does not declare (vidgate's own)."""
    return (video.model_extra or {})[name]


def test_the_source_length_is_fine_and_nothing_different_goes_upstream(
    client: openai.OpenAI, sim: Sim, source: openai.types.Video
) -> None:
    for seconds, prompt in ((None, "plain remix"), (4, "remix, 4"), ("4", "remix, '4'")):
        mark = sim.mark()
        body = {} if seconds is None else {"seconds": seconds}
        video = client.videos.remix(source.id, prompt=prompt, extra_body=body)
        done = client.videos.poll(video.id, poll_interval_ms=50)
        assert (done.status, done.seconds, done.size) == ("completed", "4", source.size)
        assert done.remixed_from_video_id == source.id and extra(done, "dropped_params") == []
        assert len(remixes_upstream(sim, mark)) == 1
        job = upstream_job(sim, prompt)
        assert (job.seconds, job.size, job.remixed_from_video_id is not None) == (
            4,
            "720x1280",
            True,
        )


@pytest.mark.parametrize(("field", "value"), [("seconds", 8), ("seconds", "8"), ("duration", 8)])
def test_another_length_on_sora_is_a_400_naming_the_source_length(
    client: openai.OpenAI, sim: Sim, source: openai.types.Video, field: str, value: Any
) -> None:
    mark = sim.mark()
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.remix(source.id, prompt="longer", extra_body={field: value})
    assert info.value.param == field and info.value.code == "invalid_value"
    assert "allowed: 4 (the source video's length)" in info.value.message
    assert remixes_upstream(sim, mark) == []


def test_under_drop_params_another_length_is_dropped_and_reported(
    client: openai.OpenAI, sim: Sim, source: openai.types.Video
) -> None:
    mark = sim.mark()
    raw = client.videos.with_raw_response.remix(
        source.id,
        prompt="longer, leniently",
        extra_body={"seconds": 8, "seed": 3, "drop_params": True},
    )
    assert raw.headers[HEADER] == "seed,seconds"
    done = client.videos.poll(raw.parse().id, poll_interval_ms=50)
    assert (done.status, done.seconds) == ("completed", "4")
    assert extra(done, "dropped_params") == ["seed", "seconds"]
    assert upstream_job(sim, "longer, leniently").seconds == 4
    assert len(remixes_upstream(sim, mark)) == 1
    with pytest.raises(openai.BadRequestError) as info:  # strict: seed is no remix field
        client.videos.remix(source.id, prompt="seeded", extra_body={"seed": 3})
    assert (info.value.param, info.value.code) == ("seed", "unknown_parameter")


def test_the_local_renderer_remixes_at_another_length_priced_by_it(
    client: openai.OpenAI, gw: Gateway
) -> None:
    video = client.videos.create_and_poll(
        prompt="a paper boat", model="preview", seconds="4", size="1280x720", poll_interval_ms=50
    )
    assert video.status == "completed", video.error
    assert extra(video, "usage")["cost_usd"] == pytest.approx(4 * PREVIEW_USD_PER_S)
    remix = client.videos.remix(video.id, prompt="the boat sails on", extra_body={"seconds": 8})
    assert remix.seconds == "8"
    done = client.videos.poll(remix.id, poll_interval_ms=50)
    assert (done.status, done.seconds, done.size) == ("completed", "8", "1280x720"), done.error
    usage = extra(done, "usage")
    assert usage["duration_seconds"] == pytest.approx(8, abs=0.2)
    assert usage["cost_usd"] == pytest.approx(8 * PREVIEW_USD_PER_S)
    width, height, duration = video_shape(client.videos.download_content(done.id).content)
    assert (width, height) == (1280, 720) and duration == pytest.approx(8, abs=0.2)
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.remix(video.id, prompt="too long", extra_body={"seconds": 30})
    assert info.value.param == "seconds" and "remixes at: 1, 2, 3" in info.value.message
