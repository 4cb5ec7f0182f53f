"""Concurrency slots in Redis live as long as their job, whatever deadline a reload gave it,
and no longer: a slot whose job is not live in the database (a crashed replica's, a lost
release) is freed by the replicas' sweep. A real Redis on loopback, a gateway with the
Kling simulator holding its tasks running, driven with the official openai SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import redis as redis_sync

from tests.scaleout.services import Redis, redis_server
from tests.support import running_gateway, serve, wait_for, write_config
from vidgate.cluster import redis as cluster_redis
from vidgate.cluster.redis import RedisLink
from vidgate.providers.kling import simulator as kling_sim

pytestmark = pytest.mark.scaleout

AK, SK = "ak-slots-0001", "sk-slots-0002"
TWO_HOURS = 7200.0
"""Older than the 1 h the slot TTL used to be held to, younger than any deadline here."""


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def kling_url() -> Iterator[str]:
    """Kling whose tasks run for an hour: a job holds its slot for the whole test."""
    config = kling_sim.SimulatorConfig(api_key=f"{AK}:{SK}", job_seconds=3600, queued_seconds=0.05)
    with serve(kling_sim.create_app(config)) as url:
        yield url


def kling(name: str, url: str, **fields: Any) -> dict[str, Any]:
    return {
        "model_name": name,
        "provider": "kling",
        "model": "kling-v2-master",
        "api_base": url,
        "api_key": AK,
        "options": {"secret_key": SK},
        "id": name,
        "max_concurrent_jobs": 1,
        "poll_interval_s": 0.5,
        **fields,
    }


def create(client: openai.OpenAI, model: str) -> str:
    video = client.videos.create(model=model, prompt="a slot", size="1280x720", seconds="5")  # type: ignore[arg-type]
    return video.id


def slots(store: redis_sync.Redis, deployment: str) -> dict[str, float]:
    key = f"vidgate:deployment:{deployment}:running"
    return {str(m): float(s) for m, s in store.zrange(key, 0, -1, withscores=True)}


def test_a_reloaded_long_deadline_keeps_the_slot_and_a_lost_one_is_freed(
    redis: Redis, kling_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_redis, "SWEEP_EVERY_S", 0.2)  # the sweep runs every minute
    data = tmp_path / "gw"
    config: dict[str, Any] = {
        "model_list": [kling("vidu-like", kling_url), kling("spare", kling_url)],
        "router": {"retry_backoff_s": 0, "max_retry_wait_s": 0},
        "redis_url": redis.url,
    }
    store = redis_sync.Redis.from_url(redis.url, decode_responses=True)
    store.flushdb()
    with running_gateway(data, config) as gw:
        # a reload gives the deployment an off-peak Vidu deadline (50 h)
        config["model_list"][0]["job_deadline_s"] = 180000
        write_config(data, config)
        with gw.http() as http:
            assert http.post("/config/reload").status_code == 200
        client = gw.sdk()
        first = create(client, "vidu-like")
        with gw.http() as http:
            record = http.get(f"/jobs/{first}").json()
        assert record["deadline_at"] == pytest.approx(record["created_at"] + 180000, abs=60)
        # two hours on, the job still runs upstream within its deadline: its slot counts
        key = "vidgate:deployment:vidu-like:running"
        assert store.zadd(key, {first: time.time() - TWO_HOURS}, xx=True, ch=True) == 1
        with pytest.raises(openai.RateLimitError) as refused:
            create(client, "vidu-like")
        assert refused.value.code == "deployments_busy"
        assert first in slots(store, "vidu-like")

        # a slot nobody will release (its replica died before writing the job row)
        store.zadd("vidgate:deployment:spare:running", {"vid_lost": time.time() - TWO_HOURS})
        wait_for(lambda: "vid_lost" not in slots(store, "spare"))
        assert create(client, "spare")  # the sweep freed it
        assert first in slots(store, "vidu-like")  # a live job's slot is never swept

        with gw.http() as http:  # its end frees it at once
            assert http.delete(f"/v1/videos/{first}").status_code == 200
        wait_for(lambda: first not in slots(store, "vidu-like"))
        assert create(client, "vidu-like")


async def test_the_sweep_spares_live_and_young_slots(redis: Redis) -> None:
    link = RedisLink(redis.url)
    await link.start()
    await link.redis.flushdb()
    counters = link.counters_for("key", 3600)
    for job_id in ("live", "ended", "young"):
        assert await counters.take("k", job_id, None, 5) == 0
    old = time.time() - 1000
    await link.redis.zadd("vidgate:key:k:running", {"live": old, "ended": old}, xx=True)

    async def live() -> set[str]:
        return {"live"}

    assert await link.sweep_once(live, grace_s=600) == 1
    members = await link.redis.zrange("vidgate:key:k:running", 0, -1)
    assert sorted(members) == ["live", "young"]  # young: its row may not be written yet
    assert await link.sweep_once(live, grace_s=0) == 1
    assert await link.redis.zrange("vidgate:key:k:running", 0, -1) == ["live"]
    await link.aclose()
