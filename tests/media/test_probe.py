"""probe() reads duration, size, rate, codec and audio presence, and rejects non-videos."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image

from vidgate.media.probe import MediaError, MediaInfo, probe


def write_video(path: Path, *, size: tuple[int, int], fps: int, frames: int, audio: bool) -> None:
    """A tiny H.264 MP4, optionally with a silent AAC track."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=8000, layout="mono") if audio else None
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


def test_probe_reads_video_facts(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_video(path, size=(96, 54), fps=12, frames=30, audio=False)

    info = probe(path)

    assert isinstance(info, MediaInfo)
    assert (info.width, info.height, info.fps, info.codec) == (96, 54, 12.0, "h264")
    assert info.duration_s == pytest.approx(2.5, abs=1 / 12)
    assert info.has_audio is False


def test_probe_accepts_str_paths_and_sees_audio(tmp_path: Path) -> None:
    path = tmp_path / "with-audio.mp4"
    write_video(path, size=(64, 36), fps=10, frames=10, audio=True)

    info = probe(str(path))

    assert info.has_audio is True
    assert info.duration_s == pytest.approx(1.0, abs=1 / 10)


@pytest.mark.parametrize(
    "name, content",
    [("notes.txt", b"just some text\n"), ("empty.mp4", b""), ("garbage.mp4", bytes(range(256)))],
)
def test_probe_rejects_non_media(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(MediaError):
        probe(path)


def test_probe_rejects_still_images_and_missing_files(tmp_path: Path) -> None:
    image = tmp_path / "still.png"
    Image.new("RGB", (16, 16), "red").save(image)

    with pytest.raises(MediaError):
        probe(image)
    with pytest.raises(MediaError):
        probe(tmp_path / "missing.mp4")


def test_media_error_is_a_value_error() -> None:
    assert issubclass(MediaError, ValueError)


def test_a_file_of_the_moment_is_unavailable_a_bad_one_is_not(tmp_path: Path) -> None:
    """A missing file (or no descriptor, memory, I/O) says nothing about the video: it is
    ``MediaUnavailable``, which the previews made on request do not record as unmade."""
    from vidgate.media.errors import MediaUnavailable
    from vidgate.media.probe import open_video

    with pytest.raises(MediaUnavailable):
        open_video(tmp_path / "not-there.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01 not a video " * 100)
    with pytest.raises(MediaError) as caught:
        open_video(garbage)
    assert not isinstance(caught.value, MediaUnavailable)
