"""One suite, every provider: the gateway drives each provider's simulator the same way.

create → poll → content (video, thumbnail, spritesheet) → list → delete, capability
errors, follow-ups the model does not offer, an upstream that refuses the deployment's
credential, and the ``[sim:...]`` faults each simulator implements, with the official openai
SDK and httpx as clients. No credential or upstream host may reach a client.
"""

from __future__ import annotations

import importlib
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image

from tests.contract.case import FOLLOW_UPS, ProviderCase, Upstream
from tests.support import Gateway, Recorder, finish, post_video, running_gateway, wait_for

PROVIDERS_DIR = Path(__file__).parent.parent / "providers"
HANG_TIMEOUT_S = 0.5
"""Only the ``contract-hang`` deployment has it: nothing but a hang is ever sent there."""
CASES = [
    importlib.import_module(f"tests.providers.{path.parent.name}.contract_case").CASE
    for path in sorted(PROVIDERS_DIR.glob("*/contract_case.py"))
]


@pytest.fixture(scope="module", params=CASES, ids=[c.provider for c in CASES])
def case(request: pytest.FixtureRequest) -> ProviderCase:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def upstream(case: ProviderCase) -> Iterator[Upstream]:
    with case.upstream() as running:
        yield running


@pytest.fixture(scope="module")
def gateway(
    case: ProviderCase, upstream: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    entry = {
        "provider": case.provider,
        "model": case.model,
        "poll_interval_s": 0.1,
        **upstream.fields,
    }
    model_list = [
        {**entry, "model_name": "contract"},
        {**entry, "model_name": "contract-hang", "timeout_s": HANG_TIMEOUT_S},
    ]
    if case.bad_auth is not None:
        model_list.append({**entry, **case.bad_auth(upstream.fields), "model_name": "badauth"})
    config = {
        "model_list": model_list,
        "settings": {"stale_after_s": 1.0},
        # faults per request: retries (the default number) at once, no cooldown between cases
        "router": {"retry_backoff_s": 0, "cooldown": {"enabled": False}},
    }
    with running_gateway(tmp_path_factory.mktemp(case.provider), config) as gw:
        yield gw


def exactly(text: str) -> re.Pattern[str]:
    """``text`` not followed by a digit (a host's port is not a prefix of another's)."""
    return re.compile(re.escape(text) + r"(?!\d)")


@pytest.fixture
def recorder(upstream: Upstream) -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    secrets: list[str | re.Pattern[str]] = list(upstream.secrets)
    if upstream.url is not None:
        secrets.append(exactly(upstream.url.removeprefix("http://")))
    assert recorder.leaks(secrets) == [], "an upstream credential or host reached a client"


@pytest.fixture
def http(gateway: Gateway, recorder: Recorder) -> Iterator[httpx.Client]:
    with recorder.http(gateway) as client:
        yield client


@pytest.fixture
def sdk(gateway: Gateway, recorder: Recorder) -> Iterator[openai.OpenAI]:
    with recorder.sdk(gateway) as client:
        yield client


def create(
    http: httpx.Client, case: ProviderCase, prompt: str, model: str = "contract", **extra: Any
) -> httpx.Response:
    return post_video(http, **{"model": model, "prompt": prompt, **case.request, **extra})


def unique(prompt: str) -> str:
    return f"{prompt} {uuid.uuid4().hex[:8]}"


def listed(http: httpx.Client, prompt: str) -> list[str]:
    """Ids of the listed videos with this prompt."""
    videos = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    return [v["id"] for v in videos if v["prompt"] == prompt]


def creates(upstream: Upstream, since: int) -> list[dict[str, Any]]:
    """The POSTs the simulator answered since log entry ``since``."""
    return [e for e in upstream.log()[since:] if e["method"] == "POST"]


@pytest.fixture(scope="module")
def finished(case: ProviderCase, gateway: Gateway) -> Any:
    """A completed video, for tests that only read it."""
    with gateway.http() as http:
        response = create(http, case, "a finished source")
    assert response.status_code == 200, response.text
    video = finish(gateway.sdk(), response.json()["id"])
    assert video.status == "completed", video.error
    return video


def test_create_poll_content_list_delete(
    http: httpx.Client, sdk: openai.OpenAI, case: ProviderCase
) -> None:
    response = create(http, case, "a lighthouse at dusk")
    assert response.status_code == 200, response.text
    video = finish(sdk, response.json()["id"])
    assert video.status == "completed", video.error
    assert video.model == "contract" and video.progress == 100
    with av.open(io.BytesIO(sdk.videos.download_content(video.id).content)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
        frames = sum(1 for _ in container.decode(stream))
        duration = frames / float(stream.average_rate or 24)
    assert size == case.size
    assert abs(duration - case.seconds) <= 1.0
    for variant in ("thumbnail", "spritesheet"):
        image = sdk.videos.download_content(video.id, variant=variant).content
        assert Image.open(io.BytesIO(image)).format in ("WEBP", "JPEG", "PNG")
    assert video.id in [v.id for v in sdk.videos.list(limit=100)]
    sdk.videos.delete(video.id)
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        sdk.videos.download_content(video.id)


def test_delete_while_running(
    http: httpx.Client, sdk: openai.OpenAI, case: ProviderCase, upstream: Upstream
) -> None:
    response = create(http, case, "[sim:slow] deleted while it runs")
    assert response.status_code == 200, response.text
    mark = len(upstream.log())
    sdk.videos.delete(response.json()["id"])
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve(response.json()["id"])

    def upstream_writes() -> list[dict[str, Any]]:
        return [e for e in upstream.log()[mark:] if e["method"] != "GET"]

    if case.cancels:
        wait_for(upstream_writes)  # the cancel (or delete) may run in the background
    else:
        assert upstream_writes() == []


def test_capability_error_names_the_parameter(
    http: httpx.Client, case: ProviderCase, upstream: Upstream
) -> None:
    body, param = case.invalid
    mark = len(upstream.log())
    response = create(http, case, "out of range", **body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert creates(upstream, mark) == []


@pytest.mark.parametrize("operation", FOLLOW_UPS)
def test_follow_ups_the_model_lacks_make_no_upstream_call(
    http: httpx.Client,
    case: ProviderCase,
    upstream: Upstream,
    operation: str,
    request: pytest.FixtureRequest,
) -> None:
    if operation in case.follow_ups:
        pytest.skip(f"{case.provider} offers {operation}")
    source = request.getfixturevalue("finished")
    mark = len(upstream.log())
    path, body = {
        "remix": (f"/v1/videos/{source.id}/remix", {"prompt": "again"}),
        "edit": ("/v1/videos/edits", {"prompt": "in snow", "video": {"id": source.id}}),
        "extend": (
            "/v1/videos/extensions",
            {"prompt": "and then", "seconds": case.request["seconds"], "video": {"id": source.id}},
        ),
    }[operation]
    response = http.post(path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unsupported_operation"
    assert creates(upstream, mark) == []


def test_upstream_failure_is_a_failed_job_and_costs_nothing(
    http: httpx.Client, sdk: openai.OpenAI, case: ProviderCase
) -> None:
    if "fail" not in case.faults or case.failure is None:
        pytest.skip(f"{case.provider} has no failure switch")
    response = create(http, case, "[sim:fail] blocked")
    assert response.status_code == 200, response.text
    video = finish(sdk, response.json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code == case.failure.code, video.error
    assert case.failure.says in video.error.message
    assert not [word for word in case.failure.omits if word in video.error.message]

    def spend_row() -> dict[str, Any] | None:
        rows = http.get("/spend/logs", params={"limit": 1000}).json()["data"]
        return next((row for row in rows if row["job_id"] == video.id), None)

    row = wait_for(spend_row)
    assert row["status"] == "failed" and row["cost_usd"] == 0


def test_upstream_429_at_create(http: httpx.Client, case: ProviderCase) -> None:
    if "429" not in case.faults:
        pytest.skip(f"{case.provider} has no 429 switch")
    prompt = unique("[sim:429] busy")
    response = create(http, case, prompt)
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    if case.retry_after is None:
        assert int(response.headers["retry-after"]) >= 1
    else:
        assert response.headers["retry-after"] == case.retry_after
    assert listed(http, prompt) == []


def test_upstream_5xx_at_create(http: httpx.Client, case: ProviderCase) -> None:
    if "500" not in case.faults:
        pytest.skip(f"{case.provider} has no 5xx switch")
    prompt = unique("[sim:500] broken")
    response = create(http, case, prompt)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["type"] == "server_error"
    assert listed(http, prompt) == []


def leaves(value: Any) -> set[str]:
    """Every string in a (nested) deployment entry."""
    if isinstance(value, dict):
        return set().union(*(leaves(v) for v in value.values()))
    return {value} if isinstance(value, str) else set()


def test_refused_credential_is_an_upstream_auth_error(
    http: httpx.Client, case: ProviderCase, upstream: Upstream
) -> None:
    if case.bad_auth is None:
        pytest.skip(f"{case.provider} takes no credential")
    refused = leaves(case.bad_auth(upstream.fields)) - leaves(upstream.fields)
    mark = len(upstream.log())
    prompt = unique("with the wrong credential")
    response = create(http, case, prompt, model="badauth")
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_auth_error"
    calls = [(e["method"], e["path"]) for e in upstream.log()[mark:]]
    assert calls, "the upstream was never asked"
    posts = [call for call in calls if call[0] == "POST"]
    assert len(posts) == len(set(posts)), "a refused credential was tried again"
    shown = response.text + repr(dict(response.headers))
    assert [word for word in (*refused, *case.auth_hides) if word in shown] == []
    assert listed(http, prompt) == []


POLL_FAULTS = ("unknown-status", "malformed", "poll-429")


def test_poll_faults_do_not_fail_the_job(
    http: httpx.Client, sdk: openai.OpenAI, case: ProviderCase
) -> None:
    """Each fault on a job of its own, all running at once (each costs the gateway a wait)."""
    markers = [marker for marker in POLL_FAULTS if marker in case.faults]
    if not markers:
        pytest.skip(f"{case.provider} has no poll fault switches")
    created = {}
    for marker in markers:
        response = create(http, case, f"[sim:{marker}] still fine")
        assert response.status_code == 200, (marker, response.text)
        created[marker] = response.json()["id"]
    statuses = {marker: finish(sdk, video_id).status for marker, video_id in created.items()}
    assert statuses == dict.fromkeys(markers, "completed")


def test_upstream_that_never_answers_is_a_504(http: httpx.Client, case: ProviderCase) -> None:
    if "hang" not in case.faults:
        pytest.skip(f"{case.provider} has no hang switch")
    prompt = unique("[sim:hang] no answer")
    response = create(http, case, prompt, model="contract-hang")
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert listed(http, prompt) == []
