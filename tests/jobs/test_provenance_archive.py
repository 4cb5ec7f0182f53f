"""Provenance end to end: an upstream (the OpenAI-wire simulator, serving a given file)
returns a real MP4 carrying a C2PA manifest store; the gateway archives it, reports
``provenance: {"c2pa": true}`` and serves the very same bytes, whole and by ranges, through
the API and the official SDK. A file without a manifest reports ``false``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.media.test_provenance import c2pa_box
from tests.support import Gateway, running_gateway, serve
from vidgate.media.provenance import top_level_boxes
from vidgate.providers.openai.simulator import SimulatorConfig, create_app
from vidgate.providers.simkit import mp4_bytes


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real rendered MP4 as is, and the same with a C2PA box appended after its last
    top-level box (nothing before it moves, so no offset changes)."""
    folder = tmp_path_factory.mktemp("media")
    plain = mp4_bytes(320, 180, 1)
    paths = {"plain": folder / "plain.mp4", "signed": folder / "signed.mp4"}
    paths["plain"].write_bytes(plain)
    paths["signed"].write_bytes(plain + c2pa_box())
    return paths


@pytest.fixture(scope="module")
def gw(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    sims = {
        name: create_app(
            SimulatorConfig(
                api_key="sk-up",
                job_seconds=0.2,
                queued_seconds=0.05,
                poll_after_ms=50,
                content_path=str(path),
            )
        )
        for name, path in files.items()
    }
    with serve(sims["plain"]) as plain_url, serve(sims["signed"]) as signed_url:
        model_list = [
            {
                "model_name": f"sora-2-{name}",
                "provider": "openai",
                "model": "sora-2",
                "api_base": f"{url}/v1",
                "api_key": "sk-up",
                "poll_interval_s": 0.1,
            }
            for name, url in (("plain", plain_url), ("signed", signed_url))
        ]
        with running_gateway(tmp_path_factory.mktemp("gw"), {"model_list": model_list}) as gw:
            yield gw


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def generate(gw: Gateway, key: str, model: str) -> Any:
    video = gw.sdk(key).videos.create_and_poll(
        model=model, prompt="a lighthouse at dusk", seconds="4", poll_interval_ms=100
    )
    assert video.status == "completed", video.error
    return video


def test_a_c2pa_video_is_archived_and_served_byte_for_byte(
    gw: Gateway, files: dict[str, Path]
) -> None:
    original = files["signed"].read_bytes()
    kinds = [b.kind for b in top_level_boxes(io.BytesIO(original), len(original))]
    assert kinds[-1] == b"uuid" and b"moov" in kinds  # the fixture really carries the box
    key = gw.new_key()
    video = generate(gw, key, "sora-2-signed")
    assert video.model_extra is not None
    assert video.model_extra["provenance"] == {"c2pa": True}

    client = gw.sdk(key)
    downloaded = client.videos.download_content(video.id).read()
    assert len(downloaded) == len(original) and sha256(downloaded) == sha256(original)

    with gw.http(key) as http:
        path = f"/v1/videos/{video.id}/content"
        whole = http.get(path)
        assert whole.status_code == 200 and whole.content == original
        assert whole.headers["content-type"] == "video/mp4"
        assert int(whole.headers["content-length"]) == len(original)
        box_start = len(original) - len(c2pa_box())
        for header, wanted in (
            ("bytes=0-1023", original[:1024]),
            (f"bytes={box_start}-", original[box_start:]),  # exactly the C2PA box
            (f"bytes=-{len(c2pa_box()) + 7}", original[-(len(c2pa_box()) + 7) :]),
            (f"bytes=100-{len(original) - 1}", original[100:]),
        ):
            part = http.get(path, headers={"Range": header})
            assert part.status_code == 206, (header, part.text)
            assert part.content == wanted, header
            assert part.headers["content-range"].endswith(f"/{len(original)}")
        # pieced back together from ranges, it is the original again
        pieces = [
            http.get(path, headers={"Range": f"bytes={s}-{min(s + 4095, len(original) - 1)}"})
            for s in range(0, len(original), 4096)
        ]
        assert sha256(b"".join(p.content for p in pieces)) == sha256(original)
        retrieved = http.get(f"/v1/videos/{video.id}").json()
        assert retrieved["provenance"] == {"c2pa": True}
        listed = http.get("/v1/videos").json()["data"]
        assert [v["provenance"] for v in listed if v["id"] == video.id] == [{"c2pa": True}]


def test_a_video_without_a_manifest_says_false(gw: Gateway, files: dict[str, Path]) -> None:
    key = gw.new_key()
    video = generate(gw, key, "sora-2-plain")
    assert video.model_extra is not None
    assert video.model_extra["provenance"] == {"c2pa": False}
    downloaded = gw.sdk(key).videos.download_content(video.id).read()
    assert downloaded == files["plain"].read_bytes()


def test_provenance_is_null_until_archived(gw: Gateway) -> None:
    key = gw.new_key()
    with gw.http(key) as http:
        created = http.post(
            "/v1/videos", json={"model": "sora-2-signed", "prompt": "[sim:slow] a harbour"}
        )
        assert created.status_code == 200, created.text
        video = created.json()
        assert video["status"] in ("queued", "in_progress") and video["provenance"] is None
        assert http.delete(f"/v1/videos/{video['id']}").status_code == 200
