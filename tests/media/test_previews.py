"""Thumbnails and spritesheets: right formats, sizes, and pictures taken at the right times.

Previews show keyframes only (one decoded picture per keyframe used, however long the
video): the thumbnail is the keyframe at or before 1/3 of the duration, at most 640 on its
longer side, tile i of a sheet of n the latest keyframe at or before (i + 0.5) * duration / n.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import pytest
from PIL import Image, ImageStat

from vidgate.media.errors import MediaError, MediaUnavailable
from vidgate.media.previews import make_spritesheet, make_thumbnail


def shade(index: int) -> int:
    """Grey level of frame `index`, distinct (5 apart) for the first 50 frames."""
    return index * 5


def write_shaded_video(
    path: Path, *, size: tuple[int, int], fps: int, frames: int, gop: int = 4
) -> None:
    """An MP4 whose frame i is a flat grey of `shade(i)`; a keyframe every `gop` frames."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {"sc_threshold": "0"}  # keyframes only where the gop puts them
        for index in range(frames):
            image = Image.new("RGB", size, (shade(index),) * 3)
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def grey(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> float:
    region = image.convert("L") if box is None else image.convert("L").crop(box)
    return float(ImageStat.Stat(region).mean[0])


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("previews") / "clip.mp4"
    write_shaded_video(path, size=(320, 180), fps=12, frames=36)
    return path


def test_thumbnail_is_webp_at_a_third_of_the_duration(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "thumb.webp"

    assert make_thumbnail(clip, out) == "image/webp"

    with Image.open(out) as image:
        assert image.format == "WEBP"
        assert image.size == (320, 180)  # never upscaled
        assert grey(image) == pytest.approx(shade(12), abs=2)  # 3 s / 3 = frame 12


def test_thumbnail_is_scaled_down_keeping_aspect(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "small.webp"

    make_thumbnail(clip, out, max_side=100)

    with Image.open(out) as image:
        assert image.size == (100, 56)
    assert not Path(str(out) + ".part").exists()


@pytest.mark.parametrize(
    ("size", "expected"),
    [((400, 720), (356, 640)), ((720, 400), (640, 356)), ((240, 640), (240, 640))],
)
def test_thumbnail_fits_its_longer_side_in_640(
    tmp_path: Path, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    video, out = tmp_path / "tall.mp4", tmp_path / "tall.webp"
    write_shaded_video(video, size=size, fps=12, frames=36)

    make_thumbnail(video, out)

    with Image.open(out) as image:
        assert image.size == expected  # a portrait video is not 640 wide: 640 high at most
        assert grey(image) == pytest.approx(shade(12), abs=2)  # 3 s / 3: frame 12, a key


def test_spritesheet_is_jpeg_grid_of_evenly_spaced_keyframes(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "sheet.jpg"

    assert make_spritesheet(clip, out, columns=3, rows=2, tile_width=80) == "image/jpeg"

    with Image.open(out) as image:
        assert image.format == "JPEG"
        assert image.size == (3 * 80, 2 * 45)
        tiles = [
            grey(image, (c * 80 + 20, r * 45 + 10, c * 80 + 60, r * 45 + 35))
            for r, c in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
        ]
    # Tile i is at frame (i + 0.5) / 6 of 36: 3, 9, 15, 21, 27, 33; with a keyframe every 4
    # frames it shows frames 0, 8, 12, 20, 24, 32.
    assert tiles == pytest.approx([shade(f) for f in (0, 8, 12, 20, 24, 32)], abs=3)


def test_each_tile_is_the_keyframe_at_or_before_its_time(tmp_path: Path) -> None:
    video, out = tmp_path / "seconds.mp4", tmp_path / "seconds.jpg"
    write_shaded_video(video, size=(64, 36), fps=4, frames=48, gop=4)  # 12 s, keyframe/s

    make_spritesheet(video, out, columns=5, rows=2, tile_width=64)

    with Image.open(out) as image:
        tiles = [
            grey(image, (c * 64 + 16, r * 36 + 8, c * 64 + 48, r * 36 + 28))
            for r in range(2)
            for c in range(5)
        ]
    # tile i at (i + 0.5) * 1.2 s: 0.6, 1.8, 3.0, ... 11.4 s -> the keyframe of that second
    seconds = [math.floor((i + 0.5) * 1.2 + 1e-9) for i in range(10)]
    assert tiles == pytest.approx([shade(4 * s) for s in seconds], abs=3)
    assert len(set(seconds)) < 12  # tiles skip keyframes, none is decoded twice


def test_spritesheet_default_grid(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "default.jpg"

    make_spritesheet(clip, out)

    with Image.open(out) as image:
        assert image.size == (5 * 160, 5 * 90)


def test_spritesheet_has_fewer_tiles_for_short_videos(tmp_path: Path) -> None:
    video, out = tmp_path / "short.mp4", tmp_path / "short.jpg"
    write_shaded_video(video, size=(64, 36), fps=12, frames=3, gop=1)

    make_spritesheet(video, out, columns=5, rows=5, tile_width=32)

    with Image.open(out) as image:
        assert image.size == (5 * 32, 18)  # one row holds the 3 frames
        assert grey(image, (64, 0, 96, 18)) == pytest.approx(shade(2), abs=3)
        assert grey(image, (100, 0, 160, 18)) < 5  # unused cells stay black


def test_spritesheet_seeks_through_long_videos(tmp_path: Path) -> None:
    video, out = tmp_path / "long.mp4", tmp_path / "long.jpg"
    write_shaded_video(video, size=(64, 36), fps=2, frames=48)  # 24 s, targets 12 s apart
    # the targets are frames 12 and 36, both keyframes (every 4th frame)

    make_spritesheet(video, out, columns=2, rows=1, tile_width=64)

    with Image.open(out) as image:
        assert grey(image, (16, 8, 48, 28)) == pytest.approx(shade(12), abs=3)
        assert grey(image, (80, 8, 112, 28)) == pytest.approx(shade(36), abs=3)


@pytest.mark.parametrize("kwargs", [{"columns": 0}, {"rows": 0}, {"tile_width": 0}])
def test_spritesheet_rejects_empty_grids(
    clip: Path, tmp_path: Path, kwargs: dict[str, int]
) -> None:
    with pytest.raises(ValueError):
        make_spritesheet(clip, tmp_path / "x.jpg", **kwargs)


def test_previews_reject_non_videos(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video")

    with pytest.raises(ValueError):
        make_thumbnail(text, tmp_path / "t.webp")
    with pytest.raises(ValueError):
        make_spritesheet(text, tmp_path / "s.jpg")


def test_a_file_system_error_is_of_the_moment_an_encoder_error_is_not(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the gateway records as unmade (``MediaError``) and what it does not
    (``MediaUnavailable``, a 503): an ``OSError`` with an errno says nothing about the
    video; an image encoder's own error (no errno) would come again for the same video."""
    with pytest.raises(MediaUnavailable, match="FileNotFoundError"):
        make_thumbnail(clip, tmp_path / "gone" / "t.webp")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("encoder error -2 when writing image file")

    monkeypatch.setattr(Image.Image, "save", refuse)
    with pytest.raises(MediaError, match="OSError: encoder error -2") as caught:
        make_spritesheet(clip, tmp_path / "s.jpg")
    assert not isinstance(caught.value, MediaUnavailable)


def test_a_tall_narrow_video_has_tiles_at_most_four_widths_high(tmp_path: Path) -> None:
    path = tmp_path / "tall.mp4"
    write_shaded_video(path, size=(16, 2048), fps=10, frames=10)
    make_spritesheet(path, tmp_path / "s.jpg")
    with Image.open(tmp_path / "s.jpg") as sheet:
        assert sheet.size == (5 * 5, 2 * 640)  # 16x2048 scaled to 640 high: 5 wide
