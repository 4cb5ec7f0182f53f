"""The request-size limit, enforced on the bytes as they arrive rather than on a header.

A ``Content-Length`` check alone is bypassed by ``Transfer-Encoding: chunked``: a client
could stream hundreds of megabytes into a multipart upload or a JSON body. This middleware
wraps every request's ``receive`` and counts body bytes; once ``limit`` is passed it raises
``PayloadTooLarge`` inside whatever is reading (the form parser, ``read_fields``), which
closes the parser's spooled files and becomes the 413 envelope (with ``Connection: close``,
so the server stops reading the rest). A declared length over the limit is refused before
any byte is read. Pure ASGI, so the fast paths and streaming responses are untouched.

Starlette 1.10's ``RequestBodyLimitMiddleware`` does the counting too, but answers plain text
("Content Too Large") on two of its paths and checks a declared length only once the route
reads or answers; every gateway error is the OpenAI envelope, refused before any work.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate.api.errors import error_response
from vidgate.errors import PayloadTooLarge


class BodyLimit:
    """ASGI middleware: at most ``limit`` body bytes per request."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared(scope) > self.limit:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    @staticmethod
    def _declared(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise self.error()
            return message

        return counted

    def error(self) -> PayloadTooLarge:
        return too_large("request body", self.limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(self.error())(scope, receive, send)


def too_large(what: str, limit: int) -> PayloadTooLarge:
    """The 413 for a body over ``limit``; it closes the connection (the rest goes unread)."""
    return PayloadTooLarge(
        f"The {what} is over the {limit} byte limit.", headers={"Connection": "close"}
    )
