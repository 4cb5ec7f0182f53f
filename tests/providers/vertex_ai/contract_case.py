"""The vertex_ai provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.contract.case import Failure, ProviderCase, Upstream
from tests.support import serve
from vidgate.providers.vertex_ai.simulator import SimulatorConfig, create_app


@contextmanager
def upstream() -> Iterator[Upstream]:
    config = SimulatorConfig(api_key=None, job_seconds=0.4, queued_seconds=0.05, fps=8)
    with serve(create_app(config)) as url:
        account = httpx.get(f"{url}/__sim__/service_account").json()
        fields = {"api_base": f"{url}/v1", "options": {"credentials": account, "gcs_base": url}}
        yield Upstream(fields, url, (account["private_key"], account["private_key_id"]))


def bad_auth(fields: dict[str, Any]) -> dict[str, Any]:
    """A project the service account may not use."""
    options = fields["options"] | {"project": "someone-elses-project"}
    return fields | {"options": options}


CASE = ProviderCase(
    provider="vertex_ai",
    model="veo-3.1-fast-generate-001",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "4"},
    size=(1280, 720),
    seconds=4,
    invalid=({"seconds": "5"}, "seconds"),
    follow_ups=frozenset({"extend"}),
    cancels=False,
    failure=Failure("content_filtered", "usage guidelines"),
    bad_auth=bad_auth,
    deployment={"poll_interval_s": 0.1},
)
