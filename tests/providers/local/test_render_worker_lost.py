"""The local renderer when a render worker process dies (the OOM killer, a signal), over HTTP
on loopback: the render it had starts over in a new worker and its job completes; later
jobs render; a render that loses its worker 3 times fails with a clear error. No 500.

The gateway runs in this process. A render writes ``out.<pid>.mp4.part`` in its task folder,
so the test finds the worker rendering a job by that name and stops, then kills it, as the
kernel or an operator would.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.support import Gateway, running_gateway, wait_for

CONFIG = {
    "model_list": [
        {"model_name": "local/preview", "provider": "local", "model": "preview"},
    ],
    "settings": {"local_workers": 1},
}
SLOW = {"prompt": "a worker lost", "seconds": 4, "size": "1280x720"}
"""A render long enough to be caught in the middle (it is stopped there anyway)."""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gw"), CONFIG) as gw:
        yield gw


def _folder_name(video_id: str) -> str:
    return "local_" + hashlib.sha256(video_id.encode()).hexdigest()[:32]


def _folder(gateway: Gateway, video_id: str) -> Path:
    return gateway.data_dir / "local" / _folder_name(video_id)


def _create(gateway: Gateway, **body: Any) -> str:
    with gateway.http() as http:
        reply = http.post("/v1/videos", json={**SLOW, **body})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["id"])


def _kill_render(gateway: Gateway, video_id: str, killed: set[int]) -> int:
    """SIGKILL the worker rendering ``video_id`` mid-render (a worker not killed before);
    its pid."""
    folder = _folder(gateway, video_id)

    def rendering() -> int | None:
        for part in folder.glob("out.*.mp4.part"):
            pid = int(part.name.split(".")[1])
            if pid not in killed:
                return pid
        return None

    pid: int = wait_for(rendering)
    os.kill(pid, signal.SIGSTOP)  # held mid-render: the kill surely finds the render unfinished
    assert not (folder / "out.mp4").exists()
    os.kill(pid, signal.SIGKILL)
    killed.add(pid)
    return pid


def _video(gateway: Gateway, video_id: str) -> dict[str, Any]:
    with gateway.http() as http:
        reply = http.get(f"/v1/videos/{video_id}")
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def _ended(gateway: Gateway, video_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        video = _video(gateway, video_id)
        return video if video["status"] in ("completed", "failed") else None

    return dict(wait_for(ended))


def _content_shape(gateway: Gateway, video_id: str) -> tuple[int, int]:
    with gateway.http() as http:
        reply = http.get(f"/v1/videos/{video_id}/content")
    assert reply.status_code == 200, reply.text
    with av.open(io.BytesIO(reply.content)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


def test_a_killed_render_worker_restarts_the_render_and_later_jobs_render(
    gateway: Gateway,
) -> None:
    video_id = _create(gateway)
    _kill_render(gateway, video_id, set())

    later = _create(gateway, prompt="after the loss", seconds=1, size="320x180")  # not a 500
    done = _ended(gateway, video_id)
    assert done["status"] == "completed", done
    assert _content_shape(gateway, video_id) == (1280, 720)
    assert _ended(gateway, later)["status"] == "completed"
    assert _content_shape(gateway, later) == (320, 180)

    assert not _folder(gateway, video_id).exists()  # removed once archived


def test_a_render_that_loses_its_worker_three_times_fails_with_a_clear_error(
    gateway: Gateway,
) -> None:
    """A render that takes its worker down every time (out of memory, a crash in the
    encoder) would otherwise start over for ever, taking every render queued with it."""
    video_id = _create(gateway, prompt="lost three times")
    killed: set[int] = set()
    for _ in range(2):
        _kill_render(gateway, video_id, killed)
        assert _video(gateway, video_id)["status"] in ("queued", "in_progress")
    _kill_render(gateway, video_id, killed)
    failed = _ended(gateway, video_id)
    assert failed["status"] == "failed", failed
    assert failed["error"] == {
        "code": "render_failed",
        "message": "The local renderer's worker process died 3 times rendering this video "
        "(killed, or out of memory).",
    }
    after = _create(gateway, prompt="after three losses", seconds=1, size="320x180")
    assert _ended(gateway, after)["status"] == "completed"


def test_a_render_queued_behind_a_killed_one_starts_over_unblamed(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """One worker: the second render waits in the pool's queue when the first one's worker
    is killed, and loses its place with it; it starts over without counting a loss, so
    the first one's losses never fail it."""
    first = _create(gateway, prompt="the culprit")
    second = _create(gateway, prompt="queued behind it", seconds=1, size="320x180")
    killed: set[int] = set()
    for _ in range(3):
        _kill_render(gateway, first, killed)
    assert _ended(gateway, first)["status"] == "failed"
    assert _ended(gateway, second)["status"] == "completed"
    first_loss = _losses_logged(caplog)[0]
    assert first_loss == {_folder_name(first): 1, _folder_name(second): 0}  # it was queued


def test_a_render_beside_a_killed_one_starts_over_unblamed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two workers: a worker's death makes the pool terminate the other one too, with the
    render it has. That render starts over without counting a loss (its worker ended by
    the pool's SIGTERM, not by the kill), so a neighbour that keeps crashing cannot fail
    it."""
    config = {**CONFIG, "settings": {"local_workers": 2}}
    with running_gateway(tmp_path / "gw", config) as gw:
        long = {"seconds": 20, "size": "1920x1080"}  # neither ends before it is caught
        beside = _create(gw, prompt="rendering beside it", **long)
        wait_for(functools.partial(_started_anew, gw, beside, set()))
        culprit = _create(gw, prompt="the culprit", **long)
        _kill_render(gw, culprit, set())
        assert not (_folder(gw, beside) / "out.mp4").exists()  # it was rendering meanwhile
        assert _ended(gw, culprit)["status"] == "completed"
        assert _ended(gw, beside)["status"] == "completed"
    assert _losses_logged(caplog) == [{_folder_name(culprit): 1, _folder_name(beside): 0}]


def _losses_logged(caplog: pytest.LogCaptureFixture) -> list[Any]:
    """The losses so far of the renders lost with each broken pool, as the gateway logged
    them (one warning a pool)."""
    return [
        record.args[-1]
        for record in caplog.records
        if record.name == "vidgate.local"
        and record.msg.startswith("local render worker")
        and isinstance(record.args, tuple)
    ]


def _started_anew(gateway: Gateway, video_id: str, seen: set[int]) -> set[int]:
    """The pids of the workers that started rendering ``video_id``, but those in ``seen``."""
    parts = _folder(gateway, video_id).glob("out.*.part")
    return {int(p.name.split(".")[1]) for p in parts} - seen


def test_no_answer_is_a_500_while_the_worker_is_gone(gateway: Gateway) -> None:
    video_id = _create(gateway, prompt="polled hard while lost")
    _kill_render(gateway, video_id, set())
    statuses = set()
    with httpx.Client(base_url=gateway.url, timeout=120) as http:
        http.headers["Authorization"] = f"Bearer {gateway.master_key}"
        for _ in range(20):
            statuses.add(http.get(f"/v1/videos/{video_id}").status_code)
    assert statuses == {200}
    assert _ended(gateway, video_id)["status"] == "completed"
