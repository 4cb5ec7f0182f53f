"""The azure provider (v1 API, Sora 2 deployment) against its simulator in the contract suite.

The legacy jobs API (Sora 1) is covered end to end in ``test_gateway_azure.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.azure.simulator import SimulatorConfig, create_app

KEY = "azure-contract-key"


@contextmanager
def upstream() -> Iterator[Upstream]:
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8))
    with simulator(
        app, lambda url: {"api_base": url, "api_key": KEY, "options": {"api": "v1"}}, KEY
    ) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": "azure-wrong-key-0123456789"}


CASE = ProviderCase(
    provider="azure",
    model="sora-2",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "4"},
    size=(1280, 720),
    seconds=4,
    invalid=({"seconds": "16"}, "seconds"),
    follow_ups=frozenset({"remix"}),
    cancels=True,
    failure=Failure("moderation_blocked", "moderation system"),
    bad_auth=bad_auth,
    deployment={"poll_interval_s": 0.1},
)
