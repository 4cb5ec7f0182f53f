"""The vidu provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.vidu.simulator import SimulatorConfig, create_app

KEY = "vda_" + "c0" * 24


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05)
    with serve(create_app(config)) as url:
        yield {"api_base": f"{url}/ent/v2", "api_key": KEY}


CASE = ProviderCase(
    provider="vidu",
    model="viduq2",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "2"},
    size=(1280, 720),
    seconds=2,
    invalid=({"seconds": "12"}, "seconds"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}),
    deployment={"poll_interval_s": 0.1},
)
