"""The vertex_ai provider (against its simulator) in the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.contract.case import TIMING, Failure, ProviderCase, Upstream
from tests.support import quick, serve
from vidgate.providers.vertex_ai.simulator import SimulatorConfig, create_app


@contextmanager
def upstream() -> Iterator[Upstream]:
    """The deployment signs in with the service account the simulator trusts."""
    with serve(create_app(quick(SimulatorConfig(api_key=None), **TIMING))) as url:
        account = httpx.get(f"{url}/__sim__/service_account").json()
        fields = {"api_base": f"{url}/v1", "options": {"credentials": account, "gcs_base": url}}
        yield Upstream(fields, url, (account["private_key"], account["private_key_id"]))


def other_project(fields: dict[str, Any]) -> dict[str, Any]:
    """A project the service account may not use."""
    return fields | {"options": fields["options"] | {"project": "someone-elses-project"}}


CASE = ProviderCase(
    provider="vertex_ai",
    model="veo-3.1-fast-generate-001",
    upstream=upstream,
    request={"size": "1280x720", "seconds": "4"},
    invalid=({"seconds": "5"}, "seconds"),
    cancels=False,
    follow_ups=frozenset({"extend"}),
    failure=Failure("content_filtered", "usage guidelines"),
    bad_auth=other_project,
)
