"""A NUL character in the URL path or query is a 400, before any route looks it up.

Why: ids, cursors and filters from the URL go straight into SQL, and PostgreSQL refuses text
with a NUL (``invalid byte sequence for encoding "UTF8": 0x00``): ``GET /v1/videos/%00`` or
``/spend/logs?model=a%00b`` answered 500 there, and dropped the connection. JSON bodies get
the same rule in ``safe_json.py``; this is the URL's side, in one place for every route.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from vidgate.api.errors import error_response
from vidgate.errors import InvalidRequest


class UrlTextGuard:
    """ASGI middleware: refuses a request whose decoded path or query holds a NUL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = nul_problem(scope["path"], scope.get("query_string", b""))
            if problem is not None:
                await error_response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def nul_problem(path: str, query: bytes) -> InvalidRequest | None:
    """Why ``path`` (decoded) or ``query`` (raw) cannot be served, or ``None``."""
    if "\x00" in path:
        return InvalidRequest("The URL path contains a NUL character (%00).", code="invalid_value")
    if b"%00" not in query and b"\x00" not in query:  # the common case: nothing to decode
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            param = name.replace("\x00", "%00")
            return InvalidRequest(
                f"Invalid value for '{param}': text without NUL characters (%00).",
                param=param,
                code="invalid_value",
            )
    return None
