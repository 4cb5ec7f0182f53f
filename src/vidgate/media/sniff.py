"""What a file really is, from its first bytes: clients and servers often say octet-stream.

One leaf for every layer that takes bytes from outside — uploads (``api/body.py``) and
fetched image URLs (``routing/imagefetch.py``) — so both accept the same types.
"""

from __future__ import annotations

HEAD_BYTES = 12
"""Enough of a file's start to tell every type below apart."""
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)


def sniff(head: bytes) -> str | None:
    """The real type of an image (or an MP4) from its first bytes, or ``None``."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for magic, ctype in _MAGIC:
        if head.startswith(magic):
            return ctype
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return None
