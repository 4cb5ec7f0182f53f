"""Previews on request when making one fails, over HTTP on loopback: a failure of the moment
is a 503 ``service_unavailable`` in the error envelope, with ``Retry-After``, and is not
recorded (the next request makes the preview); a video that cannot be previewed is recorded
and answers 404. No failure is a 500.

The gateway runs in this process, so a test can find its media worker's process and stop,
kill or starve it, as the kernel or an operator would.
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.api.test_content_previews import Probe, _assets, _completed, _get
from tests.media.test_previews import write_shaded_video
from tests.support import Gateway, wait_for


@pytest.fixture
def probe(gateway: Gateway) -> Iterator[Probe]:
    watching = Probe(gateway)
    try:
        yield watching
    finally:
        watching.close()


def _stored(gateway: Gateway, video_id: str) -> Path:
    return gateway.data_dir / "blobs" / "videos" / video_id / "video.mp4"


def _worker(gateway: Gateway, *, warm: bool = False) -> int:
    """The pid of the gateway's media worker, started if it was not running (``warm``: with
    the preview code and FFmpeg's libraries loaded in it, as after its first making)."""
    pool = gateway.app.state.jobs.poller.archiver.media._executor()
    if warm:
        pool.submit(exec, "import vidgate.media.previews").result(timeout=120)
    return int(pool.submit(os.getpid).result(timeout=120))


def _try_again(reply: httpx.Response, video_id: str, variant: str) -> None:
    assert reply.status_code == 503, reply.text
    assert reply.headers["retry-after"] == "1"
    assert reply.json() == {
        "error": {
            "message": f"The {variant} of video '{video_id}' cannot be made right now; try again.",
            "type": "server_error",
            "param": None,
            "code": "service_unavailable",
        }
    }


def _with_worker_killed(gateway: Gateway, probe: Probe, video_id: str) -> httpx.Response:
    """The answer to a spritesheet request whose media worker is killed while it has the
    call (stopped first, so the call is surely its own when the kill comes)."""
    pid = _worker(gateway)
    os.kill(pid, signal.SIGSTOP)
    made = probe.made
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(_get, gateway, video_id, "spritesheet")
        wait_for(lambda: probe.made == made + 1)  # handed to the worker
        os.kill(pid, signal.SIGKILL)
        return reply.result(timeout=120)


def test_a_worker_killed_during_the_making_is_a_503_and_not_recorded(
    gateway: Gateway, probe: Probe
) -> None:
    video_id = _completed(gateway)
    killed = _worker(gateway)
    _try_again(_with_worker_killed(gateway, probe, video_id), video_id, "spritesheet")
    assert "unmade" not in _assets(gateway, video_id)

    again = _get(gateway, video_id, "spritesheet")  # a new worker makes it
    assert again.status_code == 200, again.text
    assert Image.open(io.BytesIO(again.content)).format == "JPEG"
    assert _worker(gateway) != killed
    assert set(_assets(gateway, video_id)) == {"video", "spritesheet"}


def test_a_preview_that_loses_the_worker_three_times_in_a_row_is_recorded(
    gateway: Gateway, probe: Probe
) -> None:
    """A video that crashed FFmpeg would take the worker (and any archive's media work in
    it) down on every request: the third loss in a row records it."""
    video_id = _completed(gateway)
    for _ in range(2):
        _try_again(_with_worker_killed(gateway, probe, video_id), video_id, "spritesheet")
        assert "unmade" not in _assets(gateway, video_id)
    third = _with_worker_killed(gateway, probe, video_id)
    assert third.status_code == 404 and third.json()["error"]["param"] == "variant"
    unmade = _assets(gateway, video_id)["unmade"]
    assert unmade == {"spritesheet": "the media worker died 3 times making it"}
    made = probe.made
    assert _get(gateway, video_id, "spritesheet").status_code == 404
    assert probe.made == made  # answered from the record
    assert _get(gateway, video_id, "thumbnail").status_code == 200  # the other variant


def test_a_worker_out_of_memory_is_a_503_and_not_recorded(gateway: Gateway, probe: Probe) -> None:
    """The worker's address space is capped just above what it uses: FFmpeg cannot get a
    buffer for a 4K picture (it drops the picture, as it drops a corrupt one)."""
    video_id = _completed(gateway)
    write_shaded_video(_stored(gateway, video_id), size=(3840, 2160), fps=4, frames=4)
    pid = _worker(gateway, warm=True)
    size = _vm_size(pid)
    resource.prlimit(pid, resource.RLIMIT_AS, (size + 2 * 1024 * 1024, resource.RLIM_INFINITY))
    try:
        _try_again(_get(gateway, video_id, "thumbnail"), video_id, "thumbnail")
        assert "unmade" not in _assets(gateway, video_id)
    finally:
        resource.prlimit(pid, resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)
    again = _get(gateway, video_id, "thumbnail")
    assert again.status_code == 200, again.text
    assert Image.open(io.BytesIO(again.content)).size == (640, 360)


def _vm_size(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


def test_a_file_system_error_is_a_503_and_not_recorded(gateway: Gateway, probe: Probe) -> None:
    video_id = _completed(gateway)
    room = gateway.data_dir / "tmp"  # where makings work: made unusable
    shutil.rmtree(room)
    room.write_text("not a directory")
    try:
        _try_again(_get(gateway, video_id, "thumbnail"), video_id, "thumbnail")
        assert "unmade" not in _assets(gateway, video_id)
        assert probe.made == 0
    finally:
        room.unlink()
        room.mkdir()
    assert _get(gateway, video_id, "thumbnail").status_code == 200


def test_a_tall_narrow_video_gets_a_small_spritesheet(gateway: Gateway, probe: Probe) -> None:
    """2x4096: tiles 160 wide would be 327680 high (the worker took 2.7 GB and 10 s before
    the JPEG encoder refused the sheet: a 500). A tile is at most 4 widths high."""
    video_id = _completed(gateway)
    write_shaded_video(_stored(gateway, video_id), size=(2, 4096), fps=10, frames=10)
    sheet = _get(gateway, video_id, "spritesheet")
    assert sheet.status_code == 200, sheet.text
    assert Image.open(io.BytesIO(sheet.content)).size == (5 * 1, 2 * 640)  # 10 tiles of 1x640
    thumbnail = _get(gateway, video_id, "thumbnail")
    assert thumbnail.status_code == 200
    assert Image.open(io.BytesIO(thumbnail.content)).size == (1, 640)
    assert probe.made == 2
