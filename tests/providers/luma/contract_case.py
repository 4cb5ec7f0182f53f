"""The luma provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.luma.simulator import SimulatorConfig, create_app

KEY = "luma-contract-key"


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8)
    with simulator(
        create_app(config), lambda url: {"api_base": f"{url}/dream-machine/v1", "api_key": KEY}, KEY
    ) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "luma-wrong-key-0123456789"}


CASE = ProviderCase(
    provider="luma",
    model="ray-flash-2",
    upstream=upstream,
    request={"size": "960x540", "seconds": "5"},
    size=(960, 540),
    seconds=5,
    invalid=({"seconds": "4"}, "seconds"),
    follow_ups=frozenset({"extend"}),
    cancels=True,
    failure=Failure("content_policy_violation", "advanced moderation"),
    bad_auth=bad_auth,
    deployment={"poll_interval_s": 0.1},
)
