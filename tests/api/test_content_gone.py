"""A download whose file is deleted between the asset's lookup and its opening (a delete of
the video racing the download) answers 404 in the envelope, never 500: by the fast path and
by the route alike."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import Gateway


@pytest.mark.parametrize("auth", ["authorization", "x-api-key"])
def test_a_file_gone_after_the_lookup_is_a_404(fresh_gateway: Gateway, auth: str) -> None:
    video = fresh_gateway.sdk().videos.create_and_poll(
        prompt="gone", seconds="1", size="320x180", poll_interval_ms=50
    )
    assert video.status == "completed"
    folders = [p for p in Path(fresh_gateway.data_dir).rglob(video.id) if p.is_dir()]
    videos = [p for folder in folders for p in folder.glob("*.mp4")]
    assert videos, folders
    for path in videos:
        path.unlink()  # the row still names it: as if a delete won the race just now
    value = (
        f"Bearer {fresh_gateway.master_key}"
        if auth == "authorization"
        else fresh_gateway.master_key
    )
    with httpx.Client(base_url=fresh_gateway.url, timeout=120) as client:
        reply = client.get(f"/v1/videos/{video.id}/content", headers={auth: value})
    assert reply.status_code == 404, reply.text
    error = reply.json()["error"]
    assert error["code"] == "not_found" and error["param"] == "video_id"
    assert video.id in error["message"]
