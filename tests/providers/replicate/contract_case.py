"""The replicate provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.replicate.simulator import SimulatorConfig, create_app

KEY = "r8_" + "c0" * 20


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8)
    with simulator(
        create_app(config), lambda url: {"api_base": f"{url}/v1", "api_key": KEY}, KEY
    ) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "r8_" + "00" * 20}


CASE = ProviderCase(
    provider="replicate",
    model="bytedance/seedance-2.0",
    upstream=upstream,
    request={"size": "854x480", "seconds": "4"},
    size=(854, 480),
    seconds=4,
    invalid=({"seconds": "20"}, "seconds"),
    follow_ups=frozenset(),
    cancels=True,
    failure=Failure("moderation_blocked", "E005"),
    bad_auth=bad_auth,
    deployment={"poll_interval_s": 0.1},
)
