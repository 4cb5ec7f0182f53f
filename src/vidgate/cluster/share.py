"""Connect one replica's routing, key cache and limits to the state replicas share in Redis.

Everything here is wiring: the counters replace the in-process ones, and the breaker and
key-cache events are announced and applied (see ``cluster/redis.py`` for what is shared and
why). Without ``redis_url`` none of this runs and a single replica works as before; the
``redis`` package (the ``scaleout`` extra) is imported only then, so a plain install serves.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from vidgate.accounting.keys import KeyStore
from vidgate.jobs.service import JobService
from vidgate.jobs.store import JobStore
from vidgate.routing.health import HealthBoard
from vidgate.routing.router import Router

if TYPE_CHECKING:
    from vidgate.cluster.redis import RedisLink


async def share_through_redis(
    url: str, router: Router, service: JobService, keys: KeyStore, max_job_s: float
) -> RedisLink:
    from vidgate.cluster.redis import RedisLink  # the scaleout extra: only when configured

    link = RedisLink(url)
    router.limits = link.counters_for("deployment", max_job_s)
    service.key_limits = link.counters_for("key", max_job_s)

    share_breakers(link, router.health)
    keys.on_change.append(lambda key_hash: link.publish("key", key_hash=key_hash))
    link.handlers["key"] = lambda event: keys.forget(str(event["key_hash"]))
    await link.start()
    link.sweep_every(functools.partial(live_job_ids, service.store))
    return link


async def live_job_ids(store: JobStore) -> set[str]:
    """The ids of the jobs that have not ended: the only ones whose slots may be held."""
    return {job.job_id for job in await store.live_jobs()}


def share_breakers(link: RedisLink, health: HealthBoard) -> None:
    """Announce the breakers this replica opens and closes, and the ``Retry-After``s it is
    told; apply those of the others."""

    def changed(deployment_id: str, until: float, retry_after: bool) -> None:
        link.publish("breaker", deployment=deployment_id, open_until=until, retry_after=retry_after)

    def apply(event: dict[str, Any]) -> None:
        retry_after = bool(event.get("retry_after", False))  # absent from older replicas
        health.apply(str(event["deployment"]), float(event["open_until"]), retry_after)

    health.on_change = changed
    link.handlers["breaker"] = apply
