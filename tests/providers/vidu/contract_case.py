"""The vidu provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.vidu.simulator import SimulatorConfig, create_app

KEY = "vda_" + "c0" * 24


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8)
    with simulator(
        create_app(config), lambda url: {"api_base": f"{url}/ent/v2", "api_key": KEY}, KEY
    ) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "vda_" + "00" * 24}


CASE = ProviderCase(
    provider="vidu",
    model="viduq2",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "2"},
    size=(1280, 720),
    seconds=2,
    invalid=({"seconds": "12"}, "seconds"),
    follow_ups=frozenset(),
    cancels=True,
    failure=Failure("moderation_blocked", "CreationPolicyViolation"),
    bad_auth=bad_auth,
    deployment={"poll_interval_s": 0.1},
)
