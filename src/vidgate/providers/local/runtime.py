"""The local provider's ``UpstreamClient``: renders in a process pool, state in files.

Rendering is CPU-bound, so it runs in worker processes and the event loop stays free for
the API. The upstream id is derived from the idempotency key (the job id), which makes a
repeated submit after a crash find the same task instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from vidgate import datauri
from vidgate.errors import NotFound
from vidgate.media.workers import start_pool, stop_pool
from vidgate.providers.base import RuntimeContext
from vidgate.providers.local.worker import run_task, write_atomic
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

CHUNK = 256 * 1024


class LocalRenderer:
    """Renders requests into ``<data_dir>/local/<upstream_id>/out.mp4``."""

    def __init__(self, deployment: Deployment, context: RuntimeContext) -> None:
        self.root = context.data_dir / "local"
        self.storage = context.storage
        self.workers = context.local_workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._running: dict[str, asyncio.Future[None]] = {}

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
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
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor(), run_task, str(folder))
        self._running[upstream_id] = future
        future.add_done_callback(lambda f: self._finished(upstream_id, f))

    def _finished(self, upstream_id: str, future: asyncio.Future[None]) -> None:
        self._running.pop(upstream_id, None)
        if not future.cancelled():
            future.exception()  # retrieved: renders report failure in their error file

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


def _remix_seconds(request: ResolvedRequest) -> int | None:
    """A remix's length when it is not its source's (``None``: the source's)."""
    source = request.source
    if request.operation != "remix" or source is None or source.seconds == request.seconds:
        return None
    return request.seconds


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
