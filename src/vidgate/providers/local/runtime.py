"""The local provider's ``UpstreamClient``: renders in a process pool, state in files.

Rendering is CPU-bound, so it runs in worker processes and the event loop stays free for
the API. The upstream id is derived from the idempotency key (the job id), which makes a
repeated submit after a crash find the same task instead of starting a second one.

A worker that dies (the OOM killer, a signal, a crash) breaks its whole pool for good: every
render in it or queued for it fails with ``BrokenProcessPool``, and so would every later
one. The broken pool is dropped (the next render starts a new one) and stopped; then each
render it lost that was running in a worker that died counts a loss (its ``worker`` file
names that process; the pool terminates the others, so their exit is SIGTERM's) and starts
over on its next poll; renders that only lost their place start over without one. The
``LOSSES``-th loss of a render fails it with ``render_failed``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import shutil
import signal
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidgate import datauri
from vidgate.errors import NotFound
from vidgate.media.workers import JOIN_S, start_pool, stop_pool
from vidgate.providers.base import RuntimeContext
from vidgate.providers.local.worker import run_task, write_atomic
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

CHUNK = 256 * 1024
LOSSES = 3
"""Workers a render may lose before it fails: one that takes its worker down every time (out
of memory, a crash in the encoder) would otherwise start over for ever, and take every render
queued with it along each time."""
Pool = concurrent.futures.ProcessPoolExecutor
log = logging.getLogger("vidgate.local")


@dataclass(frozen=True)
class _Drop:
    """A broken pool being stopped, and the task folders of the renders it lost."""

    lost: set[Path]
    stopped: asyncio.Task[None]


class LocalRenderer:
    """Renders requests into ``<data_dir>/local/<upstream_id>/out.mp4``."""

    def __init__(self, deployment: Deployment, context: RuntimeContext) -> None:
        self.root = context.data_dir / "local"
        self.storage = context.storage
        self.workers = context.local_workers
        self._pool: Pool | None = None
        self._running: dict[str, asyncio.Future[None]] = {}
        self._drops: dict[Pool, _Drop] = {}

    def _executor(self) -> Pool:
        if self._pool is None:
            self._pool = start_pool(self.workers)
        return self._pool

    async def submit(self, request: ResolvedRequest, *, idempotency_key: str) -> UpstreamState:
        upstream_id = "local_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
        folder = self.root / upstream_id
        if not (folder / "task.json").exists():
            folder.mkdir(parents=True, exist_ok=True)
            spec = await self._render_spec(request, folder)
            write_atomic(folder / "task.json", json.dumps(spec))
        return await self.poll(upstream_id)

    async def _render_spec(self, request: ResolvedRequest, folder: Path) -> dict[str, Any]:
        """The keyword arguments of ``render.RenderSpec`` (kept as data: PyAV loads lazily)."""
        first_frame = None
        if request.images:
            first_frame = str(await self._materialize(request.images[0].asset, folder, "image"))
        source = None
        if request.source is not None and request.source.asset is not None:  # spec's rule
            source = str(await self._materialize(request.source.asset, folder, "source.mp4"))
        return {
            "prompt": request.prompt,
            "seconds": request.seconds,
            "width": request.width,
            "height": request.height,
            "fps": request.fps,
            "seed": request.seed or 0,
            "operation": request.operation,
            "first_frame": first_frame,
            "source_video": source,
            "remix_seconds": _remix_seconds(request),
        }

    async def _materialize(self, asset: Asset, folder: Path, name: str) -> Path:
        target = folder / name
        if asset.kind == "blob":
            path = self.storage.local_path(asset.value)
            if path is not None:
                await asyncio.to_thread(shutil.copyfile, path, target)
            else:
                with target.open("wb") as handle:
                    async for chunk in self.storage.read(asset.value):
                        handle.write(chunk)
            return target
        data, _ = datauri.decode(asset.value, asset.param or "input_reference")  # spec's rule
        target.write_bytes(data)
        return target

    async def poll(self, upstream_id: str) -> UpstreamState:
        folder = self.root / upstream_id
        if not (folder / "task.json").exists():
            raise NotFound(f"No local render {upstream_id}.")
        await self._settled()  # a lost render's loss is counted before it starts over
        if (folder / "out.mp4").exists():
            return UpstreamState(upstream_id, "completed", 100, "completed")
        if (folder / "error").exists():
            message = (folder / "error").read_text()
            return UpstreamState(upstream_id, "failed", 0, "failed", "render_failed", message)
        self._ensure_running(upstream_id, folder)
        progress_file = folder / "progress"
        if not progress_file.exists():
            return UpstreamState(upstream_id, "queued", 0, "queued")
        progress = min(int(progress_file.read_text() or 0), 99)
        return UpstreamState(upstream_id, "in_progress", progress, "rendering")

    def _ensure_running(self, upstream_id: str, folder: Path) -> None:
        future = self._running.get(upstream_id)
        if future is not None and not future.done():
            return
        with contextlib.suppress(FileNotFoundError):  # this attempt's worker writes its own
            (folder / "worker").unlink()
        loop = asyncio.get_running_loop()
        pool = self._executor()
        try:
            future = loop.run_in_executor(pool, run_task, str(folder))
        except BrokenProcessPool:  # a worker died and no render in the pool has told us yet
            self._drop(pool)
            pool = self._executor()
            future = loop.run_in_executor(pool, run_task, str(folder))
        _watch_new_workers(pool)
        self._running[upstream_id] = future
        future.add_done_callback(lambda f: self._finished(upstream_id, folder, pool, f))

    def _finished(
        self, upstream_id: str, folder: Path, pool: Pool, future: asyncio.Future[None]
    ) -> None:
        if self._running.get(upstream_id) is future:
            del self._running[upstream_id]
        if future.cancelled():
            return
        # renders report their own failures in their error file; a lost worker is ours
        lost = isinstance(future.exception(), BrokenProcessPool)
        if lost and (pool is self._pool or pool in self._drops):  # not stopped by ``aclose``
            self._drop(pool).lost.add(folder)

    def _drop(self, pool: Pool) -> _Drop:
        """Stop using broken ``pool`` (the next render starts a new one) and stop it."""
        if self._pool is pool:
            self._pool = None
        drop = self._drops.get(pool)
        if drop is None:
            lost: set[Path] = set()
            workers = dict(getattr(pool, "_processes", None) or {})  # shutdown forgets them
            stopping = asyncio.ensure_future(self._stop_broken(pool, workers, lost))
            drop = self._drops[pool] = _Drop(lost, stopping)
        return drop

    async def _stop_broken(self, pool: Pool, workers: dict[int, Any], lost: set[Path]) -> None:
        """Stop ``pool``, then count a loss against each render it lost in a worker that
        died (not terminated by the pool, which then ended SIGTERM's way)."""
        try:
            await asyncio.to_thread(_stop_broken_pool, pool)
            codes = {pid: process.exitcode for pid, process in workers.items()}
            died = {pid for pid, code in codes.items() if code not in (None, -signal.SIGTERM)}
            losses = await asyncio.to_thread(_count_losses, lost, died)
            log.warning(
                "local render worker %s died (exit codes %s); the renders lost with it start "
                "over unless they lost %d workers (losses so far): %s",
                sorted(died) or "?",
                codes,
                LOSSES,
                dict(sorted(losses.items())),
            )
        except Exception:  # the renders still start over in a new pool
            log.exception("stopping a broken local render pool failed")
        finally:
            del self._drops[pool]

    async def _settled(self) -> None:
        """Wait for the broken pools being stopped (their losses counted)."""
        if self._drops:
            await asyncio.wait([drop.stopped for drop in self._drops.values()])

    @asynccontextmanager
    async def download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        path = self.root / upstream_id / "out.mp4"
        if variant != "video" or not path.exists():
            raise NotFound(f"No {variant} for local render {upstream_id}.")
        yield _read_file(path)

    async def delete(self, upstream_id: str) -> None:
        future = self._running.pop(upstream_id, None)
        if future is not None:
            future.cancel()
        await asyncio.to_thread(shutil.rmtree, self.root / upstream_id, True)

    async def archived(self, upstream_id: str) -> None:
        """The blob store has the video now: drop the render folder (no second copy on disk)."""
        await asyncio.to_thread(shutil.rmtree, self.root / upstream_id, True)

    async def aclose(self) -> None:
        """Stop the render workers: an unfinished render restarts from its task file."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(stop_pool, pool)
        await self._settled()


def _remix_seconds(request: ResolvedRequest) -> int | None:
    """A remix's length when it is not its source's (``None``: the source's)."""
    source = request.source
    if request.operation != "remix" or source is None or source.seconds == request.seconds:
        return None
    return request.seconds


def _watch_new_workers(pool: Pool) -> None:
    """Make the pool's thread look at its workers again. Python 3.11's ``submit`` wakes it
    before starting a worker on demand, so a worker started while the thread waits is not
    watched until something else wakes it: measured with two workers, a killed one went
    unnoticed until the render in the other ended, 16 s later (its job seen rendering)."""
    wakeup = getattr(pool, "_executor_manager_thread_wakeup", None)
    if wakeup is not None:
        with contextlib.suppress(OSError, ValueError):  # closed meanwhile: the pool broke
            wakeup.wakeup()


def _stop_broken_pool(pool: Pool) -> None:
    """``stop_pool`` once the pool's own thread has joined its workers: a worker's exit code
    is read once, from the forkserver, and a second reader at the same time gets none
    (multiprocessing then says 255; measured: the SIGTERM'd neighbour of a killed render)."""
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:
        manager.join(JOIN_S)
    stop_pool(pool)


def _count_losses(lost: set[Path], died: set[int]) -> dict[str, int]:
    """Count a loss against each render in ``lost`` that ran in a worker in ``died``, and fail
    those at ``LOSSES``; each render's losses by its folder name (0: it only lost its place
    in the pool, or its worker was terminated with it)."""
    counted = {}
    for folder in lost:
        try:
            losses = int(_text(folder / "losses") or 0)
            if _worker_of(folder) in died:
                losses += 1
                write_atomic(folder / "losses", str(losses))
            if losses >= LOSSES:
                message = (
                    f"The local renderer's worker process died {losses} times rendering this "
                    "video (killed, or out of memory)."
                )
                write_atomic(folder / "error", message)
        except OSError:  # deleted meanwhile
            continue
        counted[folder.name] = losses
    return counted


def _worker_of(folder: Path) -> int | None:
    """The process that ran the render's last attempt; ``None`` if it has not started."""
    try:
        return int((folder / "worker").read_text())
    except (OSError, ValueError):
        return None


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
