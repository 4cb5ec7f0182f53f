"""The seedance provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.seedance.simulator import SimulatorConfig, create_app

KEY = "ark-" + "c0ffee" * 6


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05)
    with serve(create_app(config)) as url:
        yield {"api_base": f"{url}/api/v3", "api_key": KEY}


CASE = ProviderCase(
    provider="seedance",
    model="doubao-seedance-1-0-lite-t2v-250428",
    upstream=upstream,
    request={"size": "864x480", "seconds": "3"},
    size=(864, 480),
    seconds=3,
    invalid=({"seconds": "2"}, "seconds"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}),
    deployment={"poll_interval_s": 0.1},
)
