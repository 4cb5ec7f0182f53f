"""Small pure helpers every HTTP adapter needs for reading upstream replies."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime


def retry_after_s(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``Retry-After`` (or ``retry-after-ms``) in seconds; delta-seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


GRPC_CODE_NAMES = {
    1: "cancelled",
    2: "unknown",
    3: "invalid_argument",
    4: "deadline_exceeded",
    5: "not_found",
    6: "already_exists",
    7: "permission_denied",
    8: "resource_exhausted",
    9: "failed_precondition",
    10: "aborted",
    11: "out_of_range",
    12: "unimplemented",
    13: "internal",
    14: "unavailable",
    15: "data_loss",
    16: "unauthenticated",
}
"""gRPC status codes by number (``google.rpc.Code``), as error codes for clients."""


def is_int_text(text: str | None) -> bool:
    """Digits ``int()`` takes: ASCII only ("²" is a digit to ``isdigit``), and not too many."""
    return text is not None and text.isascii() and text.isdigit() and 0 < len(text) <= 18
