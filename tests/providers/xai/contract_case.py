"""The xai provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.contract.case import Failure, ProviderCase, Upstream, simulator
from vidgate.providers.xai.simulator import SimulatorConfig, create_app

KEY = "xai-contract-key"
BAD_KEY = "xai-not-the-key-98765"


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=KEY, job_seconds=0.5, queued_seconds=0.05, fps=8)
    with simulator(
        create_app(config), lambda url: {"api_base": f"{url}/v1", "api_key": KEY}, KEY
    ) as up:
        yield up


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    return fields | {"api_key": BAD_KEY}


CASE = ProviderCase(
    provider="xai",
    model="grok-imagine-video",
    upstream=upstream,
    request={"size": "854x480", "seconds": "2"},
    size=(854, 480),
    seconds=2,
    invalid=({"seconds": "20"}, "seconds"),
    follow_ups=frozenset(),
    cancels=False,
    failure=Failure("content_moderated", "content moderation"),
    bad_auth=bad_auth,
    auth_hides=("console.x.ai", BAD_KEY[:2] + "***"),
    deployment={"poll_interval_s": 0.1},
)
