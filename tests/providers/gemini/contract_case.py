"""The gemini provider (Veo on the Gemini Developer API, against its simulator) in the
contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.gemini.simulator import SimulatorConfig, create_app

KEY = "AIza-sim-gemini-contract"


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8)
    with simulator(
        create_app(config), lambda url: {"api_base": f"{url}/v1beta", "api_key": KEY}, KEY
    ) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "AIza-not-the-upstream-key"}


CASE = ProviderCase(
    provider="gemini",
    model="veo-3.1-fast-generate-preview",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "4"},
    size=(1280, 720),
    seconds=4,
    invalid=({"seconds": "5"}, "seconds"),
    follow_ups=frozenset({"extend"}),
    cancels=False,
    failure=Failure("content_filtered", "Support codes"),
    bad_auth=bad_auth,
    auth_hides=("API key not valid",),
    deployment={"poll_interval_s": 0.1},
)
