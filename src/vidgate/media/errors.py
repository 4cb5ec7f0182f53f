"""``MediaError`` apart from the code that raises it: the gateway process catches it (a video
the media worker cannot read) without importing PyAV, which only the workers load
(``media/pool.py``: FFmpeg's libraries add ~20 MiB to a process's resident memory)."""

from __future__ import annotations


class MediaError(ValueError):
    """The file is missing, unreadable, or not a video."""
