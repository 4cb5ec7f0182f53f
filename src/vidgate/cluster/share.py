"""Connect one replica's routing, key cache and limits to the state replicas share in Redis.

Everything here is wiring: the counters replace the in-process ones, and the breaker and
key-cache events are announced and applied (see ``cluster/redis.py`` for what is shared and
why). Without ``redis_url`` none of this runs and a single replica works as before.
"""

from __future__ import annotations

from typing import Any

from vidgate.accounting.keys import KeyStore
from vidgate.cluster.redis import RedisLink
from vidgate.jobs.service import JobService
from vidgate.routing.router import Router


async def share_through_redis(
    url: str, router: Router, service: JobService, keys: KeyStore, max_job_s: float
) -> RedisLink:
    link = RedisLink(url)
    router.limits = link.counters_for("deployment", max_job_s)
    service.key_limits = link.counters_for("key", max_job_s)

    def breaker_changed(deployment_id: str, open_until: float) -> None:
        link.publish("breaker", deployment=deployment_id, open_until=open_until)

    def apply_breaker(event: dict[str, Any]) -> None:
        router.health.apply(str(event["deployment"]), float(event["open_until"]))

    router.health.on_change = breaker_changed
    link.handlers["breaker"] = apply_breaker
    keys.on_change.append(lambda key_hash: link.publish("key", key_hash=key_hash))
    link.handlers["key"] = lambda event: keys.forget(str(event["key_hash"]))
    await link.start()
    return link
