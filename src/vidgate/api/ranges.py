"""Decides what a ``Range`` header asks of a stored asset, before any store serves it.

Starlette's ``FileResponse`` answers a malformed or unsatisfiable ``Range`` in plain text,
and the S3 path had its own reading; the gateway answers only in the OpenAI envelope, and
the same request should get the same answer whatever the store. So the header is read here
once, by RFC 9110 §14: a header that is malformed, names another unit or asks for several
ranges is ignored (the whole asset, 200 — a server may always ignore ``Range``); one whose
ranges all start past the end is unsatisfiable (416 with ``Content-Range: bytes */<size>``);
otherwise the one range, clipped to the asset, is served (206). Several ranges are ignored
rather than sent as ``multipart/byteranges``: no video player asks for them, and the S3
path can only stream one.
"""

from __future__ import annotations

import re

from vidgate.errors import RangeNotSatisfiable

_SPEC = re.compile(r"([0-9]*)-([0-9]*)")  # DIGIT in RFC 9110 is ASCII
_BIG = 10**18
"""Stands for any position with more digits than a size can have (no int() of 10k digits)."""


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte range ``header`` asks of ``size`` bytes, or
    ``None`` to send everything; raises ``RangeNotSatisfiable`` when nothing of it exists."""
    if header is None:
        return None
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = [part.strip() for part in specs.split(",") if part.strip()]
    if len(parts) != 1:
        return None  # nothing asked, or several ranges: ignored
    match = _SPEC.fullmatch(parts[0])
    if match is None or match.group(0) == "-":
        return None
    first, last = (_position(group) for group in match.groups())
    if first is None:  # a suffix: the last ``last`` bytes
        assert last is not None
        if last == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - last), size - 1
    if last is not None and last < first:
        return None  # invalid: the header is ignored
    if first >= size:
        raise _unsatisfiable(size)
    return first, size - 1 if last is None else min(last, size - 1)


def _position(digits: str) -> int | None:
    if not digits:
        return None
    return int(digits) if len(digits) <= 18 else _BIG


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The requested range is not satisfiable: the content is {size} bytes long.",
        param="Range",
        headers={"Content-Range": f"bytes */{size}"},
    )
