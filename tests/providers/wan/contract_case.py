"""The wan provider (DashScope, against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.wan.simulator import SimulatorConfig, create_app

KEY = "sk-" + "c0" * 16


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8)
    with simulator(
        create_app(config), lambda url: {"api_base": f"{url}/api/v1", "api_key": KEY}, KEY
    ) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "sk-" + "00" * 16}


CASE = ProviderCase(
    provider="wan",
    model="wan2.5-t2v-preview",
    upstream=upstream,
    request={"size": "832x480", "seconds": "5"},
    size=(832, 480),
    seconds=5,
    invalid=({"seconds": "7"}, "seconds"),
    follow_ups=frozenset(),
    cancels=True,
    failure=Failure("moderation_blocked", "DataInspectionFailed"),
    bad_auth=bad_auth,
    retry_after=None,  # DashScope documents no Retry-After
    deployment={"poll_interval_s": 0.1},
)
