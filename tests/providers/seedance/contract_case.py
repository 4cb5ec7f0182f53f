"""The seedance provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.seedance.simulator import SimulatorConfig, create_app

KEY = "ark-" + "c0ffee" * 6


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8)
    with simulator(
        create_app(config), lambda url: {"api_base": f"{url}/api/v3", "api_key": KEY}, KEY
    ) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "ark-" + "0000" * 8}


CASE = ProviderCase(
    provider="seedance",
    model="doubao-seedance-1-0-lite-t2v-250428",
    upstream=upstream,
    request={"size": "864x480", "seconds": "3"},
    size=(864, 480),
    seconds=3,
    invalid=({"seconds": "2"}, "seconds"),
    follow_ups=frozenset(),
    cancels=True,
    failure=Failure("moderation_blocked", "OutputVideoSensitiveContentDetected"),
    bad_auth=bad_auth,
    deployment={"poll_interval_s": 0.1},
)
