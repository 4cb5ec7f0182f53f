"""The luma provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.luma.simulator import SimulatorConfig, create_app


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(api_key="luma-contract", job_seconds=0.5, queued_seconds=0.05)
    with serve(create_app(config)) as url:
        yield {"api_base": f"{url}/dream-machine/v1", "api_key": "luma-contract"}


CASE = ProviderCase(
    provider="luma",
    model="ray-flash-2",
    upstream=upstream,
    request={"size": "960x540", "seconds": "5"},
    size=(960, 540),
    seconds=5,
    invalid=({"seconds": "4"}, "seconds"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}),
    deployment={"poll_interval_s": 0.1},
)
