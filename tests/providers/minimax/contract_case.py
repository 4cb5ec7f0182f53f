"""The minimax provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.minimax.simulator import SimulatorConfig, create_app

KEY = "sk-api-" + "c0" * 32


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05)
    with serve(create_app(config)) as url:
        yield {"api_base": url, "api_key": KEY}


CASE = ProviderCase(
    provider="minimax",
    model="MiniMax-Hailuo-2.3",
    upstream=upstream,
    request={"size": "1366x768", "seconds": "6"},
    size=(1366, 768),
    seconds=6,
    invalid=({"seconds": "8"}, "seconds"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}),
    deployment={"poll_interval_s": 0.1},
)
