"""The minimax provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.minimax.simulator import SimulatorConfig, create_app

KEY = "sk-api-" + "c0" * 32


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8)
    with simulator(create_app(config), lambda url: {"api_base": url, "api_key": KEY}, KEY) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "sk-api-" + "00" * 32}


CASE = ProviderCase(
    provider="minimax",
    model="MiniMax-Hailuo-2.3",
    upstream=upstream,
    request={"size": "1366x768", "seconds": "6"},
    size=(1366, 768),
    seconds=6,
    invalid=({"seconds": "8"}, "seconds"),
    follow_ups=frozenset(),
    cancels=False,  # v1 has no cancel or delete (MiniMax-H3, v2, has: test_gateway_minimax.py)
    failure=Failure("moderation_blocked", "sensitive"),
    bad_auth=bad_auth,
    retry_after="10",
    deployment={"poll_interval_s": 0.1},
)
