"""Read the basic facts of a video file without decoding it.

Callers (storage, previews, the local renderer) need a video's duration, size, frame rate
and codec to validate uploads and to plan work. This module reads them from the container
headers only, so it is cheap even for long files, and turns every decoder complaint into a
single `MediaError` the rest of vidgate can handle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from vidgate.media.errors import TRANSIENT_ERRNOS, MediaError, MediaUnavailable


@dataclass(frozen=True)
class MediaInfo:
    """What vidgate needs to know about a video file."""

    duration_s: float
    width: int
    height: int
    fps: float
    codec: str
    has_audio: bool


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Return the `MediaInfo` of the first video stream in `path`.

    Raises `MediaError` if the file cannot be opened or has no usable video stream.
    """
    with open_video(path) as container:
        stream = container.streams.video[0]
        fps = stream_rate(stream)
        duration = stream_duration(container, stream, fps)
        if duration <= 0:
            raise MediaError(f"{os.fspath(path)!r} has no measurable video duration")
        return MediaInfo(
            duration_s=duration,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=float(fps),
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )


def open_video(
    path: str | os.PathLike[str], options: dict[str, str] | None = None
) -> InputContainer:
    """Open `path` for reading (with FFmpeg ``options``), insisting on a video stream."""
    name = os.fspath(path)
    try:
        container = av.open(name, mode="r", options=options or {})
    except (av.FFmpegError, OSError) as exc:
        kind = MediaUnavailable if getattr(exc, "errno", None) in TRANSIENT_ERRNOS else MediaError
        raise kind(f"cannot read {name!r} as media: {exc}") from exc
    if not container.streams.video or container.format.name.endswith("_pipe"):
        container.close()
        raise MediaError(f"{name!r} is not a video file")
    return container


def stream_rate(stream: VideoStream) -> Fraction:
    """The stream's frame rate as an exact fraction (0 when unknown)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return Fraction(rate) if rate else Fraction(0)


def stream_duration(container: InputContainer, stream: VideoStream, fps: Fraction) -> float:
    """Prefer frames / fps (exact), then the stream's own duration, then the container's."""
    if stream.frames and fps:
        return float(stream.frames / fps)
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0
