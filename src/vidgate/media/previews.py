"""Still previews of a video: a WebP thumbnail and a JPEG spritesheet for scrubbing.

Videos can be long, so nothing here decodes a whole file into memory: frames are pulled one
at a time from a streaming decoder, and the decoder seeks ahead whenever the next wanted
frame is far away. Only the frame currently being turned into a preview is kept.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

from av.video.frame import VideoFrame
from PIL import Image

from vidgate.media.probe import MediaError, open_video, probe

PathLike = str | os.PathLike[str]

#: Targets further ahead than this are reached by seeking instead of decoding through.
_SEEK_AHEAD_S = 5.0


def make_thumbnail(video: PathLike, out: PathLike, *, max_width: int = 640) -> str:
    """Write a WebP of the frame at ~1/3 of the duration, at most `max_width` wide.

    Returns the content type of the written file.
    """
    _require_positive(max_width=max_width)
    info = probe(video)
    image = next(_frames_at(video, [info.duration_s / 3], info.fps))
    if image.width > max_width:
        height = max(1, round(image.height * max_width / image.width))
        image = image.resize((max_width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    _save_atomically(image, out, "WEBP", quality=80, method=4)
    return "image/webp"


def make_spritesheet(
    video: PathLike, out: PathLike, *, columns: int = 5, rows: int = 5, tile_width: int = 160
) -> str:
    """Write a JPEG grid of frames evenly spaced over the duration, row by row.

    The sheet is `columns` tiles wide. It holds `columns * rows` tiles, or one per frame if
    the video is shorter than that, in which case unused trailing rows are dropped.
    Returns the content type of the written file.
    """
    _require_positive(columns=columns, rows=rows, tile_width=tile_width)
    info = probe(video)
    frame_count = max(1, round(info.duration_s * info.fps))
    tiles = min(columns * rows, frame_count)
    tile_height = max(1, round(tile_width * info.height / max(1, info.width)))
    sheet = Image.new("RGB", (columns * tile_width, math.ceil(tiles / columns) * tile_height))
    times = [(i + 0.5) * info.duration_s / tiles for i in range(tiles)]
    for index, frame in enumerate(_frames_at(video, times, info.fps)):
        tile = frame.resize((tile_width, tile_height), Image.Resampling.BILINEAR, reducing_gap=2.0)
        row, column = divmod(index, columns)
        sheet.paste(tile, (column * tile_width, row * tile_height))
    _save_atomically(sheet, out, "JPEG", quality=80)
    return "image/jpeg"


def _frames_at(video: PathLike, times: Sequence[float], fps: float) -> Iterator[Image.Image]:
    """Yield, for each ascending time in seconds, the first frame shown at or after it."""
    slack = 0.5 / fps if fps > 0 else 0.0
    with open_video(video) as container:
        stream = container.streams.video[0]
        start_s = float((stream.start_time or 0) * (stream.time_base or 0))
        decoded: Iterator[VideoFrame] = iter(())
        current: VideoFrame | None = None
        for target in times:
            wanted = start_s + target - slack
            if current is None or _time(current) < wanted - _SEEK_AHEAD_S:
                if stream.time_base:
                    container.seek(int(wanted / stream.time_base), stream=stream, backward=True)
                decoded, current = container.decode(stream), None
            current = _advance(decoded, current, wanted)
            yield current.to_image()  # type: ignore[no-untyped-call]


def _advance(
    decoded: Iterator[VideoFrame], current: VideoFrame | None, wanted: float
) -> VideoFrame:
    """Decode until a frame at or after `wanted`; the last frame if the video ends first."""
    if current is not None and _time(current) >= wanted:
        return current
    for frame in decoded:
        current = frame
        if _time(frame) >= wanted:
            break
    if current is None:
        raise MediaError("video stream yielded no frames")
    return current


def _time(frame: VideoFrame) -> float:
    return float(frame.time) if frame.time is not None else 0.0


def _save_atomically(image: Image.Image, out: PathLike, fmt: str, **params: Any) -> None:
    """Encode next to `out`, then rename, so readers never see a half-written preview."""
    target = os.fspath(out)
    partial = target + ".part"
    try:
        image.save(partial, format=fmt, **params)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _require_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
