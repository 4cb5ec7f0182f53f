"""The HTTP server vidgate runs under: uvicorn's configuration in one place (the CLI and the
tests both build theirs here, so tests exercise what users run), plus the connection
timeouts uvicorn lacks.

uvicorn 0.54 closes idle keep-alive connections (``timeout_keep_alive``) and nothing else: a
client that connects and never finishes its request headers, or stops sending a body it
announced, holds its connection — a file descriptor and a parser — for ever (measured: none
of 1,050 such connections closed in 60 s). ``GuardedHttpTools`` is uvicorn's httptools
protocol with one timer per connection:

- headers: from the connection's opening (or the first byte of a later request on it) the
  request line and headers must be complete within ``header_timeout_s``;
- body: once the headers are in, ``body_idle_timeout_s`` may pass between two pieces of the
  body at most.

A late client gets a 408 in the OpenAI envelope (with ``Connection: close``) when a response
can still be sent — its request had begun and no response to it has started — and the
connection is closed either way. Time in which the server itself is not reading (flow
control paused, or a ``100 Continue`` not yet sent) is never held against the client.

After a 408 the connection closes lingering (RFC 9112 §9.6): the server half-closes and
reads and discards what the client still sends, until the client closes or ``LINGER_S``
passes. Closing outright while a client is still sending makes the kernel answer its next
bytes with a TCP reset, which can destroy the 408 before the client has read it (seen with
a client trickling its headers on a busy machine: ``ECONNRESET`` instead of the envelope).

Files are sent with ``sendfile(2)``: the protocol offers the ASGI ``http.response.pathsend``
extension on plain-TCP connections (and ``vidgate.pathsend.offset``, a pathsend that starts
at an ``offset``, for ranges), and a response that sends a path (the content route's
answers, Starlette's ``FileResponse``) is written by the kernel from the page cache to the
socket, with no copy through Python, no read in a thread and no chunking
(``PathsendCycle``). Measured on one pinned core with a 1.85 MB video (bench/serve_paths.py,
docs/design.md "Serving files"): 1.1-2.6 ms of CPU per download, against 4.3-8.5 ms with
Starlette's ``FileResponse`` (a thread hop per 256 KiB chunk) and 3.7-7.3 ms for the
simulator alone. When the socket is full, one chunk goes through the transport instead and
its drain is the wait for room, so memory stays one chunk per download.

The server is uvicorn rather than granian, which offers ``pathsend`` itself: measured in the
same runs, granian 2.8.9 served retrieves for about the same CPU and downloads for more
(2.7-4.0 ms), and it has a header-read timeout but no body idle timeout, no 408 in the
envelope and no lingering close — the protections above would be lost for no gain.

Once the app has started, ``vidgate serve`` freezes what start-up built and raises the
collector's first threshold (``settle_gc``). With Python's default (700 allocations) and
10,000 running jobs (1,000 polls/s, bench/poll10k.py), the collector took 30% of the
process's CPU (126 ms per second, thread CPU inside the collections): each claim starts
dozens of polls at once, every poll keeps ~40 containers alive for the tens of
milliseconds it is in flight, so young collections (75 a second) found them alive and
promoted them, and a full collection over every object (about 200,000, start-up's included)
ran every 1.6 s for 140-220 ms — the event loop stood still meanwhile (``GET /health`` p99
144-163 ms). Measured in one process, alternating the setting every 10 s: threshold
700/2,000/5,000/10,000/20,000 (frozen start-up) cost 64/45/13/0/0 ms of collection per
second; at 10,000 a poll's objects are freed by reference counting before any collection
looks at them. Start-up's objects (modules, classes, the config) are frozen so that a full
collection, when one comes, walks only what serving built since. Frozen objects are
never collected: of the config objects a ``SIGHUP`` reload replaces, those in reference
cycles stay in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from vidgate.errors import RequestTimeout
from vidgate.settings import GatewaySettings
from vidgate.storage.local import CHUNK, cached, read_at

PATHSEND = "http.response.pathsend"
SENDFILE_PIECE = 1 << 20
"""Before each ``sendfile(2)`` the next this-many bytes are checked to be in the page cache
(their first and last byte): the file side of ``sendfile`` blocks on a disk read, which on
the event loop would stop every request, so a cold file goes by the chunk path (read in a
thread, which also brings it into the cache). One call sends at most what the socket's
buffer takes, a few MiB at most, so pages past the checked ones can still be read by it."""
JOIN_LIMIT = 64 * 1024
"""A body up to this size goes out in one write with its response's head (a copy of both)."""
FROM_OFFSET = "vidgate.pathsend.offset"
"""This server's own extension: a pathsend message may carry ``offset``, where the body
starts in the file (a range; the length is the response's ``content-length``)."""

LINGER_S = 5.0
"""How long a connection answered 408 reads and discards what its client still sends."""


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a body idle timeout."""

    header_timeout_s = 30.0
    body_idle_timeout_s = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._phase: str | None = None
        """``"connected"``, ``"headers"`` (bytes of a request came), ``"body"``, or None."""
        self._lingering: asyncio.TimerHandle | None = None
        """Set once a 408 is sent: the close that ends the linger."""
        self._sendable = False
        """Whether this connection is a plain TCP socket ``sendfile(2)`` can write to (looked
        at once: ``get_extra_info("socket")`` makes an object per call)."""

    # --- uvicorn's protocol, with the timer kept in step ---------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._sendable = _socket_fd(transport) is not None
        self._watch("connected", self.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        if self._lingering is not None:
            self._lingering.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering is None:
            super().data_received(data)  # else: answered 408 already, what follows is dropped

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase is None:  # a later request on a kept-alive connection
            self._watch("headers", self.header_timeout_s)
        else:
            self._phase = "headers"

    def on_headers_complete(self) -> None:
        offer = self._sendable and self.scope.get("scheme") == "http"
        if offer:
            offered: dict[str, Any] = {PATHSEND: {}, FROM_OFFSET: {}}
            self.scope["extensions"] = {**self.scope.get("extensions", {}), **offered}
        super().on_headers_complete()
        if offer and type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = PathsendCycle  # before its task runs: it sends files too
        self._watch("body", self.body_idle_timeout_s)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._deadline = self.loop.time() + self.body_idle_timeout_s

    def on_message_complete(self) -> None:
        self._phase = None  # the timer stays: the next request moves its deadline (_watch)
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._stop()  # the connection is the websocket protocol's from here on
        super().handle_websocket_upgrade()

    # --- the timer ---------------------------------------------------------------------

    def _watch(self, phase: str, timeout_s: float) -> None:
        """Start ``phase``'s clock. One timer serves the connection's requests in turn: it
        is armed again only when it fires, not per request (a timer made and cancelled per
        request was ~3% of a retrieve's CPU at 5,000 a second)."""
        self._phase = phase
        self._deadline = self.loop.time() + timeout_s
        if self._timer is not None:
            if self._timer.when() <= self._deadline:
                return  # it fires first and looks again
            self._timer.cancel()
        self._timer = self.loop.call_at(self._deadline, self._check)

    def _stop(self) -> None:
        self._phase = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._phase is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if self._server_is_waiting():  # not the client's fault: the clock restarts
            timeout = self.header_timeout_s if self._phase != "body" else self.body_idle_timeout_s
            self._deadline = now + timeout
        if now < self._deadline:
            self._timer = self.loop.call_at(self._deadline, self._check)
            return
        self._late()

    def _server_is_waiting(self) -> bool:
        if self.flow.read_paused:
            return True
        cycle = self.cycle
        return self._phase == "body" and cycle is not None and cycle.waiting_for_100_continue

    def _late(self) -> None:
        phase, self._phase = self._phase, None
        cycle = self.cycle
        answerable = phase == "headers" and (cycle is None or cycle.response_complete)
        if phase == "body" and cycle is not None and not cycle.response_started:
            answerable = True
            cycle.disconnected = True  # the app's receive() ends; its sends are dropped
            cycle.message_event.set()
        if answerable:
            waited = self.header_timeout_s if phase == "headers" else self.body_idle_timeout_s
            self.transport.write(_timeout_response(phase or "headers", waited))
            if self.transport.can_write_eof():
                self._linger()
                return
        self.transport.close()

    def _linger(self) -> None:
        """Half-close after the 408 and drop what still comes, so no reset overtakes it."""
        self.transport.write_eof()
        self.transport.resume_reading()
        self._lingering = self.loop.call_later(LINGER_S, self.transport.close)


class _HeldHead:
    """Stands in for the transport while uvicorn writes a response's head, and keeps it."""

    __slots__ = ("head",)

    def __init__(self) -> None:
        self.head = b""

    def write(self, data: bytes) -> None:
        self.head = data


class PathsendCycle(RequestResponseCycle):
    """uvicorn's request/response cycle that also takes ``http.response.pathsend``: the file
    goes to the socket by ``sendfile(2)`` once the transport's buffer is empty; when the
    socket is full, the next chunk is written through the transport (framed and counted
    by uvicorn) and the wait for it to drain is the wait for room.

    A response that declares a ``content-length`` up to ``JOIN_LIMIT`` has its head held
    until its first body message, and both go out in one ``send(2)`` (for ``HEAD``, or a
    first message that is not a body, the head is written then, alone); any other
    response's head is written at its start, as uvicorn does, so a stream or a large file
    whose first bytes are slow still shows its head at once. uvicorn writes the head at
    ``http.response.start``, so a JSON reply cost two system calls, and on loopback the
    first also runs the reader's wake-up: measured at 4,000 retrieves/s on one core, the
    two writes were 15% of the gateway's CPU. A response that starts and never sends a body
    (the app failed in between) loses its head, and uvicorn closes the connection as it
    does for any response left incomplete."""

    _head = b""

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if (
                not self.response_started
                and not self.flow.write_paused
                and not self.disconnected
                and _small(message)
            ):
                await self._hold_head(message)
                return
        elif self._head:
            message = self._release_head(message)
        if kind != PATHSEND or not self.response_started or self.response_complete:
            await super().send(message)  # uvicorn's own checks and errors
            return
        if not self.disconnected and self.scope["method"] != "HEAD":
            fd = os.open(message["path"], os.O_RDONLY | os.O_CLOEXEC)
            try:
                await self._send_file(fd, int(message.get("offset", 0)))
            finally:
                os.close(fd)
        await super().send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _hold_head(self, message: Any) -> None:
        transport, held = self.transport, _HeldHead()
        self.transport = held  # type: ignore[assignment]  # uvicorn only writes the head
        try:
            await super().send(message)  # not paused: it runs to the write without waiting
        finally:
            self.transport = transport
        self._head = held.head

    def _release_head(self, message: Any) -> Any:
        """``message`` carrying the held head in its body, or the head written first."""
        head, self._head = self._head, b""
        body = message.get("body", b"")
        joined = (
            message["type"] == "http.response.body"
            and not self.chunked_encoding
            and self.scope["method"] != "HEAD"
            and len(body) <= JOIN_LIMIT
            and not self.disconnected
        )
        if joined:
            self.expected_content_length += len(head)  # uvicorn counts the head in as body
            return {**message, "body": head + bytes(body)}
        if not self.disconnected:
            self.transport.write(head)
        return message

    async def _send_file(self, fd: int, offset: int) -> None:
        transport = self.transport
        low, high = transport.get_write_buffer_limits()
        transport.set_write_buffer_limits(high=0)  # paused while anything is buffered
        try:
            while not self.disconnected and not transport.is_closing():
                sent = self._sendfile(fd, offset)
                if sent is None:  # the socket is full, or the body is framed: one chunk
                    if self.flow.write_paused:
                        await self.flow.drain()
                        continue
                    sent = await self._send_chunk(fd, offset)
                if not sent:
                    return  # the end (uvicorn checks the length it was told)
                offset += sent
        finally:
            if transport.is_closing():
                # A write failed (the peer reset the connection): the transport closed at
                # once, but uvicorn's connection_lost, which marks the cycle disconnected,
                # runs a loop turn later. Marked now, the closing send is dropped as after
                # any disconnect; else it finds bytes missing and raises to the app.
                self.disconnected = True
            else:
                transport.set_write_buffer_limits(high=high, low=low)

    def _sendfile(self, fd: int, offset: int) -> int | None:
        """Bytes the kernel took from ``fd`` at ``offset``; ``None`` when it cannot now."""
        out = _socket_fd(self.transport)
        if self.chunked_encoding or self.transport.get_write_buffer_size() or out is None:
            return None
        if self.expected_content_length <= 0:
            return 0
        if not cached(fd, offset, min(self.expected_content_length, SENDFILE_PIECE)):
            return None  # the chunk path reads it in a thread (and into the page cache)
        try:
            sent = os.sendfile(out, fd, offset, self.expected_content_length)
        except BlockingIOError:
            return None
        except OSError:  # the client went away: uvicorn's connection_lost follows
            self.disconnected = True
            self.transport.close()
            return 0
        self.expected_content_length -= sent
        return sent

    async def _send_chunk(self, fd: int, offset: int) -> int:
        """One chunk through uvicorn's own body path (chunked framing, length checks)."""
        size = CHUNK if self.chunked_encoding else min(CHUNK, self.expected_content_length)
        chunk = await read_at(fd, offset, size) if size > 0 else b""
        if chunk:
            body: Any = {"type": "http.response.body", "body": chunk, "more_body": True}
            await super().send(body)  # a bytearray body: uvicorn writes it as it is
        return len(chunk)


def _small(start: Any) -> bool:
    """Whether a response start declares a body of at most ``JOIN_LIMIT`` bytes."""
    for name, value in start.get("headers", ()):
        if name.lower() == b"content-length":
            return bool(value.isdigit()) and int(value) <= JOIN_LIMIT
    return False


def _socket_fd(transport: asyncio.BaseTransport | None) -> int | None:
    sock = None if transport is None else transport.get_extra_info("socket")
    return None if sock is None else int(sock.fileno())


def _timeout_response(phase: str, waited: float) -> bytes:
    what = "request headers" if phase == "headers" else "request body"
    limit = "within" if phase == "headers" else "with no pause longer than"
    error = RequestTimeout(f"The {what} did not arrive {limit} {waited:g} s.")
    body = json.dumps(error.envelope()).encode()
    head = (
        b"HTTP/1.1 408 Request Timeout\r\n"
        b"content-type: application/json\r\n"
        b"connection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return head + body


def protocol_class(settings: GatewaySettings) -> type[GuardedHttpTools]:
    """``GuardedHttpTools`` with the timeouts of ``settings``."""
    attrs = {
        "header_timeout_s": settings.header_timeout_s,
        "body_idle_timeout_s": settings.body_idle_timeout_s,
    }
    return type("GuardedHttpTools", (GuardedHttpTools,), attrs)


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    settings: GatewaySettings | None = None,
    log_level: str = "warning",
    **extra: Any,
) -> uvicorn.Config:
    """The uvicorn configuration vidgate is served with (``extra``: more uvicorn options)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        loop="uvloop",
        http=protocol_class(settings or GatewaySettings()),
        timeout_graceful_shutdown=5,
        **extra,
    )


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (not yet listening), as uvicorn binds its own;
    ``OSError`` when the address is taken or cannot be used. ``vidgate serve`` binds first,
    so a busy port is known before anything is created or announced."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


GC_YOUNG_THRESHOLD = 10_000
"""Container allocations (net of frees) between two young collections; Python's is 700."""


def settle_gc() -> None:
    """Freeze the objects start-up built and collect young objects less often (see the module
    docstring): for the process that serves, once the app has started."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


class _Server(uvicorn.Server):
    """uvicorn's server: once the app has started and listens, it settles the collector
    (``settle_gc``) and calls ``on_started``."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            settle_gc()
            if self._on_started is not None:
                self._on_started()

    async def _serve(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super()._serve(sockets)
        finally:  # uvicorn re-raises a SIGTERM it caught next: no atexit, no logging.shutdown
            for handler in logging.getLogger().handlers:
                handler.flush()  # the log lines still queued (observe/logs.py LineHandler)


def run_server(
    config: uvicorn.Config,
    *,
    sock: socket.socket | None = None,
    on_started: Callable[[], None] | None = None,
) -> bool:
    """Serve until stopped (SIGINT, SIGTERM); ``False`` if the server never started.

    ``sock``: a socket from :func:`bind` to listen on (else uvicorn binds ``config``'s host
    and port itself); ``on_started``: called once the app's start-up is done and the
    server accepts connections (``vidgate serve`` prints its banner then)."""
    server = _Server(config, on_started)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=None if sock is None else [sock])
    return server.started
