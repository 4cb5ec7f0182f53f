"""A poll may answer with a new upstream id; the poller keeps it for the next poll."""

from __future__ import annotations

import time
from pathlib import Path

from vidgate.db.engine import migrate, open_database
from vidgate.jobs.archive import Archiver
from vidgate.jobs.poller import Poller
from vidgate.jobs.store import JobStore
from vidgate.media.pool import MediaPool
from vidgate.providers.base import Provider, ProviderSpec
from vidgate.routing.config import DeploymentTable
from vidgate.routing.live import LiveDeployments
from vidgate.settings import GatewaySettings
from vidgate.storage.local import LocalBlobStore
from vidgate.values import Deployment, ModelCapabilities, UpstreamState

CAPS = ModelCapabilities(
    seconds=(4,), default_seconds=4, sizes=("1280x720",), default_size="1280x720"
)


class TwoStepUpstream:
    """Finished tasks need a second call: the poll says so by moving to ``<id>|fetch``."""

    def __init__(self) -> None:
        self.polled: list[str] = []

    async def poll(self, upstream_id: str) -> UpstreamState:
        self.polled.append(upstream_id)
        if upstream_id.endswith("|fetch"):
            return UpstreamState(upstream_id, "in_progress", 99, "fetching")
        return UpstreamState(f"{upstream_id}|fetch", "in_progress", 99, "COMPLETED")


async def test_poll_moves_the_upstream_id(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'v.db'}")
    await migrate(db)
    store = JobStore(db, sole_writer=True)
    deployment = Deployment("d1", "m", "fake", "x", CAPS, poll_interval_s=0.01)
    table = DeploymentTable({"d1": deployment}, {"m": (deployment,)}, "m")
    spec = ProviderSpec(name="fake", description="", models={"x": CAPS}, status_map={})
    upstream = TwoStepUpstream()
    archiver = Archiver(store, LocalBlobStore(tmp_path / "b"), tmp_path / "t", MediaPool())
    poller = Poller(
        store,
        LiveDeployments(table, lambda _dep: upstream),  # type: ignore[arg-type,return-value]
        {"fake": Provider(spec=spec)},
        archiver,
        GatewaySettings(),
    )
    now = time.time()
    await store.insert(
        {
            "id": "video_" + "0" * 32,
            "owner_key_id": "k",
            "model": "m",
            "deployment_id": "d1",
            "provider": "fake",
            "upstream_model": "x",
            "upstream_id": "t1",
            "operation": "create",
            "status": "in_progress",
            "phase": "running",
            "progress": 0,
            "prompt": "p",
            "size": "1280x720",
            "seconds": 4,
            "request": {},
            "created_at": now,
            "updated_at": now,
            "next_poll_at": now,
            "poll_failures": 0,
        }
    )
    for _ in range(2):
        (job,) = await store.claim_due("me", time.time() + 1, 60, 10)
        await poller.process(job)
    assert upstream.polled == ["t1", "t1|fetch"]
    stored = await store.get("video_" + "0" * 32)
    assert stored is not None and stored.upstream_id == "t1|fetch"
    await db.dispose()
