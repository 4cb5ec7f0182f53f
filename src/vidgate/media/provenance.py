"""Whether an MP4 carries a C2PA manifest (Content Credentials), read from box headers only.

Generated videos may carry a C2PA manifest store; vidgate archives and serves their bytes
unchanged (re-muxing would destroy it) and reports on the Video object whether one is there.
In ISO BMFF files the store lives in a top-level ``uuid`` box whose extended type is the
C2PA UUID: version and flags, a NUL-terminated purpose (``manifest``; ``merkle`` boxes hold
hashes, not a store), for ``manifest`` a 64-bit merkle offset, then the JUMBF manifest
store: a ``jumb`` superbox whose first child, the ``jumd`` description box, has the C2PA
store type UUID and the label ``c2pa``.

The walk reads each top-level box header and seeks past its payload, so it costs a few
small reads whatever the file's size (the archive runs it for every job). Only a C2PA
``uuid`` box's first bytes are read. Truncated or malformed files are "no manifest", never
an exception; the signature is not verified (that needs the C2PA SDK and trust lists).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
"""The extended type of the ``uuid`` box holding C2PA data in ISO BMFF."""
C2PA_STORE_TYPE = bytes.fromhex("6332706100110010800000aa00389b71")
"""The JUMBF type of a C2PA manifest store (``c2pa`` + the ISO suffix)."""
MAX_BOXES = 10_000
"""Top-level boxes walked at most (a fragmented MP4 has two per fragment)."""
_HEAD = 256
"""Bytes of a C2PA ``uuid`` box read to check its store (purpose and JUMBF headers)."""
_LABEL_TOGGLE = 0x02


@dataclass(frozen=True)
class Box:
    """A box header: ``kind`` its four-character type, ``start`` its offset, ``header`` the
    bytes before its payload, ``size`` its whole length."""

    kind: bytes
    start: int
    header: int
    size: int


def has_c2pa_manifest(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` has a top-level C2PA manifest store (``False`` if it
    cannot be read)."""
    try:
        with open(path, "rb") as handle:
            return c2pa_manifest_in(handle, os.fstat(handle.fileno()).st_size)
    except OSError:
        return False


def c2pa_manifest_in(handle: BinaryIO, length: int) -> bool:
    """Whether the ``length`` bytes of ``handle`` hold a top-level C2PA manifest store."""
    return any(c2pa_box(handle, box) for box in top_level_boxes(handle, length))


def c2pa_box(handle: BinaryIO, box: Box) -> bool:
    """Whether ``box`` (a top-level box of ``handle``) is a C2PA manifest store."""
    if box.kind != b"uuid" or box.size - box.header < 16:
        return False
    handle.seek(box.start + box.header)
    head = handle.read(min(box.size - box.header, _HEAD))
    return head[:16] == C2PA_UUID and _holds_store(head[16:], box.size - box.header - 16)


def top_level_boxes(handle: BinaryIO, length: int) -> Iterator[Box]:
    """The top-level boxes of the first ``length`` bytes, in order, stopping at the first
    header that is cut off or claims more than is there (nothing after it is trusted)."""
    start = 0
    for _ in range(MAX_BOXES):
        handle.seek(start)
        box = _header(handle.read(16), start, length)
        if box is None:
            return
        yield box
        start += box.size


def _header(raw: bytes, start: int, length: int) -> Box | None:
    """The box whose header begins ``raw`` (read at ``start``), or ``None`` if there is none
    whole within ``length``."""
    if len(raw) < 8 or start + 8 > length:
        return None
    size, kind = struct.unpack(">I4s", raw[:8])
    header = 8
    if size == 1:  # a 64-bit largesize follows the type
        if len(raw) < 16:
            return None
        (size,) = struct.unpack(">Q", raw[8:16])
        header = 16
    elif size == 0:  # the box runs to the end of the file
        size = length - start
    if size < header or start + size > length:
        return None
    return Box(kind, start, header, size)


def _holds_store(body: bytes, room: int) -> bool:
    """Whether a C2PA ``uuid`` box's payload after its extended type (``body``, its first
    bytes; ``room`` its whole length) starts a manifest store."""
    if len(body) < 5 or body[0] != 0:  # version 0, then three bytes of flags
        return False
    end = body.find(b"\0", 4)
    if end < 0 or body[4:end] in (b"", b"merkle"):
        return False
    after = end + 1
    # a ``manifest`` box has a 64-bit merkle offset before the store; for the purposes of
    # later versions (``original``, ``update``) both layouts are tried
    starts = (after + 8,) if body[4:end] == b"manifest" else (after, after + 8)
    return any(_is_store(body[at:], room - at) for at in starts)


def _is_store(data: bytes, room: int) -> bool:
    """Whether ``data`` (the first bytes of ``room``) begins a JUMBF ``jumb`` superbox whose
    ``jumd`` description box names a C2PA manifest store."""
    outer = _header(data, 0, room)
    if outer is None or outer.kind != b"jumb":
        return False
    inner = _header(data[outer.header :], 0, outer.size - outer.header)
    if inner is None or inner.kind != b"jumd":
        return False
    description = data[outer.header + inner.header : outer.header + inner.size]
    if len(description) < 17 or description[:16] != C2PA_STORE_TYPE:
        return False
    if not description[16] & _LABEL_TOGGLE:
        return False
    return description[17:].split(b"\0", 1)[0] == b"c2pa" and b"\0" in description[17:]
