"""Previews made on the first request for them (``settings.previews: on_request``, the
default), over HTTP on loopback with the local renderer, which serves no previews.

The gateway runs in this process, so a test can count (and hold) the media worker calls and
the store's writes of its one gateway; the job's record is read from its SQLite file.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import LOCAL_FAST
from tests.support import Gateway, running_gateway, wait_for
from vidgate.settings import ConfigError, load_config_file

VARIES = {"date", "x-request-id", "x-vidgate-overhead-ms"}


class Probe:
    """Counts what the gateway's archiver does for previews on request, and can hold it
    until ``release``: ``hold="made"`` once the media worker made the image (before it is
    stored), ``hold="stored"`` once it is in the store (before it is recorded)."""

    def __init__(self, gateway: Gateway) -> None:
        self.archiver = gateway.app.state.jobs.poller.archiver
        self.asked = 0  # requests that reached the on-request maker
        self.made = 0  # media worker calls
        self.stored: list[str] = []  # preview keys stored
        self.hold: str | None = None
        self.held = 0  # makings waiting at ``hold``
        self.gate = threading.Event()
        self._saved: list[tuple[Any, str, Any]] = []
        on_request = getattr(self.archiver, "on_request", None)  # None before the feature
        if on_request is not None:
            self._wrap(on_request, "asset", self._asset)
        self._wrap(self.archiver.media, "previews", self._previews)
        self._wrap(self.archiver.storage, "put_file", self._put_file)

    def _wrap(self, owner: Any, name: str, make: Any) -> None:
        original = getattr(owner, name)
        self._saved.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, make(original))

    def _asset(self, original: Any) -> Any:
        async def asset(*args: Any) -> Any:
            self.asked += 1
            return await original(*args)

        return asset

    def _previews(self, original: Any) -> Any:
        async def previews(*args: Any) -> Any:
            self.made += 1
            made = await original(*args)
            await self._wait("made")
            return made

        return previews

    def _put_file(self, original: Any) -> Any:
        async def put_file(key: str, *args: Any) -> Any:
            info = await original(key, *args)
            if "/thumbnail." in key or "/spritesheet." in key:
                self.stored.append(key)
                await self._wait("stored")
            return info

        return put_file

    async def _wait(self, point: str) -> None:
        import asyncio

        if self.hold == point:
            self.held += 1
            assert await asyncio.to_thread(self.gate.wait, 120), "never released"

    def release(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.set()
        for owner, name, saved in reversed(self._saved):
            if saved is None:
                delattr(owner, name)
            else:
                setattr(owner, name, saved)


@pytest.fixture
def probe(gateway: Gateway) -> Iterator[Probe]:
    watching = Probe(gateway)
    try:
        yield watching
    finally:
        watching.close()


def _completed(gateway: Gateway, key: str | None = None) -> str:
    video = gateway.sdk(key).videos.create_and_poll(
        prompt="previews on request", seconds="1", size="320x180", poll_interval_ms=50
    )
    assert video.status == "completed"
    return str(video.id)


def _assets(gateway: Gateway, video_id: str) -> dict[str, Any]:
    """The job's ``assets`` as the database has them."""
    with sqlite3.connect(gateway.data_dir / "vidgate.db") as db:
        (text,) = db.execute("SELECT assets FROM jobs WHERE id = ?", (video_id,)).fetchone()
    return dict(json.loads(text))


def _get(gateway: Gateway, video_id: str, variant: str, **headers: str) -> httpx.Response:
    with gateway.http() as http:
        return http.get(
            f"/v1/videos/{video_id}/content", params={"variant": variant}, headers=headers
        )


def _headers(response: httpx.Response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.items() if k not in VARIES)


def _stored_files(gateway: Gateway, video_id: str) -> list[str]:
    folder = gateway.data_dir / "blobs" / "videos" / video_id
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_first_request_makes_the_preview_and_later_ones_serve_it(
    gateway: Gateway, probe: Probe
) -> None:
    video_id = _completed(gateway)
    assert set(_assets(gateway, video_id)) == {"video"}  # archived without previews

    first = _get(gateway, video_id, "thumbnail")
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/webp"
    image = Image.open(io.BytesIO(first.content))
    assert image.format == "WEBP" and image.size == (320, 180)
    assert probe.made == 1
    assets = _assets(gateway, video_id)
    assert set(assets) == {"video", "thumbnail"}  # just the variant asked for
    assert assets["thumbnail"]["size"] == len(first.content)
    assert first.headers["etag"] == f'"{assets["thumbnail"]["etag"]}"'

    again = _get(gateway, video_id, "thumbnail")
    assert again.content == first.content and _headers(again) == _headers(first)
    assert probe.made == 1  # served from the store
    assert (
        _get(gateway, video_id, "thumbnail", **{"if-none-match": again.headers["etag"]}).status_code
        == 304
    )
    part = _get(gateway, video_id, "thumbnail", range="bytes=0-9")
    assert part.status_code == 206 and part.content == first.content[:10]

    sheet = _get(gateway, video_id, "spritesheet")
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(sheet.content)).format == "JPEG"
    assert probe.made == 2
    assert set(_assets(gateway, video_id)) == {"video", "thumbnail", "spritesheet"}
    assert _stored_files(gateway, video_id) == ["spritesheet.jpg", "thumbnail.webp", "video.mp4"]


def test_head_and_a_range_as_first_requests(gateway: Gateway, probe: Probe) -> None:
    video_id = _completed(gateway)
    with gateway.http() as http:
        head = http.head(f"/v1/videos/{video_id}/content", params={"variant": "thumbnail"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "image/webp"
    whole = _get(gateway, video_id, "thumbnail")
    assert head.headers["etag"] == whole.headers["etag"]
    assert int(head.headers["content-length"]) == len(whole.content)

    part = _get(gateway, video_id, "spritesheet", range="bytes=10-99")
    assert part.status_code == 206 and len(part.content) == 90
    assert part.headers["content-range"].startswith("bytes 10-99/")
    assert _get(gateway, video_id, "spritesheet").content[10:100] == part.content
    assert probe.made == 2


def test_concurrent_first_requests_share_one_making(gateway: Gateway, probe: Probe) -> None:
    video_id = _completed(gateway)
    probe.hold = "made"
    with ThreadPoolExecutor(6) as pool:
        replies = [pool.submit(_get, gateway, video_id, "thumbnail") for _ in range(6)]
        wait_for(lambda: probe.asked == 6 and probe.held == 1)  # all wait on one making
        probe.release()
        bodies = [reply.result(timeout=120) for reply in replies]
    assert [r.status_code for r in bodies] == [200] * 6
    assert len({r.content for r in bodies}) == 1 and len({r.headers["etag"] for r in bodies}) == 1
    assert probe.made == 1 and len(probe.stored) == 1


def test_a_page_of_previews_never_holds_up_an_archive(gateway: Gateway, probe: Probe) -> None:
    """Previews of more jobs than there are archive slots (2), each made slowly: they are
    made one at a time (their own slots: half the archive's), and a job that finishes
    meanwhile is archived and completed without waiting for them."""
    videos = [_completed(gateway) for _ in range(3)]
    probe.hold = "made"
    with ThreadPoolExecutor(3) as pool:
        replies = [pool.submit(_get, gateway, video_id, "thumbnail") for video_id in videos]
        wait_for(lambda: probe.asked == 3 and probe.held == 1)
        sdk = gateway.sdk()
        late = sdk.videos.create(prompt="finished meanwhile", seconds="1", size="320x180")
        wait_for(lambda: sdk.videos.retrieve(late.id).status == "completed")
        assert set(_assets(gateway, late.id)) == {"video"}
        assert probe.held == probe.made == 1  # the two other makings still wait their turn
        probe.release()
        assert [reply.result(timeout=120).status_code for reply in replies] == [200] * 3
    assert probe.made == 3


def _both_at_once(gateway: Gateway, probe: Probe, video_id: str) -> None:
    """The thumbnail and the spritesheet asked for together, both made before either is
    recorded: each must end up in the record."""
    probe.hold = "made"
    with ThreadPoolExecutor(2) as pool:
        replies = [pool.submit(_get, gateway, video_id, v) for v in ("thumbnail", "spritesheet")]
        wait_for(lambda: probe.held == 2)
        probe.release()
        assert [r.result(timeout=120).status_code for r in replies] == [200, 200]
    assert probe.made == 2


TWO_PREVIEWS = {**LOCAL_FAST, "settings": {**LOCAL_FAST["settings"], "archive_concurrency": 4}}
"""Room for two previews made at once (``jobs/previews.py``: half the archive slots)."""


def test_both_previews_made_at_once_are_both_recorded(tmp_path: Path) -> None:
    with running_gateway(tmp_path / "gw", TWO_PREVIEWS) as gateway:
        probe = Probe(gateway)
        try:
            video_id = _completed(gateway)
            _both_at_once(gateway, probe, video_id)
            assert set(_assets(gateway, video_id)) == {"video", "thumbnail", "spritesheet"}
            for variant in ("thumbnail", "spritesheet"):  # and the job cache has them
                assert _get(gateway, video_id, variant).status_code == 200
            assert probe.made == 2
        finally:
            probe.close()


@pytest.mark.scaleout
def test_on_postgresql(tmp_path: Path) -> None:
    from tests.scaleout.services import postgres_server

    with postgres_server() as pg:
        config = {**TWO_PREVIEWS, "database_url": pg.create_database("previews")}
        with running_gateway(tmp_path / "gw", config) as gateway:
            probe = Probe(gateway)
            try:
                video_id = _completed(gateway)
                _both_at_once(gateway, probe, video_id)
                for variant in ("thumbnail", "spritesheet"):
                    assert _get(gateway, video_id, variant).status_code == 200
                assert probe.made == 2
                gateway.sdk().videos.delete(video_id)
            finally:
                probe.close()
            text = pg.psql("previews", f"SELECT assets FROM jobs WHERE id = '{video_id}'")
    assert set(json.loads(text)) == {"video", "thumbnail", "spritesheet"}
    assert _stored_files(gateway, video_id) == []


def test_an_undecodable_video_is_tried_once_and_answers_404(gateway: Gateway, probe: Probe) -> None:
    video_id = _completed(gateway)
    stored = gateway.data_dir / "blobs" / "videos" / video_id / "video.mp4"
    stored.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))  # no longer a video

    for _ in range(3):
        reply = _get(gateway, video_id, "thumbnail")
        assert reply.status_code == 404
        error = reply.json()["error"]
        assert error["code"] == "not_found" and error["param"] == "variant"
        assert error["message"] == f"Video '{video_id}' has no thumbnail."
    assert probe.made == 1  # recorded: later requests answer at once
    assert set(_assets(gateway, video_id)["unmade"]) == {"thumbnail"}
    assert _get(gateway, video_id, "spritesheet").status_code == 404
    assert probe.made == 2
    assert _stored_files(gateway, video_id) == ["video.mp4"]


def test_another_keys_job_stays_404(gateway: Gateway, probe: Probe) -> None:
    video_id = _completed(gateway)
    other = gateway.new_key()
    with gateway.http(other) as http:
        http.get("/v1/videos")  # the key is now cached as valid
        reply = http.get(f"/v1/videos/{video_id}/content", params={"variant": "thumbnail"})
    assert reply.status_code == 404 and reply.json()["error"]["param"] == "video_id"
    assert probe.made == 0 and set(_assets(gateway, video_id)) == {"video"}


@pytest.mark.parametrize("hold", ["made", "stored"])
def test_a_deletion_during_the_making_leaves_nothing_behind(
    gateway: Gateway, probe: Probe, hold: str
) -> None:
    video_id = _completed(gateway)
    probe.hold = hold
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(_get, gateway, video_id, "thumbnail")
        wait_for(lambda: probe.held == 1)
        with gateway.http() as http:
            assert http.delete(f"/v1/videos/{video_id}").status_code == 200
        probe.release()
        answer = reply.result(timeout=120)
    assert answer.status_code == 404
    assert _stored_files(gateway, video_id) == []
    with sqlite3.connect(gateway.data_dir / "vidgate.db") as db:
        (text,) = db.execute("SELECT assets FROM jobs WHERE id = ?", (video_id,)).fetchone()
    assert "thumbnail" not in json.loads(text)


def test_at_archive_makes_both_before_the_job_completes(tmp_path: Path) -> None:
    config = {**LOCAL_FAST, "settings": {**LOCAL_FAST["settings"], "previews": "at_archive"}}
    with running_gateway(tmp_path / "gw", config) as gateway:
        video_id = _completed(gateway)
        assert set(_assets(gateway, video_id)) == {"video", "thumbnail", "spritesheet"}
        probe = Probe(gateway)
        try:
            for variant, kind in (("thumbnail", "WEBP"), ("spritesheet", "JPEG")):
                reply = _get(gateway, video_id, variant)
                assert reply.status_code == 200
                assert Image.open(io.BytesIO(reply.content)).format == kind
            assert probe.asked == probe.made == 0  # nothing made on request
        finally:
            probe.close()


def test_the_setting_takes_two_values(tmp_path: Path) -> None:
    path = tmp_path / "vidgate.yaml"
    path.write_text("settings:\n  previews: later\n")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert "settings.previews: Input should be 'on_request' or 'at_archive'" in str(caught.value)
    path.write_text("settings:\n  previews: at_archive\n")
    assert load_config_file(path).settings.previews == "at_archive"
