"""``MediaError`` apart from the code that raises it: the gateway process catches it (a video
the media worker cannot read) without importing PyAV, which only the workers load
(``media/pool.py``: FFmpeg's libraries add ~20 MiB to a process's resident memory)."""

from __future__ import annotations

import errno


class MediaError(ValueError):
    """The file is missing, unreadable, or not a video."""


class MediaUnavailable(MediaError):
    """The file could not be read for a reason of the moment (no file descriptor or memory
    left, an I/O error, the file missing): trying again later may work, so nobody should
    record the video as unreadable."""


class WorkerLost(MediaUnavailable):
    """The media worker process died during the call (killed, out of memory, crashed); its
    pool was replaced (``media/pool.py``)."""


TRANSIENT_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EIO, errno.ENOENT})
"""``OSError`` numbers that say nothing about the video itself."""
