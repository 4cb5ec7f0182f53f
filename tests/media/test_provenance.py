"""The C2PA box walker alone: real and synthetic MP4s with a C2PA ``uuid`` box, 64-bit and
to-end-of-file sizes, truncation at every byte, malformed and look-alike boxes, and what a
check of a large file reads."""

from __future__ import annotations

import io
import random
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from vidgate.media.probe import probe
from vidgate.media.provenance import (
    C2PA_STORE_TYPE,
    C2PA_UUID,
    c2pa_manifest_in,
    has_c2pa_manifest,
    top_level_boxes,
)
from vidgate.providers.simkit import mp4_bytes


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def large_box(kind: bytes, payload: bytes) -> bytes:
    """The 64-bit form: size 1, the type, then the whole length as ``largesize``."""
    return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload


def to_end_box(kind: bytes, payload: bytes) -> bytes:
    """Size 0: the box runs to the end of the file (only valid last)."""
    return struct.pack(">I4s", 0, kind) + payload


def store(
    label: bytes = b"c2pa", kind: bytes = C2PA_STORE_TYPE, toggles: int = 0x03, first: bool = True
) -> bytes:
    """A small JUMBF manifest store: ``jumb`` { ``jumd`` (type, toggles, label), a manifest
    superbox with a JSON content box } — well-formed, not signed."""
    description = box(b"jumd", kind + bytes([toggles]) + label + b"\0")
    claim = box(b"json", b'{"claim_generator":"vidgate-test/1","title":"sample.mp4"}')
    manifest_description = box(
        b"jumd",
        bytes.fromhex("63326d6100110010800000aa00389b71") + b"\x03urn:uuid:test-manifest\0",
    )
    manifest = box(b"jumb", manifest_description + claim)
    children = description + manifest if first else manifest + description
    return box(b"jumb", children)


def c2pa_payload(
    data: bytes | None = None, purpose: bytes = b"manifest", uuid: bytes = C2PA_UUID
) -> bytes:
    body = store() if data is None else data
    merkle_offset = struct.pack(">Q", 0) if purpose == b"manifest" else b""
    return uuid + b"\0\0\0\0" + purpose + b"\0" + merkle_offset + body


def c2pa_box(**kwargs: Any) -> bytes:
    return box(b"uuid", c2pa_payload(**kwargs))


FTYP = box(b"ftyp", b"isom\0\0\2\0isomiso2avc1mp41")
MDAT = box(b"mdat", bytes(range(256)) * 4)
MOOV = box(b"moov", box(b"mvhd", bytes(100)))


def found(data: bytes) -> bool:
    return c2pa_manifest_in(io.BytesIO(data), len(data))


@pytest.fixture(scope="module")
def real_mp4() -> bytes:
    return mp4_bytes(320, 180, 1)


def test_a_real_mp4_with_a_box_appended_after_the_last_one(real_mp4: bytes, tmp_path: Path) -> None:
    plain = tmp_path / "plain.mp4"
    plain.write_bytes(real_mp4)
    signed = tmp_path / "signed.mp4"
    signed.write_bytes(real_mp4 + c2pa_box())
    assert not has_c2pa_manifest(plain)
    assert has_c2pa_manifest(signed)
    kinds = [
        b.kind for b in top_level_boxes(io.BytesIO(signed.read_bytes()), signed.stat().st_size)
    ]
    assert kinds[-1] == b"uuid" and b"moov" in kinds and b"mdat" in kinds
    assert probe(signed) == probe(plain)  # appending moves no offset: still the same video
    assert not has_c2pa_manifest(tmp_path / "missing.mp4")


@pytest.mark.parametrize(
    "layout",
    [
        [FTYP, c2pa_box(), MOOV, MDAT],  # where encoders put it: after ftyp, before moov
        [FTYP, MOOV, MDAT, c2pa_box()],
        [FTYP, large_box(b"mdat", MDAT[8:]), MOOV, c2pa_box()],  # a 64-bit box before it
        [FTYP, MOOV, large_box(b"uuid", c2pa_payload())],  # the box itself in 64-bit form
        [FTYP, MOOV, MDAT, to_end_box(b"uuid", c2pa_payload())],  # size 0: to end of file
        [FTYP, MOOV, c2pa_box(purpose=b"merkle", data=b""), c2pa_box()],  # merkle box first
        [FTYP, MOOV, c2pa_box(purpose=b"update")],  # a later purpose, no merkle offset
    ],
)
def test_manifest_found(layout: list[bytes]) -> None:
    assert found(b"".join(layout))


@pytest.mark.parametrize(
    "layout",
    [
        [FTYP, MOOV, MDAT],
        [FTYP, MOOV, c2pa_box(purpose=b"merkle", data=store())],  # hashes, not a store
        [FTYP, MOOV, c2pa_box(uuid=bytes(16))],  # another uuid box with the same content
        [FTYP, MOOV, box(b"free", c2pa_payload())],  # not a uuid box
        [FTYP, box(b"moov", c2pa_box()), MDAT],  # nested, not top-level
        [FTYP, to_end_box(b"mdat", MDAT[8:] + c2pa_box())],  # inside an mdat that runs to end
        [FTYP, MOOV, c2pa_box(data=store(label=b"c2pb"))],
        [FTYP, MOOV, c2pa_box(data=store(label=b"c2pa_extra"))],
        [FTYP, MOOV, c2pa_box(data=store(kind=bytes(16)))],  # the label without the type
        [FTYP, MOOV, c2pa_box(data=store(toggles=0x01))],  # label present bit unset
        [FTYP, MOOV, c2pa_box(data=store(first=False))],  # jumd is not the first child
        [FTYP, MOOV, c2pa_box(data=box(b"jumx", store()[8:]))],
        [FTYP, MOOV, c2pa_box(data=b"")],
        [FTYP, MOOV, box(b"uuid", C2PA_UUID + b"\1\0\0\0manifest\0" + bytes(8) + store())],
        [FTYP, MOOV, box(b"uuid", C2PA_UUID + b"\0\0\0\0manifest" + bytes(300))],  # no NUL
        [FTYP, MOOV, box(b"uuid", C2PA_UUID[:10])],
    ],
)
def test_no_manifest(layout: list[bytes]) -> None:
    assert not found(b"".join(layout))


def test_a_jumb_claiming_more_than_its_box_holds_is_not_a_store() -> None:
    inner = store()
    too_long = struct.pack(">I", len(inner) + 100) + inner[4:]
    assert not found(FTYP + MOOV + c2pa_box(data=too_long))
    jumd_too_long = inner[:8] + struct.pack(">I", 10_000) + inner[12:]
    assert not found(FTYP + MOOV + c2pa_box(data=jumd_too_long))


def test_truncation_anywhere_is_no_manifest_and_never_raises() -> None:
    whole = FTYP + MOOV + MDAT + c2pa_box()
    assert found(whole)
    for cut in range(len(whole)):
        assert not found(whole[:cut]), cut  # the C2PA box is last: any cut breaks it
    early = FTYP + c2pa_box() + MOOV + MDAT
    boundary = len(FTYP) + len(c2pa_box())
    for cut in range(len(early)):
        assert found(early[:cut]) == (cut >= boundary), cut  # a whole box before the cut


@pytest.mark.parametrize(
    "header",
    [
        struct.pack(">I4s", 4, b"free"),  # smaller than its own header
        struct.pack(">I4sQ", 1, b"free", 8),  # largesize smaller than its header
        struct.pack(">I4sQ", 1, b"free", 1 << 62),  # far past the end of the file
        struct.pack(">I4s", 0xFFFFFFFF, b"mdat"),
    ],
)
def test_a_malformed_box_ends_the_walk(header: bytes) -> None:
    data = FTYP + header + c2pa_box()
    kinds = [b.kind for b in top_level_boxes(io.BytesIO(data), len(data))]
    assert kinds == [b"ftyp"]
    assert not found(data)


def test_random_bytes_never_raise() -> None:
    rng = random.Random(17)
    pieces = [FTYP, MOOV, MDAT, c2pa_box(), struct.pack(">I", 1), struct.pack(">I", 0)]
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 5)))
        cut = rng.randint(0, len(data))
        noise = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
        found(data[:cut] + noise)
        found(noise + data)


class CountingReader(io.FileIO):
    """Counts the reads and bytes a check makes."""

    reads = 0
    bytes_read = 0

    def read(self, size: int = -1, /) -> bytes:
        data = super().read(size)
        CountingReader.reads += 1
        CountingReader.bytes_read += len(data)
        return data


def test_a_huge_file_costs_a_few_small_reads(tmp_path: Path) -> None:
    """A sparse 6 GB file: ftyp, moov, a 64-bit mdat, then the C2PA box past 4 GiB."""
    path = tmp_path / "huge.mp4"
    mdat_payload = 6 * 1024**3
    with path.open("wb") as handle:
        handle.write(FTYP + MOOV + struct.pack(">I4sQ", 1, b"mdat", 16 + mdat_payload))
        handle.seek(mdat_payload, io.SEEK_CUR)
        handle.write(c2pa_box())
    size = path.stat().st_size
    with CountingReader(path) as handle:
        assert c2pa_manifest_in(handle, size)  # type: ignore[arg-type]
    assert CountingReader.reads <= 6 and CountingReader.bytes_read <= 16 * 4 + 256

    best = min(_timed(path) for _ in range(20))  # shown, not asserted: the reads above are
    print(f"\nC2PA check of a {size / 1024**3:.1f} GiB file: {best * 1e6:.0f} µs")


def _timed(path: Path) -> float:
    start = time.perf_counter()
    assert has_c2pa_manifest(path)
    return time.perf_counter() - start
