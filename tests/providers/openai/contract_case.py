"""The openai provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import ProviderCase
from tests.support import serve
from vidgate.providers.openai.simulator import SimulatorConfig, create_app


@contextmanager
def upstream() -> Iterator[dict[str, Any]]:
    config = SimulatorConfig(
        api_key="sk-contract", job_seconds=0.5, queued_seconds=0.05, poll_after_ms=50
    )
    with serve(create_app(config)) as url:
        yield {"api_base": f"{url}/v1", "api_key": "sk-contract"}


CASE = ProviderCase(
    provider="openai",
    model="sora-2",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "4"},
    size=(1280, 720),
    seconds=4,
    invalid=({"size": "1920x1080"}, "size"),
    faults=frozenset({"fail", "429", "500", "unknown-status", "poll-429"}),
)
