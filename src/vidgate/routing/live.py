"""The deployments in force, swapped whole when the config is reloaded.

New jobs are routed over ``table`` only. Running jobs follow the deployment that created them
through ``deployment``/``client``, which also know deployments removed by a reload: those are
*retired* — no new jobs, but the jobs already on them are polled to the end with the
credentials they were created with. A deployment whose entry did not change keeps its client
(and its connections and process pool); a changed one gets a new client under the same id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from vidgate.providers.base import UpstreamClient
from vidgate.routing.config import Deployment, DeploymentTable

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


class LiveDeployments:
    """The routing table plus a client for every deployment a job may still need."""

    def __init__(self, table: DeploymentTable, make_client: ClientFactory) -> None:
        self.table = table
        self._make_client = make_client
        self._known: dict[str, Deployment] = dict(table.by_id)
        self._clients: dict[str, UpstreamClient] = {
            dep_id: make_client(dep) for dep_id, dep in table.by_id.items()
        }
        self._replaced: list[UpstreamClient] = []

    def deployment(self, deployment_id: str) -> Deployment | None:
        """The deployment by id, current or retired."""
        return self._known.get(deployment_id)

    def client(self, deployment_id: str) -> UpstreamClient | None:
        return self._clients.get(deployment_id)

    def current(self, deployment_id: str) -> Deployment | None:
        """The deployment by id if the config in force still has it."""
        return self.table.by_id.get(deployment_id)

    def replace(self, table: DeploymentTable) -> ReloadSummary:
        """Put ``table`` in force; clients of unchanged deployments are kept."""
        old = self.table.by_id
        added = tuple(i for i in table.by_id if i not in old)
        changed = tuple(i for i, d in table.by_id.items() if i in old and old[i] != d)
        removed = tuple(i for i in old if i not in table.by_id)
        for dep_id in added + changed:
            previous = self._clients.get(dep_id)
            if previous is not None:
                self._replaced.append(previous)
            self._clients[dep_id] = self._make_client(table.by_id[dep_id])
            self._known[dep_id] = table.by_id[dep_id]
        self.table = table
        return ReloadSummary(added, changed, removed)

    def all_clients(self) -> Iterator[UpstreamClient]:
        """Every client ever made (to close them at shutdown)."""
        yield from self._clients.values()
        yield from self._replaced
