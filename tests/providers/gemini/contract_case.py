"""The gemini provider (Veo on the Gemini Developer API, against its simulator) in the
contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.gemini.simulator import SimulatorConfig, create_app

KEY = "sim-gemini-contract"


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05)
    with serve(create_app(config)) as url:
        yield {"api_base": f"{url}/v1beta", "api_key": KEY}


CASE = ProviderCase(
    provider="gemini",
    model="veo-3.1-fast-generate-preview",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "4"},
    size=(1280, 720),
    seconds=4,
    invalid=({"seconds": "5"}, "seconds"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}),
    deployment={"poll_interval_s": 0.1},
)
