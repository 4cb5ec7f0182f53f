"""Real ``Deployment`` values and deployment tables, for tests that drive the router and the
placement of jobs directly (no gateway, no upstream: nothing here makes a client)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vidgate.routing.config import DeploymentTable
from vidgate.routing.live import LiveDeployments
from vidgate.values import Deployment, ModelCapabilities, Pricing

SIZE = "1280x720"


def deployment(
    deployment_id: str,
    group: str,
    *,
    seconds: tuple[int, ...] = (4, 8),
    operations: Iterable[str] = ("create",),
    usd_per_second: float | None = None,
    **fields: Any,
) -> Deployment:
    """A deployment of ``group`` whose model makes ``seconds`` long videos at 1280x720."""
    caps = ModelCapabilities(
        seconds=seconds,
        default_seconds=seconds[0],
        sizes=(SIZE,),
        default_size=SIZE,
        operations=frozenset(operations),
    )
    pricing = None if usd_per_second is None else Pricing({"*": usd_per_second})
    return Deployment(
        id=deployment_id,
        model_name=group,
        provider="openai",
        model=f"{group}-upstream",
        capabilities=caps,
        pricing=pricing,
        **fields,
    )


def table(*deployments: Deployment) -> DeploymentTable:
    """The table of ``deployments``; the first one's group is the default model."""
    groups: dict[str, tuple[Deployment, ...]] = {}
    for each in deployments:
        groups[each.model_name] = (*groups.get(each.model_name, ()), each)
    by_id = {each.id: each for each in deployments}
    return DeploymentTable(by_id=by_id, groups=groups, default_model=deployments[0].model_name)


def live(*deployments: Deployment) -> LiveDeployments:
    """The table in force; its clients are never used by these tests, so there are none."""
    return LiveDeployments(table(*deployments), _no_client)


def _no_client(_deployment: Deployment) -> Any:
    return None
