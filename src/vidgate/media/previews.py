"""Still previews of a video: a WebP thumbnail and a JPEG spritesheet for scrubbing.

Every archive of a provider that serves no previews makes both, so they must cost little
whatever the video's length. Nothing here decodes more than one picture per keyframe used:

- the file is opened without FFmpeg's stream analysis (``OPEN_OPTIONS``: it decodes frames
  to guess parameters the MP4 header already has; measured 40 ms CPU per open of a 4 s
  720x1280 H.264 file, 0.5 ms without);
- the thumbnail is the keyframe at or before 1/3 of the duration, at most 640 px on its
  longer side (a 720x1280 video gives 360x640, not 640x1138); the spritesheet keeps the
  regular time grid (tile i is the picture at time (i + 0.5) * duration / tiles, so players
  can map time to tile) and each tile shows the latest keyframe at or before its time;
- a tile is at most ``TILE_TALLEST`` (4) times as high as its nominal width (160), so no
  video's shape can make a huge sheet: a 2x4096 video of 10 frames (2.6 KB) asked for 160 x
  327680 tiles, a 800 x 655360 sheet that took the worker 9.6 s and 2.7 GB before JPEG
  refused it; its tiles are now 1x640 (0.02 s, 46 MB);
- keyframes are found from packet headers only (a seek when the next time is far ahead,
  else reading on), and each distinct keyframe is decoded once (``skip_frame=NONKEY``, one
  thread: the cheapest CPU per picture) and reused for every tile it covers;
- the decoder skips the deblocking filter (``DECODER_OPTIONS``);
- pictures are scaled and converted to RGB in one swscale step (``reformat``), never
  converted at full size first, by one scaler per picture size for the whole video (PyAV's
  ``frame.reformat`` sets up a new one for every frame), with ``AREA`` interpolation.

Measured (CPU of one process, medians of interleaved runs, the videos of
``bench/archive_cost.py``: ``720p4s`` and ``1080p12s`` are textured, 100-540 KB I-frames, a
keyframe every 2 s; ``render720p4s`` is the local renderer's, 22-31 KB I-frames, one a
second):

- Capping the longer side: for the 720x1280 video the thumbnail's scale + RGB step fell
  from 9.9 to 2.2 ms and its WebP encode (method 0, quality 80) from 17.0 to 5.0 ms (127 to
  28 KB); ``make_previews`` of the 4 s 720p video from 65 to 44 ms. Landscape videos are
  unchanged (1920x1080 already gave 640x360).
- ``skip_loop_filter=all``: decoding the keyframes alone is 7% cheaper for 720p (3
  keyframes 29.5 -> 27.4 ms) and 9% for 1080p (7 keyframes 148 -> 135 ms); whole previews
  of the 12 s 1080p video 160 -> 150 ms (for the 4 s 720p one, ~1 ms, within the noise).
  At preview sizes the pictures differ from the deblocked ones by 42-54 dB PSNR (40-46 dB
  at full size): nothing visible, less than the WebP and JPEG encodes change.
- One scaler per size instead of one per frame, and ``AREA`` instead of the default
  bilinear: ``make_previews`` of ``render720p4s`` 26.9 -> 23.3 ms (bilinear alone 25.0),
  ``1080p12s`` 150.6 -> 142.5 ms, ``720p4s`` 39.1 -> 38.6 (noise). A scaler set up anew
  costs ~0.5 ms more per picture; at tile size ``AREA`` is 0.58 ms against bilinear's 0.88.
  Against a Lanczos downscale of the full picture, ``AREA`` is as close as bilinear or
  closer: thumbnails 30.3-43.2 dB against 30.4-40.1, tiles 29.9-39.5 against 29.5-39.6.
- Not kept: ``flags2=+fast`` (no change: 29.5 / 148.7 ms); ``FAST_BILINEAR`` and ``POINT``
  alias (tiles 19 and 23-28 dB from the Lanczos reference, against 29.5-39.6). H.264 has no
  ``lowres``, ``skip_idct`` leaves I-frames unreconstructed and the ``gray`` flag drops the
  colour; decoding fewer keyframes than the tiles show would break the time grid above.
- What is left (load ~2): ``720p4s`` 39 ms, of which decoding its 2 keyframes 21, scaling
  and keyframe finding 5.6, the WebP thumbnail 6.3 (with its write), the 800x1420 JPEG
  spritesheet (quality 80) 3.9, the rest 2; ``render720p4s`` 23 ms: decoding 4 small
  keyframes 5.5, scaling and finding 7.3, WebP 3.4, JPEG 2.8, opening the file, the sheet's
  canvas and pasting 4.2; ``1080p12s`` 145 ms, of which decoding 6 keyframes 122. Previews
  made here stay above an archive's 15 ms CPU target (bench/README.md, issue 18): even the
  thumbnail alone is 22 ms for ``720p4s`` and 27 ms for ``1080p12s``.

Encoder settings, measured on a 640x1138 thumbnail: WebP ``method`` 0 at quality 80 takes
22 ms (method 4, the former setting, 76 ms; 6, 200 ms) for a 12% larger file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import av
from av.container import InputContainer
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream
from PIL import Image

from vidgate.media.errors import TRANSIENT_ERRNOS, MediaError, MediaUnavailable
from vidgate.media.probe import open_video, stream_duration, stream_rate

PathLike = str | os.PathLike[str]

OPEN_OPTIONS = {"threads": "1", "skip_frame": "nonkey"}
"""``av.open`` options that make its stream analysis decode nothing (see the docstring)."""
DECODER_OPTIONS = {"skip_loop_filter": "all"}
"""Options of the keyframe decoder: no deblocking (see the docstring)."""
SCALER = "AREA"
"""swscale's interpolation for every picture (see the docstring)."""
WEBP = {"quality": 80, "method": 0}
JPEG = {"quality": 80}
ROOM = 64 * 1024 * 1024
"""Memory a making must be able to have for its failure to be blamed on the video: a 4K
picture's decoding takes a few of its 12 MiB frames."""
TILE_TALLEST = 4
"""A tile is at most this many times its nominal width high (see ``_Keyframes.fit``)."""
_SEEK_AHEAD_S = 2.0
"""Keyframes further ahead than this are found by seeking instead of reading on."""


@dataclass(frozen=True)
class _Target:
    """A picture wanted: at ``time`` (seconds from the start), ``size`` big, for ``slot``
    (-1: the thumbnail; else the tile's index)."""

    time: float
    size: tuple[int, int]
    slot: int


def make_previews(
    video: PathLike,
    thumbnail: PathLike | None,
    spritesheet: PathLike | None,
    *,
    max_side: int = 640,
    columns: int = 5,
    rows: int = 5,
    tile_width: int = 160,
) -> dict[str, str]:
    """Write the thumbnail (WebP) and/or the spritesheet (JPEG) of ``video`` from one open;
    return the content type of each written variant."""
    _require_positive(max_side=max_side, columns=columns, rows=rows, tile_width=tile_width)
    try:
        return _make(video, thumbnail, spritesheet, max_side, (columns, rows, tile_width))
    except Exception as exc:  # sorted into the two kinds callers act on
        raise _failure(exc, f"cannot make previews of {os.fspath(video)!r}") from exc


def _failure(exc: Exception, what: str) -> MediaError:
    """``exc`` as one of the two kinds the gateway tells apart (``jobs/previews.py``):
    ``MediaUnavailable``, a failure of the moment, or ``MediaError``, one the same video
    would raise again (it is recorded).

    Of the moment: no memory, and file-system errors (an ``OSError`` with an errno, FFmpeg's
    where the number says nothing about the video). Else the failure is the video's (FFmpeg's
    complaints, a picture it gave none of) or one the same input would raise again (an image
    encoder's error, which carries no errno; a value the code did not expect, named by its
    type so the log shows it) -- unless memory is short right now: FFmpeg reports a buffer
    it could not allocate as invalid data (``avcodec_send_packet``) or drops the picture
    ("get_buffer() failed"), as it does for a corrupt one."""
    if isinstance(exc, MediaUnavailable):
        return exc
    errno = getattr(exc, "errno", None)
    fleeting = isinstance(exc, MemoryError) or (
        errno in TRANSIENT_ERRNOS
        if isinstance(exc, av.FFmpegError)
        else isinstance(exc, OSError) and errno is not None
    )
    if isinstance(exc, MediaError | av.FFmpegError):
        text = f"{what}: {exc}"
    else:
        text = f"{what}: {type(exc).__name__}: {exc}"
    if fleeting or not _memory_to_spare():
        return MediaUnavailable(text)
    return MediaError(text)


def _memory_to_spare() -> bool:
    """Whether ``ROOM`` bytes can be had now: ``bytes`` takes them zeroed from ``calloc``,
    pages never touched (17 us, no resident memory; ``bytearray`` writes all 64 MiB: 42
    ms); a capped address space or strict overcommit refuses them."""
    try:
        bytes(ROOM)
    except MemoryError:
        return False
    return True


def _make(
    video: PathLike,
    thumbnail: PathLike | None,
    spritesheet: PathLike | None,
    max_side: int,
    grid: tuple[int, int, int],
) -> dict[str, str]:
    columns, rows, tile_width = grid
    with open_video(video, OPEN_OPTIONS) as container:
        reader = _Keyframes(container)
        targets, sheet = [], None
        if thumbnail is not None:
            targets.append(_Target(reader.duration_s / 3, reader.within(max_side), -1))
        if spritesheet is not None:
            tiles = min(columns * rows, reader.frame_count)
            size = reader.fit(tile_width)
            sheet = Image.new("RGB", (columns * size[0], math.ceil(tiles / columns) * size[1]))
            targets += [
                _Target((i + 0.5) * reader.duration_s / tiles, size, i) for i in range(tiles)
            ]
        made: dict[str, str] = {}
        for target, image in reader.pictures(sorted(targets, key=lambda t: t.time)):
            if target.slot < 0:
                assert thumbnail is not None
                _save_atomically(image, thumbnail, "WEBP", **WEBP)
                made["thumbnail"] = "image/webp"
            else:
                assert sheet is not None
                row, column = divmod(target.slot, columns)
                sheet.paste(image, (column * target.size[0], row * target.size[1]))
    if sheet is not None and spritesheet is not None:
        _save_atomically(sheet, spritesheet, "JPEG", **JPEG)
        made["spritesheet"] = "image/jpeg"
    return made


def make_thumbnail(video: PathLike, out: PathLike, *, max_side: int = 640) -> str:
    """Write a WebP of the keyframe at or before ~1/3 of the duration, at most ``max_side``
    on its longer side (never upscaled). Returns the content type of the written file."""
    return make_previews(video, out, None, max_side=max_side)["thumbnail"]


def make_spritesheet(
    video: PathLike, out: PathLike, *, columns: int = 5, rows: int = 5, tile_width: int = 160
) -> str:
    """Write a JPEG grid of ``columns * rows`` tiles over the duration, row by row (one per
    frame if the video has fewer, unused trailing rows dropped); each tile is the latest
    keyframe at or before its time. Returns the content type of the written file."""
    made = make_previews(video, None, out, columns=columns, rows=rows, tile_width=tile_width)
    return made["spritesheet"]


class _Keyframes:
    """The keyframes of a container's first video stream, found from packet headers and
    each decoded at most once while the wanted times ascend."""

    def __init__(self, container: InputContainer) -> None:
        self.container = container
        self.stream: VideoStream = container.streams.video[0]
        context = self.stream.codec_context
        context.skip_frame, context.thread_count = "NONKEY", 1
        context.options = dict(DECODER_OPTIONS)  # read when the first decode opens it
        self.width, self.height = context.width, context.height
        fps = stream_rate(self.stream)
        self.duration_s = stream_duration(container, self.stream, fps)
        if self.duration_s <= 0 or not self.stream.time_base or not self.width:
            raise MediaError("the video has no measurable duration or size")
        self.frame_count = max(1, self.stream.frames or round(self.duration_s * float(fps)))
        self._base = self.stream.time_base
        self._start = self.stream.start_time or 0
        self._packets: Iterator[Packet[VideoStream]] | None = None
        self._ahead: Packet[VideoStream] | None = None  # read but beyond the last time asked
        self._key: Packet[VideoStream] | None = None
        self._scalers: dict[tuple[int, int], VideoReformatter] = {}

    def fit(self, width: int) -> tuple[int, int]:
        """A tile's size: ``width`` wide (up- or downscaled), keeping the aspect, unless
        that makes it more than ``TILE_TALLEST`` times as high as wide: then that high."""
        high = self.height * width / self.width
        if high <= TILE_TALLEST * width:
            return width, max(1, round(high))
        high = TILE_TALLEST * width
        return max(1, round(self.width * high / self.height)), high

    def within(self, side: int) -> tuple[int, int]:
        """The video's size scaled down (never up) to at most ``side`` on its longer side,
        keeping the aspect."""
        scale = min(1.0, side / max(self.width, self.height))
        return max(1, round(self.width * scale)), max(1, round(self.height * scale))

    def pictures(self, targets: Sequence[_Target]) -> Iterator[tuple[_Target, Image.Image]]:
        """Each target (ascending times) with its picture: the latest keyframe at or before
        its time, scaled to its size."""
        decoded: tuple[int, VideoFrame] | None = None
        scaled: dict[tuple[int, int], Image.Image] = {}
        for target in targets:
            key = self._key_at(self._start + int(target.time / self._base))
            if decoded is None or decoded[0] != key.pts:
                decoded, scaled = (key.pts or 0, self._decode(key)), {}
            if target.size not in scaled:
                scaled[target.size] = self._scale(decoded[1], target.size)
            yield target, scaled[target.size]

    def _scale(self, frame: VideoFrame, size: tuple[int, int]) -> Image.Image:
        """``frame`` scaled to ``size`` and converted to RGB in one swscale step, by one
        scaler per size for the whole video (its filters are set up once)."""
        scaler = self._scalers.get(size)
        if scaler is None:
            scaler = self._scalers[size] = VideoReformatter()
        rgb = scaler.reformat(
            frame, width=size[0], height=size[1], format="rgb24", interpolation=SCALER
        )
        image: Image.Image = rgb.to_image()  # type: ignore[no-untyped-call]
        return image

    def _key_at(self, when: int) -> Packet[VideoStream]:
        """The packet of the latest keyframe whose time is at or before ``when`` (stream
        time base); the first keyframe after it if there is none before."""
        far = int(_SEEK_AHEAD_S / self._base)
        if (
            self._packets is None
            or self._key is None
            or when < (self._key.pts or 0)
            or (
                self._ahead is not None
                and self._ahead.dts is not None
                and when - self._ahead.dts > far
            )
        ):
            self.container.seek(when, stream=self.stream, backward=True)
            self._packets, self._ahead, self._key = self.container.demux(self.stream), None, None
        while True:
            packet = self._ahead if self._ahead is not None else next(self._packets, None)
            self._ahead = None
            if packet is None or packet.size == 0:  # the end: keep the last keyframe
                break
            if self._key is not None and _after(packet, when):
                self._ahead = packet  # this and every later keyframe show after ``when``
                break
            if packet.is_keyframe:
                self._key = packet
        if self._key is None:
            raise MediaError("the video stream has no keyframe")
        return self._key

    def _decode(self, packet: Packet[VideoStream]) -> VideoFrame:
        """The picture of one keyframe packet (the decoder is drained and reset after it)."""
        context = self.stream.codec_context
        frames = context.decode(packet) or context.decode(None)
        context.flush_buffers()
        if not frames:  # corrupt, or no memory for it (``_failure`` tells which)
            raise MediaError("a keyframe of the video could not be decoded")
        return frames[0]


def _after(packet: Packet[VideoStream], when: int) -> bool:
    """Whether ``packet`` and all that follow it show after ``when``: decoded after it, or a
    keyframe shown after it (a keyframe's successors are shown after it)."""
    if packet.dts is not None and packet.dts > when:
        return True
    return bool(packet.is_keyframe) and (packet.pts or 0) > when


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
