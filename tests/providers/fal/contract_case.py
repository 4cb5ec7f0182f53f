"""The fal provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.fal.simulator import SimulatorConfig, create_app

KEY = "c0ffee00-0000-4000-8000-000000000000:" + "c0" * 16


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05)
    with serve(create_app(config)) as url:
        yield {"api_base": url, "api_key": KEY}


CASE = ProviderCase(
    provider="fal",
    model="fal-ai/luma-dream-machine/ray-2-flash",
    upstream=upstream,
    request={"size": "960x540", "seconds": "5"},
    size=(960, 540),
    seconds=5,
    invalid=({"seconds": "7"}, "seconds"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}),
    deployment={"poll_interval_s": 0.1},
)
