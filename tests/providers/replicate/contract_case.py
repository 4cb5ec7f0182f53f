"""The replicate provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.replicate.simulator import SimulatorConfig, create_app

KEY = "r8_" + "c0" * 20


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05)
    with serve(create_app(config)) as url:
        yield {"api_base": f"{url}/v1", "api_key": KEY}


CASE = ProviderCase(
    provider="replicate",
    model="bytedance/seedance-2.0",
    upstream=upstream,
    request={"size": "854x480", "seconds": "4"},
    size=(854, 480),
    seconds=4,
    invalid=({"seconds": "20"}, "seconds"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}),
    deployment={"poll_interval_s": 0.1},
)
