"""The gateway on an event loop of its own, in a background thread, for sync callers.

``openai.OpenAI`` needs a sync transport, while the gateway (its lifespan, poller, archiver
and routes) lives in an event loop. ``LoopThread`` runs the app's own lifespan on a loop in
a daemon thread; ``SyncTransport`` hands each request to that loop and waits for the answer
in the caller's thread, and reads the response body a chunk at a time from it. So a sync
client works from any thread — a plain script, a thread pool, a notebook whose own loop is
running — and blocks only its caller. Only a call from the gateway's own loop is refused:
it would wait for itself.

The thread stops on ``close()``, and at interpreter exit for a gateway left open (before
``concurrent.futures`` stops taking work, which the gateway's shutdown still needs).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures.process  # registers its exit hook before ours (see _exit_hook)
import concurrent.futures.thread  # noqa: F401  (the same)
import contextlib
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

import httpx

from vidgate.inprocess.transport import ASGIApp, StreamingASGITransport

T = TypeVar("T")
log = logging.getLogger("vidgate")

_OPEN: weakref.WeakSet[LoopThread] = weakref.WeakSet()
_EXIT_HOOK = threading.Lock()
_exit_hook_set = False


class LoopThread:
    """An event loop in a daemon thread, running ``app``'s lifespan from ``start()`` to
    ``close()``."""

    def __init__(self, app: Any, name: str = "vidgate-inprocess") -> None:
        self._app = app
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        """Start the thread and wait until the app has started (migrations, poller); the
        app's start-up error is raised here."""
        if self._thread is not None:
            raise RuntimeError("the in-process gateway was started already")
        _exit_hook()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._thread.join()
            self._closed = True
            raise self._failure
        _OPEN.add(self)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            if self._ready.is_set():  # the shutdown failed: nobody waits to be told
                log.exception("the in-process gateway did not stop cleanly")
            else:  # the start-up failed: raised in start()'s caller
                self._failure = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self._app.router.lifespan_context(self._app):
            self._ready.set()
            await self._stop.wait()

    @property
    def running(self) -> bool:
        """Started and not closed."""
        return self._loop is not None and not self._closed

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the gateway's loop; wait for its result in this thread."""
        loop = self._loop
        if self._closed or loop is None:
            coroutine.close()
            raise RuntimeError("the in-process vidgate gateway is closed")
        if _running_loop() is loop:
            coroutine.close()
            raise RuntimeError(
                "the sync in-process client was called from the gateway's own event loop, "
                "where it would wait for itself: use vidgate.inprocess.async_client there"
            )
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result()
        except BaseException:  # KeyboardInterrupt in the wait: the work stops too
            future.cancel()
            raise

    def close(self) -> None:
        """Stop the app (its lifespan's shutdown) and the thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        _OPEN.discard(self)
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                loop.call_soon_threadsafe(stop.set)
        if thread is not None and thread is not threading.current_thread():
            thread.join()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _exit_hook() -> None:
    """Close the gateways still open when the interpreter exits, once, before
    ``concurrent.futures`` refuses new work: these hooks run last-registered first, and
    its pools register theirs when their module is first imported — lazily, at the first
    ``ProcessPoolExecutor`` (the renderer's, the media pool's), which can come after this
    hook. So this module imports both pool modules itself, before registering (a gateway
    left open while a job was archiving logged "cannot schedule new futures after
    interpreter shutdown")."""
    global _exit_hook_set
    with _EXIT_HOOK:
        if not _exit_hook_set:
            # threading's exit hooks run before its threads are joined and before
            # concurrent.futures shuts down; atexit's run after both (the fallback)
            register = getattr(threading, "_register_atexit", atexit.register)
            register(_close_all)
            _exit_hook_set = True


def _close_all() -> None:
    for runner in list(_OPEN):
        runner.close()


class SyncTransport(httpx.BaseTransport):
    """A sync httpx transport sending each request to ``app`` on ``runner``'s loop."""

    def __init__(self, runner: LoopThread, app: ASGIApp) -> None:
        self._runner = runner
        self._transport = StreamingASGITransport(app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self._runner.running:
            raise httpx.ConnectError(
                "the in-process vidgate gateway is not running", request=request
            )
        response = self._runner.call(self._transport.handle_async_request(request))
        return httpx.Response(
            response.status_code,
            headers=response.headers.raw,
            stream=_SyncBody(self._runner, response),
        )


class _SyncBody(httpx.SyncByteStream):
    """A response body on the gateway's loop, read from another thread chunk by chunk."""

    def __init__(self, runner: LoopThread, response: httpx.Response) -> None:
        self._runner = runner
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        chunks = self._response.aiter_raw()
        while (chunk := self._runner.call(_next(chunks))) is not None:
            yield chunk

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # the gateway closed first: nothing to close
            self._runner.call(self._response.aclose())


async def _next(chunks: AsyncIterator[bytes]) -> bytes | None:
    return await anext(chunks, None)
