"""The vertex_ai provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.vertex_ai.simulator import SimulatorConfig, create_app


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(api_key=None, job_seconds=0.4, queued_seconds=0.05)
    with serve(create_app(config)) as url:
        account = httpx.get(f"{url}/__sim__/service_account").json()
        yield {"api_base": f"{url}/v1", "options": {"credentials": account, "gcs_base": url}}


CASE = ProviderCase(
    provider="vertex_ai",
    model="veo-3.1-fast-generate-001",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "4"},
    size=(1280, 720),
    seconds=4,
    invalid=({"seconds": "5"}, "seconds"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}),
    deployment={"poll_interval_s": 0.1},
)
