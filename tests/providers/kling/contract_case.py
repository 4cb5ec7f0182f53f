"""The kling provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.kling.simulator import SimulatorConfig, create_app

ACCESS_KEY = "ak-contract-0123456789"
SECRET_KEY = "sk-contract-9876543210"


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(
        api_key=f"{ACCESS_KEY}:{SECRET_KEY}", job_seconds=0.5, queued_seconds=0.05, fps=8
    )

    def fields(url: str) -> dict[str, Any]:
        return {"api_base": url, "api_key": ACCESS_KEY, "options": {"secret_key": SECRET_KEY}}

    with simulator(create_app(config), fields, ACCESS_KEY, SECRET_KEY) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    """The right access key, signed with the wrong secret."""
    return fields | {"options": {"secret_key": "sk-not-the-secret-000"}}


CASE = ProviderCase(
    provider="kling",
    model="kling-v2-1",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "5"},
    size=(1280, 720),
    seconds=5,
    invalid=({"seconds": "8"}, "seconds"),
    follow_ups=frozenset(),
    cancels=False,
    failure=Failure("moderation_blocked", "risk control", omits=("SUCCEED",)),
    bad_auth=bad_auth,
    deployment={"poll_interval_s": 0.1},
)
