"""The kling provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.kling.simulator import SimulatorConfig, create_app

ACCESS_KEY = "ak-contract-0123456789"
SECRET_KEY = "sk-contract-9876543210"


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(
        api_key=f"{ACCESS_KEY}:{SECRET_KEY}", job_seconds=0.5, queued_seconds=0.05
    )
    with serve(create_app(config)) as url:
        yield {"api_base": url, "api_key": ACCESS_KEY, "options": {"secret_key": SECRET_KEY}}


CASE = ProviderCase(
    provider="kling",
    model="kling-v2-1",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "5"},
    size=(1280, 720),
    seconds=5,
    invalid=({"seconds": "8"}, "seconds"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}),
    deployment={"poll_interval_s": 0.1},
)
