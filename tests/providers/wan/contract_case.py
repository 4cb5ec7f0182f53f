"""The wan provider (DashScope, against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.wan.simulator import SimulatorConfig, create_app

KEY = "sk-" + "c0" * 16


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05)
    with serve(create_app(config)) as url:
        yield {"api_base": f"{url}/api/v1", "api_key": KEY}


CASE = ProviderCase(
    provider="wan",
    model="wan2.5-t2v-preview",
    upstream=upstream,
    request={"size": "832x480", "seconds": "5"},
    size=(832, 480),
    seconds=5,
    invalid=({"seconds": "7"}, "seconds"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}),
    deployment={"poll_interval_s": 0.1},
)
