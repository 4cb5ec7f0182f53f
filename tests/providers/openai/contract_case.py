"""The openai provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import FOLLOW_UPS, Failure, ProviderCase, Upstream, simulator
from vidgate.providers.openai.simulator import SimulatorConfig, create_app

KEY = "sk-contract"


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(
        api_key=KEY, job_seconds=0.5, queued_seconds=0.05, poll_after_ms=50, fps=8
    )
    with simulator(
        create_app(config), lambda url: {"api_base": f"{url}/v1", "api_key": KEY}, KEY
    ) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "sk-not-the-upstream-key-0123456789"}


CASE = ProviderCase(
    provider="openai",
    model="sora-2",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "4"},
    size=(1280, 720),
    seconds=4,
    invalid=({"size": "1920x1080"}, "size"),
    follow_ups=frozenset(FOLLOW_UPS),
    cancels=True,
    faults=frozenset({"fail", "429", "500", "unknown-status", "poll-429"}),
    failure=Failure("moderation_blocked", "Blocked by the moderation system."),
    bad_auth=bad_auth,
)
