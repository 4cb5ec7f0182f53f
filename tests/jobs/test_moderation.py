"""Moderation before money: a blocked create costs nothing and reaches no upstream.

The gateway runs in front of the OpenAI Videos simulator and the moderation simulator
(``vidgate.providers.moderation_sim``), all on loopback; clients are the official ``openai``
SDK (no retries) and raw httpx. What each test checks beside the answer: the video
simulator's log (no create), the key's budget (nothing spent or held), the caller's video
list (no job), the request log's ``moderation`` column and the metric.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support import (
    Gateway,
    Recorder,
    Sim,
    finish,
    free_port,
    png_bytes,
    post_form,
    quick,
    running_gateway,
    serve_sim,
    wait_for,
    write_config,
)
from vidgate.jobs.moderation import Moderator, blocked_terms_pattern
from vidgate.netpolicy import OutboundPolicy
from vidgate.providers import moderation_sim
from vidgate.providers.openai import simulator as video_sim
from vidgate.request import VideoRequest
from vidgate.settings import (
    ConfigError,
    ModerationSettings,
    check_document,
    load_config_file,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MOD_KEY = "sk-moderation-secret-4f1c9a7e2b"
VIDEO_KEY = "sk-video-upstream-77aa"
TERMS = ["zorblax", "forbidden phrase"]


@pytest.fixture(scope="module")
def mod() -> Iterator[Sim]:
    config = moderation_sim.SimulatorConfig(api_key=MOD_KEY, hang_seconds=120)
    with serve_sim(moderation_sim.create_app(config)) as sim:
        yield sim


@pytest.fixture(scope="module")
def videos() -> Iterator[Sim]:
    app = video_sim.create_app(quick(video_sim.SimulatorConfig(api_key=VIDEO_KEY)))
    with serve_sim(app) as sim:
        yield sim


def _config(video_url: str, moderation: dict[str, Any]) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": "sora-2",
                "provider": "openai",
                "model": "sora-2",
                "api_base": f"{video_url}/v1",
                "api_key": VIDEO_KEY,
                "poll_interval_s": 0.1,
            }
        ],
        "settings": {"outbound_allow": ["127.0.0.1/32"], "moderation": moderation},
    }


def _endpoint(url: str, **more: Any) -> dict[str, Any]:
    return {
        "api_base": f"{url}/v1",
        "api_key": "os.environ/MOD_SIM_KEY",
        "model": "omni-moderation-latest",
        "timeout_s": 60,  # generous: a passing check must not depend on machine load
        **more,
    }


SHORT_TIMEOUT_S = 2
"""For the ``[mod:hang]`` gateways only: the simulator hangs 120 s, far past it."""


@pytest.fixture(scope="module")
def gw(mod: Sim, videos: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Strict: the endpoint and blocked terms, ``on_error: refuse`` (the default)."""
    moderation = {"deployment": _endpoint(mod.url), "blocked_terms": TERMS}
    config = _config(videos.url, moderation)
    env = {"MOD_SIM_KEY": MOD_KEY}
    with running_gateway(tmp_path_factory.mktemp("mod"), config, env=env) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def hasty(mod: Sim, videos: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """As ``gw`` with a short endpoint timeout, for the hang cases."""
    endpoint = _endpoint(mod.url, timeout_s=SHORT_TIMEOUT_S)
    config = _config(videos.url, {"deployment": endpoint, "blocked_terms": TERMS})
    env = {"MOD_SIM_KEY": MOD_KEY}
    with running_gateway(tmp_path_factory.mktemp("hasty"), config, env=env) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def lenient(mod: Sim, videos: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """``on_error: allow``: a failing endpoint lets requests through (it hangs past a short
    timeout; ``[mod:500]`` answers at once)."""
    endpoint = _endpoint(mod.url, timeout_s=SHORT_TIMEOUT_S)
    config = _config(videos.url, {"deployment": endpoint, "on_error": "allow"})
    env = {"MOD_SIM_KEY": MOD_KEY}
    with running_gateway(tmp_path_factory.mktemp("lenient"), config, env=env) as gateway:
        yield gateway


def _creates(videos: Sim, mark: int) -> list[dict[str, Any]]:
    return [e for e in videos.since(mark) if e["method"] == "POST"]


def _logged(gw: Gateway, request_id: str) -> dict[str, Any]:
    """The request log row of ``request_id`` (rows are written about once a second)."""

    def row() -> dict[str, Any] | None:
        with gw.http() as http:
            found = http.get("/admin/requests", params={"request_id": request_id}).json()
        return found["data"][0] if found["data"] else None

    found: dict[str, Any] = wait_for(row)
    return found


def _metric(gw: Gateway, outcome: str) -> float:
    with gw.http() as http:
        text = http.get("/metrics").text
    match = re.search(rf'vidgate_moderation_checks_total{{outcome="{outcome}"}} (\S+)', text)
    return float(match.group(1)) if match else 0.0


def _rid() -> str:
    return "req-mod-" + uuid.uuid4().hex[:12]


def _budget(gw: Gateway, key: str) -> tuple[float, float]:
    with gw.http(key) as http:
        info = http.get("/key/info").json()["info"]
    return info["spend"], info["reserved"]


def test_a_prompt_the_endpoint_flags_is_refused_at_no_cost(
    gw: Gateway, mod: Sim, videos: Sim
) -> None:
    key = gw.new_key(max_budget=5)
    mark, blocked_before = videos.mark(), _metric(gw, "blocked_flagged")
    rid = _rid()
    client = gw.sdk(key)
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(
            model="sora-2",
            prompt="a bloodbath in the castle hall",
            extra_headers={"X-Request-ID": rid},
        )
    error = caught.value
    assert error.status_code == 400 and error.code == "content_policy_violation"
    assert error.param == "prompt"
    assert "violence" in error.message and "violence/graphic" in error.message
    assert ["a bloodbath in the castle hall"] in mod.state.inputs  # the endpoint was asked
    assert client.videos.list().data == []  # no job row
    assert _budget(gw, key) == (0, 0)  # nothing held, nothing spent
    assert _creates(videos, mark) == []  # no upstream call
    row = _logged(gw, rid)
    assert row["moderation"] == "blocked: violence, violence/graphic"
    assert row["status_code"] == 400 and row["error_code"] == "content_policy_violation"
    assert _metric(gw, "blocked_flagged") == blocked_before + 1


def test_a_blocked_term_is_refused_without_asking_the_endpoint(
    gw: Gateway, mod: Sim, videos: Sim
) -> None:
    mark, asked = videos.mark(), len(mod.state.inputs)
    client = gw.sdk()
    for prompt in ("A ZORBLAX at dawn", "the Forbidden\n  Phrase, spoken", "(zorblax)"):
        rid = _rid()
        with pytest.raises(openai.BadRequestError) as caught:
            client.videos.create(prompt=prompt, extra_headers={"X-Request-ID": rid})
        assert caught.value.code == "content_policy_violation", prompt
        assert "a blocked term" in caught.value.message
        assert "zorblax" not in caught.value.message.lower()  # the list is not disclosed
        assert _logged(gw, rid)["moderation"] == "blocked: term"
    assert len(mod.state.inputs) == asked  # decided locally
    assert _creates(videos, mark) == []


def test_a_term_inside_a_longer_word_is_not_blocked(gw: Gateway, videos: Sim) -> None:
    client = gw.sdk()
    video = client.videos.create(prompt="the zorblaxian empire at sunset")
    assert finish(client, video.id).status == "completed"


def test_a_passing_prompt_makes_a_job_and_the_log_says_passed(
    gw: Gateway, mod: Sim, videos: Sim
) -> None:
    mark, passed = videos.mark(), _metric(gw, "passed")
    rid = _rid()
    client = gw.sdk()
    raw = client.videos.with_raw_response.create(
        prompt="a kite over a calm beach", extra_headers={"X-Request-ID": rid}
    )
    video = raw.parse()
    assert finish(client, video.id).status == "completed"
    assert len(_creates(videos, mark)) == 1
    assert ["a kite over a calm beach"] in mod.state.inputs
    row = _logged(gw, rid)
    assert (row["moderation"], row["job_id"]) == ("passed", video.id)
    assert _metric(gw, "passed") >= passed + 1


async def test_a_negative_prompt_is_not_moderated(mod: Sim) -> None:
    """It lists what the video must not show: "bloodbath" there asks for less of it."""
    settings = ModerationSettings.model_validate(
        {"deployment": {"api_base": f"{mod.url}/v1", "api_key": MOD_KEY}, "blocked_terms": TERMS}
    )
    moderator = Moderator(settings, OutboundPolicy.from_entries(["127.0.0.1/32"]))
    try:
        request = VideoRequest("create", "a quiet harbour", negative_prompt="bloodbath, zorblax")
        verdict = await moderator.judge(request)
        assert (verdict.outcome, verdict.error) == ("passed", None)
        assert mod.state.inputs[-1] == ["a quiet harbour"]
        flagged = await moderator.judge(VideoRequest("create", "a bloodbath"))
        assert flagged.outcome == "blocked: violence, violence/graphic"
        assert flagged.error is not None and flagged.error.code == "content_policy_violation"
    finally:
        await moderator.aclose()


def test_a_refusal_holds_no_jobs_in_flight_slot(gw: Gateway) -> None:
    """Neither the key's nor the end user's: a refused request is not running."""
    key = gw.new_key(max_parallel_requests=1, end_user_limits={"max_parallel_requests": 1})
    client = gw.sdk(key)
    for prompt in ("a massacre", "zorblax", "a kite [mod:500]"):
        with pytest.raises((openai.BadRequestError, openai.InternalServerError)):
            client.videos.create(prompt=prompt, extra_body={"user": "ann"})
    video = client.videos.create(prompt="a lighthouse", extra_body={"user": "ann"})
    assert video.id.startswith("video_")  # the key's one job in flight
    with pytest.raises(openai.RateLimitError):  # and the limit is really one
        client.videos.create(prompt="a second lighthouse")


def test_a_key_past_its_rate_limit_makes_no_moderation_call(gw: Gateway, mod: Sim) -> None:
    """The slots come before the endpoint: hammering creates costs one call per admitted
    request, not one per request. A refusal by the endpoint used an rpm tick (it was a
    request, and it cost a call); a blocked term, decided locally first, did not."""
    key = gw.new_key(rpm_limit=2)
    client = gw.sdk(key)
    asked = len(mod.state.inputs)
    with pytest.raises(openai.BadRequestError):
        client.videos.create(prompt="zorblax at noon")  # local: no tick, no call
    with pytest.raises(openai.BadRequestError):
        client.videos.create(prompt="a massacre at noon")  # a call and a tick
    assert client.videos.create(prompt="a lighthouse at noon").id.startswith("video_")
    assert len(mod.state.inputs) == asked + 2
    for n in range(5):
        with pytest.raises(openai.RateLimitError) as caught:
            client.videos.create(prompt=f"lighthouse number {n}")
        assert "Rate limit reached for this key" in caught.value.message
    assert len(mod.state.inputs) == asked + 2  # no call for a request refused by the limit


def test_a_refused_upload_is_discarded(gw: Gateway) -> None:
    with gw.http() as http:
        response = post_form(
            http,
            prompt="a massacre at the gate",
            input_reference=("ref.png", png_bytes(1280, 720), "image/png"),
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "content_policy_violation"
    stored = [p for p in gw.data_dir.rglob("*") if p.is_file() and "inputs" in p.parts]
    assert stored == []


def test_a_content_text_item_is_the_prompt_and_is_checked(gw: Gateway, videos: Sim) -> None:
    mark = videos.mark()
    with gw.http() as http:
        response = http.post(
            "/v1/videos",
            json={"model": "sora-2", "content": [{"type": "text", "text": "a bloodbath"}]},
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("content_policy_violation", "content")
    assert _creates(videos, mark) == []


def test_a_malformed_request_is_its_own_400_first(gw: Gateway, mod: Sim) -> None:
    asked = len(mod.state.inputs)
    with gw.http() as http:
        response = http.post("/v1/videos", json={"prompt": "a massacre", "seconds": "7"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "seconds"
    assert len(mod.state.inputs) == asked


def test_the_remix_prompt_is_checked(gw: Gateway, videos: Sim) -> None:
    client = gw.sdk()
    source = finish(client, client.videos.create(prompt="a sunny meadow").id)
    assert source.status == "completed"
    mark = videos.mark()
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.remix(source.id, prompt="the meadow after a massacre")
    assert caught.value.code == "content_policy_violation"
    assert _creates(videos, mark) == []  # no remix reached the upstream
    remix = client.videos.remix(source.id, prompt="the meadow at night")
    assert remix.remixed_from_video_id == source.id


def test_the_estimate_checks_the_terms_and_never_calls_the_endpoint(
    gw: Gateway, mod: Sim, videos: Sim
) -> None:
    """A dry run takes no rate-limit slot, so it must not reach a rate-limited endpoint."""
    mark, asked, rid, fine_rid = videos.mark(), len(mod.state.inputs), _rid(), _rid()
    with gw.http() as http:
        blocked = http.post(
            "/v1/videos/estimate",
            json={"model": "sora-2", "prompt": "a zorblax"},
            headers={"X-Request-ID": rid},
        ).json()
        flagged = [
            http.post("/v1/videos/estimate", json={"prompt": "a bloodbath"}).json()
            for _ in range(5)
        ]
        fine = http.post(
            "/v1/videos/estimate", json={"prompt": "a meadow"}, headers={"X-Request-ID": fine_rid}
        ).json()
    assert blocked["admitted"] is False
    (reason,) = [r for r in blocked["reasons"] if r["code"] == "content_policy_violation"]
    assert "a blocked term" in reason["message"]
    assert all(f["admitted"] is True and f["reasons"] == [] for f in flagged)  # the create asks
    assert fine["admitted"] is True and fine["reasons"] == []
    assert len(mod.state.inputs) == asked  # no call at all
    assert _logged(gw, rid)["moderation"] == "blocked: term"
    assert _logged(gw, fine_rid)["moderation"] == "passed: terms only"
    assert _creates(videos, mark) == []


@pytest.mark.parametrize(
    ("marker", "why"),
    [("[mod:500]", "HTTP 500"), ("[mod:malformed]", "unreadable reply"), ("[mod:hang]", "timeout")],
)
def test_a_failing_endpoint_refuses_with_503_by_default(
    gw: Gateway, hasty: Gateway, videos: Sim, marker: str, why: str
) -> None:
    gw = hasty if marker == "[mod:hang]" else gw
    mark, rid = videos.mark(), _rid()
    with pytest.raises(openai.InternalServerError) as caught:
        gw.sdk().videos.create(prompt=f"a kite {marker}", extra_headers={"X-Request-ID": rid})
    error = caught.value
    assert error.status_code == 503 and error.code == "moderation_unavailable"
    assert why in error.message
    body: Any = error.body
    assert set(body) == {"message", "type", "param", "code"}  # the envelope's error object
    assert _creates(videos, mark) == []
    assert _logged(gw, rid)["moderation"] == f"error: {why} (refused)"


def test_an_unreachable_endpoint_refuses(videos: Sim, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    config = _config(videos.url, {"deployment": _endpoint(dead)})
    with running_gateway(tmp_path / "gw", config, env={"MOD_SIM_KEY": MOD_KEY}) as gateway:
        mark = videos.mark()
        with pytest.raises(openai.InternalServerError) as caught:
            gateway.sdk().videos.create(prompt="a kite")
        assert caught.value.code == "moderation_unavailable"
        assert "connection failed" in caught.value.message
        assert _creates(videos, mark) == []


@pytest.mark.parametrize(("marker", "why"), [("[mod:500]", "HTTP 500"), ("[mod:hang]", "timeout")])
def test_on_error_allow_lets_the_request_through(
    lenient: Gateway, videos: Sim, marker: str, why: str
) -> None:
    mark, rid = videos.mark(), _rid()
    allowed = _metric(lenient, "error_allowed")
    client = lenient.sdk()
    video = client.videos.create(prompt=f"a kite {marker}", extra_headers={"X-Request-ID": rid})
    assert len(_creates(videos, mark)) == 1
    assert _logged(lenient, rid)["moderation"] == f"error: {why} (allowed)"
    assert _metric(lenient, "error_allowed") == allowed + 1
    assert finish(client, video.id).status == "completed"


def test_the_moderation_key_never_leaks(gw: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    with caplog.at_level(logging.DEBUG), recorder.http(gw) as http:
        http.post("/v1/videos", json={"prompt": "a bloodbath"})
        http.post("/v1/videos", json={"prompt": "a kite [mod:500]"})
        http.post("/v1/videos/estimate", json={"prompt": "a kite"})
        config = http.get("/config").json()
        http.get("/admin/requests")
    shown = config["settings"]["moderation"]["deployment"]
    assert shown["api_key"] == "[redacted]" and shown["api_base"].endswith("/v1")
    assert recorder.leaks([MOD_KEY]) == []
    assert MOD_KEY not in caplog.text
    assert not any(MOD_KEY in str(record.__dict__) for record in caplog.records)


def test_a_private_endpoint_needs_outbound_allow(tmp_path: Path) -> None:
    moderation = {"deployment": {"api_base": "http://10.1.2.3/v1"}}
    checked = check_document({"settings": {"moderation": moderation}})
    (problem,) = checked.problems
    assert problem.path == "settings.moderation"
    assert "deployment.api_base: the host is a loopback, private" in problem.message
    assert "outbound_allow" in problem.message
    allowed = {"outbound_allow": ["10.0.0.0/8"], "moderation": moderation}
    assert check_document({"settings": allowed}).problems == ()
    bad = check_document(
        {"settings": {"moderation": {"deployment": {"api_base": "ftp://x"}, "on_error": "x"}}}
    )
    assert {p.path for p in bad.problems} == {
        "settings.moderation.deployment.api_base",
        "settings.moderation.on_error",
    }
    path = write_config(tmp_path, {"settings": {"moderation": moderation}})
    with pytest.raises(ConfigError, match=r"settings\.moderation: .*deployment\.api_base"):
        load_config_file(path)  # what start-up and `vidgate config check` read


def test_the_request_log_filters_by_outcome(gw: Gateway) -> None:
    rid = _rid()
    with gw.http() as http:
        http.post("/v1/videos", json={"prompt": "zorblax"}, headers={"X-Request-ID": rid})
        _logged(gw, rid)
        blocked = http.get("/admin/requests", params={"moderation": "blocked"}).json()["data"]
        passed = http.get("/admin/requests", params={"moderation": "passed"}).json()["data"]
        bad = http.get("/admin/requests", params={"moderation": "flagged"})
    assert rid in [row["request_id"] for row in blocked]
    assert blocked and all(row["moderation"].startswith("blocked: ") for row in blocked)
    assert passed and all(row["moderation"] in ("passed", "passed: terms only") for row in passed)
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["param"] == "moderation" and "passed, blocked, error" in error["message"]


@pytest.mark.parametrize("path", ["/v1/video/generations", "/v2/video/generations"])
def test_the_compat_surfaces_are_checked_too(gw: Gateway, videos: Sim, path: str) -> None:
    """new-api's and aimlapi's creates share the create path, and so the check."""
    mark = videos.mark()
    with gw.http() as http:
        blocked = http.post(path, json={"model": "sora-2", "prompt": "a massacre at sea"})
        fine = http.post(path, json={"model": "sora-2", "prompt": "a ship at sea"})
    assert blocked.status_code == 400, blocked.text
    assert blocked.json()["error"]["code"] == "content_policy_violation"
    assert fine.status_code in (200, 201), fine.text
    assert len(_creates(videos, mark)) == 1  # the fine one only


@pytest.mark.parametrize(
    ("text", "blocked"),
    [
        ("C++ for beginners", True),
        ("a c++ tutorial", True),
        ("a c+ grade", False),
        ("tagged #ad here", True),
        ("tagged #adverb here", False),
        ("the acme  corp logo", True),
        ("the acmecorp logo", False),
        ("ÉCLAIR au chocolat", True),
    ],
)
def test_blocked_terms_match_whole_words_and_phrases(text: str, blocked: bool) -> None:
    pattern = blocked_terms_pattern(["c++", "#ad", "acme corp", "éclair"])
    assert pattern is not None
    assert bool(pattern.search(text)) is blocked


async def test_categories_limit_what_blocks(mod: Sim) -> None:
    endpoint = {"api_base": f"{mod.url}/v1", "api_key": MOD_KEY, "categories": ["sexual"]}
    settings = ModerationSettings.model_validate({"deployment": endpoint})
    moderator = Moderator(settings, OutboundPolicy.from_entries(["127.0.0.1/32"]))
    try:
        violent = await moderator.judge(VideoRequest("create", "a bloodbath"))
        assert (violent.outcome, violent.error) == ("passed", None)  # flagged, not blocking
        marked = await moderator.judge(VideoRequest("create", "a scene [mod:flag=sexual]"))
        assert marked.outcome == "blocked: sexual"
    finally:
        await moderator.aclose()
