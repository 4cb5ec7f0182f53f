"""What the pure adapter tests (``tests/providers/*/test_adapter.py``) share."""

from __future__ import annotations

from typing import Any

import httpx

from vidgate.providers.base import HttpReply


def reply(status: int, body: Any, **headers: str) -> HttpReply:
    """An upstream reply as the gateway hands it to an adapter (headers case-insensitive);
    headers with dashes are given as ``**{"retry-after": "7"}``."""
    return HttpReply(status, httpx.Headers(headers), body)
