"""The header probe (one walk of an MP4's boxes) answers exactly as FFmpeg's probe does, and
leaves to FFmpeg what it cannot read; the same walk finds a C2PA manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from tests.media.test_provenance import c2pa_box
from vidgate.media.header import read_header
from vidgate.media.pool import probe_dict
from vidgate.media.provenance import has_c2pa_manifest


def write(
    path: Path, codec: str, *, size: tuple[int, int], fps: int, frames: int, **kw: Any
) -> Path:
    """A small video (``audio``: with an AAC track; ``options``: muxer options)."""
    with av.open(str(path), "w", options=kw.get("options", {})) as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=8000, layout="mono") if kw.get("audio") else None
        for index in range(frames):
            image = Image.new("RGB", size, (index * 9 % 256, 40, 90))
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            for index in range(4):
                chunk = av.AudioFrame(format="fltp", layout="mono", samples=1024)
                chunk.planes[0].update(bytes(chunk.planes[0].buffer_size))
                chunk.sample_rate, chunk.pts = 8000, index * 1024
                container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


CASES = {
    "h264.mp4": ("libx264", {"size": (96, 54), "fps": 12, "frames": 30}),
    "h264-audio.mp4": ("libx264", {"size": (64, 36), "fps": 10, "frames": 10, "audio": True}),
    "h264-portrait.mov": ("libx264", {"size": (36, 64), "fps": 30, "frames": 45}),
    "h264-faststart.mp4": (
        "libx264",
        {"size": (64, 36), "fps": 24, "frames": 20, "options": {"movflags": "+faststart"}},
    ),
    "hevc.mp4": ("libx265", {"size": (64, 64), "fps": 25, "frames": 20}),
    "mpeg4.mp4": ("mpeg4", {"size": (64, 48), "fps": 15, "frames": 20}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_header_probe_answers_as_ffmpeg_does(tmp_path: Path, name: str) -> None:
    codec, shape = CASES[name]
    path = write(tmp_path / name, codec, **shape)

    header = read_header(path)

    assert header.info is not None
    assert header.info == probe_dict(str(path))
    assert header.c2pa is False


def test_a_rendered_video_and_a_c2pa_one(tmp_path: Path) -> None:
    from vidgate.providers.simkit import mp4_bytes

    plain = mp4_bytes(320, 180, 2)
    paths = {"plain": tmp_path / "plain.mp4", "signed": tmp_path / "signed.mp4"}
    paths["plain"].write_bytes(plain)
    paths["signed"].write_bytes(plain + c2pa_box())

    for name, path in paths.items():
        header = read_header(path)
        assert header.info == probe_dict(str(path))
        assert header.c2pa is has_c2pa_manifest(path) is (name == "signed")


@pytest.mark.parametrize(
    "name, options",
    [
        ("fragmented.mp4", {"movflags": "+frag_keyframe+empty_moov"}),  # samples in fragments
        ("matroska.mkv", {}),  # not ISO BMFF
    ],
)
def test_what_the_header_cannot_answer_is_left_to_ffmpeg(
    tmp_path: Path, name: str, options: dict[str, str]
) -> None:
    path = write(tmp_path / name, "libx264", size=(64, 36), fps=12, frames=24, options=options)

    assert read_header(path).info is None
    assert probe_dict(str(path)) is not None  # FFmpeg still reads it: the fallback works


@pytest.mark.parametrize("content", [b"", b"not a video at all", bytes(range(256)) * 4])
def test_non_videos_have_no_header_facts(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.mp4"
    path.write_bytes(content)

    header = read_header(path)

    assert header.info is None and header.c2pa is False


def test_a_truncated_moov_is_left_to_ffmpeg(tmp_path: Path) -> None:
    path = write(
        tmp_path / "cut.mp4",
        "libx264",
        size=(64, 36),
        fps=12,
        frames=12,
        options={"movflags": "+faststart"},
    )
    data = path.read_bytes()
    moov = data.index(b"moov") - 4
    path.write_bytes(data[: moov + 200])  # the moov header claims more than is there

    assert read_header(path).info is None
