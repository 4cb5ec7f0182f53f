"""An MP4's facts from one walk of its box headers: the probe and the C2PA check together.

Every archived video is probed (duration, size, frame rate, codec, audio) and checked for a
C2PA manifest. FFmpeg's probe (``av.open``) decodes frames to analyse the streams: measured
40 ms CPU for a 4 s 720x1280 H.264 file and 87 ms for 12 s of 1080p, in a worker process,
plus the round trip. The answers are all in the ``moov`` box of an MP4/MOV, so this module
reads the top-level box headers once (``provenance.top_level_boxes``), checks each C2PA
``uuid`` box on the way, and parses ``moov`` (``mvhd`` is not needed; per track ``hdlr``,
``mdhd``, ``stsd`` and ``stts``): a few small reads, ~0.1 ms. Values match ``probe`` (the
test compares them): the frame rate is samples x timescale / the sum of ``stts`` deltas, as
FFmpeg's ``avg_frame_rate``, and the duration samples / rate.

No third-party MP4 parser is used: the ones on PyPI (pymp4, construct-based) cost more than
the whole walk and parse the sample tables in full. Anything unusual — not ISO BMFF, a
fragmented file (``mvex``: the samples are in the fragments), no video track, a codec not
in ``CODECS``, a ``moov`` over ``MAX_MOOV`` — gives ``info=None``, and the caller falls back
to FFmpeg's probe in the media worker.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from vidgate.media.provenance import c2pa_box, top_level_boxes

MAX_MOOV = 16 << 20
"""The largest ``moov`` parsed here (an hour at 60 fps is ~3 MB of sample tables)."""
CODECS = {
    b"avc1": "h264",
    b"avc3": "h264",
    b"hvc1": "hevc",
    b"hev1": "hevc",
    b"av01": "av1",
    b"vp09": "vp9",
    b"mp4v": "mpeg4",
}
"""Sample entry types and FFmpeg's codec names for them."""


@dataclass(frozen=True)
class Header:
    """What the box walk found: ``info`` as ``pool.probe_dict`` gives it (``None``: ask
    FFmpeg), ``c2pa`` whether a manifest store is there."""

    info: dict[str, Any] | None
    c2pa: bool


def read_header(path: str | os.PathLike[str]) -> Header:
    """The probe facts and C2PA presence of the file at ``path`` (blocking: a few reads)."""
    try:
        with open(path, "rb") as handle:
            return header_of(handle, os.fstat(handle.fileno()).st_size)
    except OSError:
        return Header(None, False)


def header_of(handle: BinaryIO, length: int) -> Header:
    info, c2pa, moov, brand = None, False, None, False
    for box in top_level_boxes(handle, length):
        brand = brand or box.kind == b"ftyp"
        if box.kind == b"uuid":
            c2pa = c2pa or c2pa_box(handle, box)
        elif box.kind == b"moov" and moov is None and box.size - box.header <= MAX_MOOV:
            handle.seek(box.start + box.header)
            moov = handle.read(box.size - box.header)
    if brand and moov is not None:
        try:
            info = parse_moov(moov)
        except (struct.error, ValueError, IndexError, ZeroDivisionError):
            info = None
    return Header(info, c2pa)


def parse_moov(moov: bytes) -> dict[str, Any] | None:
    """The probe facts from a ``moov`` payload; ``None`` where FFmpeg should be asked."""
    children = dict(_boxes(moov))
    if b"mvex" in children:  # fragmented: the samples are in the fragments
        return None
    video: dict[str, Any] | None = None
    has_audio = False
    for kind, body in _boxes(moov):
        if kind != b"trak":
            continue
        track = _track(body)
        if track is None:
            continue
        if track["handler"] == b"soun":
            has_audio = True
        elif track["handler"] == b"vide" and video is None:
            video = track
    if video is None or video["codec"] is None or not video["samples"]:
        return None
    rate = video["samples"] * video["timescale"] / video["ticks"]
    return {
        "duration_seconds": round(video["samples"] / rate, 3),
        "width": video["width"],
        "height": video["height"],
        "fps": round(rate, 3),
        "codec": video["codec"],
        "has_audio": has_audio,
    }


def _track(trak: bytes) -> dict[str, Any] | None:
    mdia = _child(trak, b"mdia")
    if mdia is None:
        return None
    hdlr, mdhd = _child(mdia, b"hdlr"), _child(mdia, b"mdhd")
    stbl = _path(mdia, b"minf", b"stbl")
    if hdlr is None or mdhd is None or stbl is None or len(hdlr) < 12:
        return None
    handler = hdlr[8:12]
    if handler != b"vide":
        return {"handler": handler}
    timescale = struct.unpack_from(">I", mdhd, 20 if mdhd[0] == 1 else 12)[0]
    stsd, stts = _child(stbl, b"stsd"), _child(stbl, b"stts")
    if stsd is None or stts is None or not timescale:
        return None
    entry = stsd[8:]  # version/flags, entry count, then the first sample entry
    codec = CODECS.get(entry[4:8])
    width, height = struct.unpack_from(">HH", entry, 32)
    (count,) = struct.unpack_from(">I", stts, 4)
    samples = ticks = 0
    for index in range(count):
        number, delta = struct.unpack_from(">II", stts, 8 + 8 * index)
        samples += number
        ticks += number * delta
    if not ticks or not width or not height:
        return None
    return {
        "handler": handler,
        "codec": codec,
        "timescale": timescale,
        "samples": samples,
        "ticks": ticks,
        "width": width,
        "height": height,
    }


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The child boxes of a container box's payload, as (type, payload)."""
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, at + 8)
            header = 16
        elif size == 0:
            size = len(data) - at
        if size < header or at + size > len(data):
            raise ValueError("a box runs past its parent")
        yield kind, data[at + header : at + size]
        at += size


def _child(data: bytes, kind: bytes) -> bytes | None:
    return next((body for found, body in _boxes(data) if found == kind), None)


def _path(data: bytes | None, *kinds: bytes) -> bytes | None:
    for kind in kinds:
        if data is None:
            return None
        data = _child(data, kind)
    return data
