"""The runway provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.runway.simulator import SimulatorConfig, create_app

KEY = "key_" + "c0" * 64


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8)
    with simulator(create_app(config), lambda url: {"api_base": url, "api_key": KEY}, KEY) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "key_" + "00" * 64}


CASE = ProviderCase(
    provider="runway",
    model="gen4.5",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "2"},
    size=(1280, 720),
    seconds=2,
    invalid=({"seconds": "12"}, "seconds"),
    follow_ups=frozenset(),
    cancels=True,
    failure=Failure("moderation_blocked", "SAFETY.INPUT.TEXT"),
    bad_auth=bad_auth,
    deployment={"poll_interval_s": 0.1},
)
