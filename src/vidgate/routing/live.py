"""The deployments in force, swapped whole when the config is reloaded.

New jobs are routed over ``table`` only. Jobs follow the deployment — and the credentials —
that created them through ``deployment``/``client``, which also know what a reload removed
or changed: a removed deployment is *retired* (no new jobs, but the jobs already on it are
polled to the end), and a changed one keeps its previous version for the jobs created
before the change (a job created in another account or project cannot be followed with new
credentials). A deployment whose entry did not change keeps its client (and its
connections and process pool).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from vidgate.providers.base import UpstreamClient
from vidgate.routing.config import DeploymentTable
from vidgate.values import Deployment

ClientFactory = Callable[[Deployment], UpstreamClient]


@dataclass(frozen=True)
class ReloadSummary:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
        }


@dataclass(frozen=True)
class _Version:
    since: float
    deployment: Deployment
    client: UpstreamClient


class LiveDeployments:
    """The routing table plus every version of every deployment a job may still need."""

    def __init__(self, table: DeploymentTable, make_client: ClientFactory) -> None:
        self.table = table
        self._make_client = make_client
        self._versions: dict[str, list[_Version]] = {
            dep_id: [_Version(0.0, dep, make_client(dep))] for dep_id, dep in table.by_id.items()
        }

    def _version(self, deployment_id: str, created_at: float | None) -> _Version | None:
        versions = self._versions.get(deployment_id)
        if not versions:
            return None
        if created_at is not None:
            for version in reversed(versions):
                if version.since <= created_at:
                    return version
        return versions[-1]

    def deployment(self, deployment_id: str, created_at: float | None = None) -> Deployment | None:
        """The deployment by id, current or retired — as it was for a job created at
        ``created_at`` (default: its latest version)."""
        version = self._version(deployment_id, created_at)
        return None if version is None else version.deployment

    def client(self, deployment_id: str, created_at: float | None = None) -> UpstreamClient | None:
        """The client of that deployment version (its credentials and endpoint)."""
        version = self._version(deployment_id, created_at)
        return None if version is None else version.client

    def current(self, deployment_id: str) -> Deployment | None:
        """The deployment by id if the config in force still has it."""
        return self.table.by_id.get(deployment_id)

    def replace(self, table: DeploymentTable) -> ReloadSummary:
        """Put ``table`` in force; unchanged deployments keep their client."""
        old = self.table.by_id
        added = tuple(i for i in table.by_id if i not in old)
        changed = tuple(i for i, d in table.by_id.items() if i in old and old[i] != d)
        removed = tuple(i for i in old if i not in table.by_id)
        now = time.time()
        for dep_id in added + changed:
            deployment = table.by_id[dep_id]
            version = _Version(now, deployment, self._make_client(deployment))
            self._versions.setdefault(dep_id, []).append(version)
        self.table = table
        return ReloadSummary(added, changed, removed)

    def all_clients(self) -> Iterator[UpstreamClient]:
        """Every client ever made (to close them at shutdown)."""
        for versions in self._versions.values():
            for version in versions:
                yield version.client
