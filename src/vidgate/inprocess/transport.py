"""An httpx transport that hands each request to an ASGI app in the same event loop and
streams the response back, with backpressure.

httpx's own ``ASGITransport`` runs the app to its end and keeps every body chunk in a list
before the client sees a byte: a video download is held whole in memory, and a response that
never ends (the API's server-sent events) never returns. Here the app runs in a task of its
own; the response is handed over as soon as its head is sent, and the body passes through a
channel holding at most ``limit`` bytes, so the app's ``send`` waits while the reader is
behind. Closing the response early tells the app the client went away (``http.disconnect``),
as uvicorn does, and the app's later sends are dropped.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import httpx

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

CHANNEL_LIMIT = 1024 * 1024
"""Bytes of a response body waiting for the reader at most (4 of the content route's
256 KiB chunks)."""


class _Channel:
    """Body chunks from the app to the reader, at most ``limit`` bytes waiting."""

    def __init__(self, limit: int) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._waiting = 0
        self._limit = limit
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._ended = False
        self._error: BaseException | None = None
        self.abandoned = False
        """The reader closed the response: what the app sends from now on is dropped."""

    async def put(self, chunk: bytes) -> None:
        while self._waiting >= self._limit and not self.abandoned:
            self._writable.clear()
            await self._writable.wait()
        if not self.abandoned:
            self._chunks.append(chunk)
            self._waiting += len(chunk)
            self._readable.set()

    @property
    def ended(self) -> bool:
        return self._ended

    def end(self, error: BaseException | None = None) -> None:
        self._ended, self._error = True, error
        self._readable.set()

    def abandon(self) -> None:
        self.abandoned = True
        self._chunks.clear()
        self._waiting = 0
        self._writable.set()

    async def get(self) -> bytes | None:
        """The next chunk; ``None`` at the end; the app's error if it failed mid-body."""
        while not self._chunks:
            if self._ended:
                if self._error is not None:
                    raise self._error
                return None
            self._readable.clear()
            await self._readable.wait()
        chunk = self._chunks.popleft()
        self._waiting -= len(chunk)
        self._writable.set()
        return chunk


class _Exchange:
    """One request to the app: its ASGI ``receive`` and ``send``, and what came back."""

    def __init__(self, body: AsyncIterator[bytes], limit: int) -> None:
        self._body = body
        self._body_done = False
        self.head: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.channel = _Channel(limit)
        self.finished = asyncio.Event()
        """The response was sent whole, or the client went away."""

    async def receive(self) -> Message:
        while not self._body_done:
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                self._body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if chunk:  # an empty body is one message, as uvicorn sends it
                return {"type": "http.request", "body": bytes(chunk), "more_body": True}
        await self.finished.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.channel.abandoned:  # dropped, as uvicorn drops them; but let the app's
            await asyncio.sleep(0)  # disconnect listener run, or a busy stream never ends
            return
        if message["type"] == "http.response.start":
            self.head.set_result(message)
        elif message["type"] == "http.response.body":
            chunk = bytes(message.get("body", b""))
            if chunk:
                await self.channel.put(chunk)
            if not message.get("more_body", False):
                self.channel.end()
                self.finished.set()

    def app_ended(self, task: asyncio.Task[None]) -> None:
        """The app returned or raised: a missing head or body end becomes an error."""
        error = None if task.cancelled() else task.exception()
        if not self.head.done():
            problem = error or RuntimeError("the app returned without sending a response")
            self.head.set_exception(problem)
        elif not (self.channel.ended or self.channel.abandoned):
            self.channel.end(error or httpx.RemoteProtocolError("the app ended mid-response"))
        self.finished.set()


class _ResponseBody(httpx.AsyncByteStream):
    """A response body read from the app as it sends it."""

    def __init__(self, exchange: _Exchange, task: asyncio.Task[None]) -> None:
        self._exchange = exchange
        self._task = task

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self._exchange.channel.get()) is not None:
            yield chunk

    async def aclose(self) -> None:
        """Closed before the body ended: the app sees the client leave, and is waited for
        (as a server's connection, which is not reused while its app still sends)."""
        if self._task.done() or self._exchange.channel.ended:
            return
        self._exchange.channel.abandon()
        self._exchange.finished.set()
        await asyncio.wait({self._task})


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Sends requests to ``app`` in the running event loop; responses stream (see above)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        client: tuple[str, int] = ("127.0.0.1", 0),
        limit: int = CHANNEL_LIMIT,
        running: Callable[[], bool] = lambda: True,
    ) -> None:
        self.app = app
        self.client = client
        self.limit = limit
        self.running = running
        """Whether the app is started (its lifespan entered, not left): else no request
        reaches it, and the client gets a connection error."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.running():
            raise httpx.ConnectError(
                "the in-process vidgate gateway is not running", request=request
            )
        exchange = _Exchange(request_body(request.stream), self.limit)
        task = asyncio.create_task(_run(self.app, scope(request, self.client), exchange))
        task.add_done_callback(exchange.app_ended)
        try:
            head = await asyncio.shield(exchange.head)
        except BaseException:
            if not task.done():
                exchange.channel.abandon()
                exchange.finished.set()
                task.cancel()
            raise
        return httpx.Response(
            head["status"],
            headers=[(bytes(k), bytes(v)) for k, v in head.get("headers", [])],
            stream=_ResponseBody(exchange, task),
        )


async def _run(app: ASGIApp, scope: Message, exchange: _Exchange) -> None:
    await app(scope, exchange.receive, exchange.send)


def scope(request: httpx.Request, client: tuple[str, int]) -> Message:
    """The ASGI scope of ``request``, as uvicorn would build it (ASGI spec 2.3)."""
    url = request.url
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
        "scheme": url.scheme,
        "path": url.path,
        "raw_path": url.raw_path.split(b"?")[0],
        "query_string": url.query,
        "root_path": "",
        "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
        "client": client,
        "state": {},
    }


async def request_body(
    stream: httpx.AsyncByteStream | httpx.SyncByteStream,
) -> AsyncIterator[bytes]:
    """A request's body as async chunks; a sync-only stream (a generator the caller passed)
    is read in a worker thread, never in the event loop."""
    if isinstance(stream, httpx.AsyncByteStream):
        async for chunk in stream:
            yield chunk
        return
    chunks = iter(stream)
    while True:
        piece: bytes | None = await asyncio.to_thread(_next_chunk, chunks)
        if piece is None:
            return
        yield piece


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)
