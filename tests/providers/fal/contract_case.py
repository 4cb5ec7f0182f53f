"""The fal provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.fal.simulator import SimulatorConfig, create_app

KEY = "c0ffee00-0000-4000-8000-000000000000:" + "c0" * 16


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8)
    with simulator(create_app(config), lambda url: {"api_base": url, "api_key": KEY}, KEY) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "fa1fa1fa-0000-4000-8000-000000000000:" + "00" * 16}


CASE = ProviderCase(
    provider="fal",
    model="fal-ai/luma-dream-machine/ray-2-flash",
    upstream=upstream,
    request={"size": "960x540", "seconds": "5"},
    size=(960, 540),
    seconds=5,
    invalid=({"seconds": "7"}, "seconds"),
    follow_ups=frozenset(),
    cancels=True,
    failure=Failure("moderation_blocked", "content checker"),
    bad_auth=bad_auth,
    deployment={"poll_interval_s": 0.1},
)
