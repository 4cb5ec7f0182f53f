"""An archive that fails for a reason of the moment, over HTTP on loopback: the job is tried
again with the poller's backoff (not left leased until its lease lapses), each failure is
logged once with the job id, the job is never failed for it, and it completes once the
cause is gone.

The gateway runs in this process; a test makes a directory the archive needs unusable (a
file where it should be), as a full or broken disk would.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Gateway, post_video, running_gateway, wait_for

CONFIG = {
    "model_list": [
        {
            "model_name": "local/preview",
            "provider": "local",
            "model": "preview",
            "poll_interval_s": 0.05,
        }
    ],
    "settings": {"local_workers": 1, "poll_lease_s": 600},
}
"""A lease far longer than the test: a failed archive must not wait for it to lapse."""


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path / "gw", CONFIG) as gw:
        yield gw


def _row(gateway: Gateway, video_id: str) -> dict[str, Any]:
    with sqlite3.connect(gateway.data_dir / "vidgate.db") as db:
        db.row_factory = sqlite3.Row
        row = db.execute(
            "SELECT status, phase, poll_failures, lease_owner, next_poll_at FROM jobs WHERE id = ?",
            (video_id,),
        ).fetchone()
    return dict(row)


def _unusable(path: Path) -> None:
    """A file where the directory ``path`` should be."""
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a directory")


@pytest.mark.parametrize("room", ["tmp", "blobs/videos"], ids=["work room", "blob store"])
def test_an_archive_failing_for_now_is_retried_with_backoff_and_completes(
    gateway: Gateway, room: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vidgate.poller")
    path = gateway.data_dir / room
    _unusable(path)
    try:
        with gateway.http() as http:
            created = post_video(http, prompt="archived later", seconds="1", size="320x180")
            assert created.status_code == 200, created.text
            video_id = created.json()["id"]
            row = wait_for(lambda: (r := _row(gateway, video_id))["poll_failures"] >= 2 and r)
            assert row["phase"] == "archiving" and row["status"] == "in_progress", row
            assert row["lease_owner"] is None  # released for its next try, not held
            seen = http.get(f"/v1/videos/{video_id}")
            assert seen.status_code == 200 and seen.json()["status"] == "in_progress"
    finally:
        path.unlink()
        path.mkdir()
    with gateway.http() as http:

        def completed() -> dict[str, Any] | None:
            video = http.get(f"/v1/videos/{video_id}").json()
            assert video["status"] != "failed", video
            return video if video["status"] == "completed" else None

        wait_for(completed, timeout=60)  # the backoff's next try, far sooner than the lease
        content = http.get(f"/v1/videos/{video_id}/content")
        assert content.status_code == 200 and content.content[4:8] == b"ftyp"
    failures = _row(gateway, video_id)["poll_failures"]
    logged = [
        r for r in caplog.records if r.name == "vidgate.poller" and video_id in r.getMessage()
    ]
    assert len(logged) == failures  # each failure once, with the job id
    assert all(r.exc_info is not None for r in logged[:1])  # the first with its traceback
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
