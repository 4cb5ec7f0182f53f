"""One suite, every provider: the gateway drives each provider's simulator the same way.

create → poll → content (video, thumbnail, spritesheet) → list → delete, capability
errors, and the ``[sim:...]`` faults each simulator implements, with the official openai
SDK as the client.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image

from tests.contract.case import ProviderCase
from tests.support import Gateway, running_gateway

PROVIDERS_DIR = Path(__file__).parent.parent / "providers"
HANG_TIMEOUT_S = 3.0
CASES = [
    importlib.import_module(f"tests.providers.{path.parent.name}.contract_case").CASE
    for path in sorted(PROVIDERS_DIR.glob("*/contract_case.py"))
]


@pytest.fixture(scope="module", params=CASES, ids=[c.provider for c in CASES])
def case(request: pytest.FixtureRequest) -> ProviderCase:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def gateway(case: ProviderCase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with case.upstream() as fields:
        entry = {
            "model_name": "contract",
            "provider": case.provider,
            "model": case.model,
            "timeout_s": HANG_TIMEOUT_S,
            **fields,
            **case.deployment,
        }
        config = {
            "model_list": [entry],
            "settings": {"stale_after_s": 1.0},
            # one deployment, faults per request: no retries, no cooldown between cases
            "router": {"num_retries": 0, "cooldown": {"enabled": False}},
        }
        with running_gateway(tmp_path_factory.mktemp(case.provider), config) as gw:
            yield gw


def create(gw: Gateway, case: ProviderCase, prompt: str, **extra: Any) -> httpx.Response:
    body = {"model": "contract", "prompt": prompt, **case.request, **extra}
    with gw.http() as http:
        return http.post("/v1/videos", json=body)


def wait(gw: Gateway, video_id: str) -> Any:
    return gw.sdk().videos.poll(video_id, poll_interval_ms=50)


def test_create_poll_content_list_delete(gateway: Gateway, case: ProviderCase) -> None:
    response = create(gateway, case, "a lighthouse at dusk")
    assert response.status_code == 200, response.text
    video = wait(gateway, response.json()["id"])
    assert video.status == "completed", video.error
    assert video.model == "contract" and video.progress == 100
    client = gateway.sdk()
    with av.open(io.BytesIO(client.videos.download_content(video.id).content)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
        frames = sum(1 for _ in container.decode(stream))
        duration = frames / float(stream.average_rate or 24)
    assert size == case.size
    assert abs(duration - case.seconds) <= 1.0
    for variant in ("thumbnail", "spritesheet"):
        image = client.videos.download_content(video.id, variant=variant).content
        assert Image.open(io.BytesIO(image)).format in ("WEBP", "JPEG", "PNG")
    assert video.id in [v.id for v in client.videos.list(limit=100)]
    client.videos.delete(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)


def test_capability_error_names_the_parameter(gateway: Gateway, case: ProviderCase) -> None:
    body, param = case.invalid
    response = create(gateway, case, "out of range", **body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_upstream_failure_is_a_failed_job(gateway: Gateway, case: ProviderCase) -> None:
    if "fail" not in case.faults:
        pytest.skip(f"{case.provider} has no failure switch")
    video = wait(gateway, create(gateway, case, "[sim:fail] blocked").json()["id"])
    assert video.status == "failed" and video.error is not None
    assert video.error.code and video.error.message


def test_upstream_429_at_create(gateway: Gateway, case: ProviderCase) -> None:
    if "429" not in case.faults:
        pytest.skip(f"{case.provider} has no 429 switch")
    response = create(gateway, case, "[sim:429] busy")
    assert response.status_code == 429 and "retry-after" in response.headers
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_upstream_5xx_at_create(gateway: Gateway, case: ProviderCase) -> None:
    if "500" not in case.faults:
        pytest.skip(f"{case.provider} has no 5xx switch")
    response = create(gateway, case, "[sim:500] broken")
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "server_error"


@pytest.mark.parametrize("marker", ["unknown-status", "malformed", "poll-429"])
def test_poll_faults_do_not_fail_the_job(gateway: Gateway, case: ProviderCase, marker: str) -> None:
    if marker not in case.faults:
        pytest.skip(f"{case.provider} has no {marker} switch")
    response = create(gateway, case, f"[sim:{marker}] still fine")
    assert response.status_code == 200, response.text
    assert wait(gateway, response.json()["id"]).status == "completed"


def test_upstream_that_never_answers_is_a_504(gateway: Gateway, case: ProviderCase) -> None:
    if "hang" not in case.faults:
        pytest.skip(f"{case.provider} has no hang switch")
    response = create(gateway, case, "[sim:hang] no answer")
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "upstream_timeout"
