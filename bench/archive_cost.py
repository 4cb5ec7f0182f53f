"""CPU per archived job: the real ``Archiver`` against the OpenAI simulator on loopback.

    .venv/bin/python bench/archive_cost.py [-n 20] [--runs 3] [--videos 720p4s,1080p12s]
                                           [--modes upstream,local,at_archive] [--pin 1]

Each job is archived alone, one after another, exactly as the poller does it: download the
video (hashing on the way), probe it, take or make the thumbnail and the spritesheet, look
for a C2PA manifest, store the assets and complete the row in a real SQLite database. Three
modes: ``upstream`` (the OpenAI spec: the upstream's own thumbnail and spritesheet are
downloaded); ``local``, a provider that serves none, archived as the gateway does by
default (``settings.previews: on_request``: no previews made), and then, counted apart,
each preview's first request as ``JobService.content`` makes it (``jobs/previews.py``: the
worker call on the stored video, the image hashed and stored, the row's assets updated),
the thumbnail and then the spritesheet; ``at_archive``, the same provider with both previews
made by the archive in one worker call (the behaviour before ``on_request``). ``deferred``,
the name of the ``on_request`` design before it was built, is ``local``.

CPU is counted for this process (every thread) **plus** the media worker processes (their
CPU clocks, read with ``clock_getcpuclockid``: nanosecond resolution, exited threads
included), never the simulator, which runs in its own process. Every step is wrapped to
split the cost: download (video / previews), probe, previews, provenance, store, DB; the
rest (work dir, clean-up, the loop itself) is ``other``. The first job of each mode warms
up the pool (workers start and import PyAV) and is not counted.

The videos are moving test patterns made with PyAV and cached in ``bench/.cache/``:
``720p4s`` (720x1280, 4 s, 30 fps, ~1.8 MB, a keyframe every 2 s) and ``1080p12s``
(1920x1080, 12 s, 30 fps, a keyframe every 2 s), textured so that their I-frames are large
(100-540 KB: the dear case for previews made here); ``render720p4s``, not run by default,
is what the local renderer (``media/render.py``) makes of a prompt at 720x1280 for 4 s
(24 fps, a keyframe every second, 22-31 KB I-frames).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.jobs.rows import job_row, migrated  # noqa: E402

from vidgate.jobs import archive as archive_module  # noqa: E402
from vidgate.jobs import lifecycle  # noqa: E402
from vidgate.jobs.archive import Archiver  # noqa: E402
from vidgate.jobs.previews import PREVIEWS  # noqa: E402
from vidgate.jobs.store import Job, JobStore  # noqa: E402
from vidgate.media.pool import MediaPool  # noqa: E402
from vidgate.providers.registry import PROVIDERS  # noqa: E402
from vidgate.routing.dispatch import HttpUpstream  # noqa: E402
from vidgate.settings import PreviewTiming  # noqa: E402
from vidgate.storage.local import LocalBlobStore  # noqa: E402
from vidgate.values import Deployment  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
VIDEOS = {
    # name: (width, height, seconds, fps, bit rate, keyframe interval in frames)
    "720p4s": (720, 1280, 4, 30, 3_200_000, 60),
    "1080p12s": (1920, 1080, 12, 30, 6_000_000, 60),
}
SIZES = {"720p4s": "720x1280", "1080p12s": "1280x720", "render720p4s": "720x1280"}
"""The size asked of the simulator (it serves the cached file whatever the size)."""


# --- test videos -------------------------------------------------------------------------


def test_video(name: str) -> Path:
    """The cached MP4 ``name`` (made on first use): a moving pattern with some texture, or
    the local renderer's video."""
    if name == "render720p4s":
        return rendered_video(name)
    width, height, seconds, fps, rate, gop = VIDEOS[name]
    path = CACHE / f"archive-{name}-g{gop}.mp4"
    if path.exists():
        return path
    import av
    from PIL import Image, ImageChops

    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    frames = seconds * fps
    pan = frames * 6  # pixels the view moves over the clip
    canvas = _pattern(width + pan, height + pan // 2)
    with av.open(str(partial), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = rate
        stream.codec_context.gop_size = gop
        for index in range(frames):
            x, y = index * 6, index * 3
            view = canvas.crop((x, y, x + width, y + height))
            grain = Image.effect_noise((width, height), 10).convert("RGB")
            view = ImageChops.add(view, grain, scale=1.0, offset=-128)
            video = av.VideoFrame.from_image(view)
            video.pts = index
            container.mux(stream.encode(video))
        container.mux(stream.encode(None))
    os.replace(partial, path)
    print(f"  made {path.name}: {path.stat().st_size / 1e6:.2f} MB", flush=True)
    return path


def rendered_video(name: str) -> Path:
    """The local renderer's 4 s 720x1280 video of a fixed prompt (made on first use)."""
    from vidgate.media.render import RenderSpec, render

    path = CACHE / f"archive-{name}.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        prompt = "a red fox running through snow at dusk"
        render(RenderSpec(prompt=prompt, seconds=4, width=720, height=1280), str(path))
        print(f"  made {path.name}: {path.stat().st_size / 1e6:.2f} MB", flush=True)
    return path


def _pattern(width: int, height: int) -> Any:
    """A colour checkerboard with gradients and noise (texture x264 has to spend bits on)."""
    from PIL import Image, ImageChops, ImageDraw

    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for row in range(0, height, 40):
        for column in range(0, width, 40):
            if (row // 40 + column // 40) % 2:
                shade = (column * 7 % 256, row * 5 % 256, (row + column) % 256)
                draw.rectangle((column, row, column + 39, row + 39), fill=shade)
    noise = Image.effect_noise((width, height), 6).convert("RGB")
    return ImageChops.add(image, noise, scale=1.0, offset=-64)


# --- CPU clocks ----------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def cpu_clock(pid: int) -> int:
    """The CPU-time clock id of process ``pid`` (all its threads, exited ones included)."""
    clock = ctypes.c_int()
    if _libc.clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
        raise OSError(ctypes.get_errno(), f"clock_getcpuclockid({pid})")
    return clock.value


class Meter:
    """CPU seconds of this process plus the media workers, split by step."""

    def __init__(self) -> None:
        self.clocks: list[int] = []
        self.steps: dict[str, float] = defaultdict(float)
        self._depth = 0

    def watch(self, pids: list[int]) -> None:
        self.clocks = [cpu_clock(pid) for pid in pids]

    def now(self) -> float:
        total = time.process_time()
        for clock in self.clocks:
            with contextlib.suppress(OSError):
                total += time.clock_gettime(clock)
        return total

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        if self._depth:  # nested: counted by the outer step
            yield
            return
        self._depth += 1
        began = self.now()
        try:
            yield
        finally:
            self._depth -= 1
            self.steps[label] += self.now() - began


def wrap_async(meter: Meter, owner: Any, attr: str, label: str | Callable[..., str]) -> None:
    """Count the CPU of awaiting ``owner.attr`` under ``label`` (if ``owner`` has it)."""
    original = getattr(owner, attr, None)
    if original is None:
        return

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        name = label(*args, **kwargs) if callable(label) else label
        with meter.step(name):
            return await original(*args, **kwargs)

    setattr(owner, attr, wrapped)


def wrap_sync(meter: Meter, owner: Any, attr: str, label: str) -> None:
    original = getattr(owner, attr, None)
    if original is None:
        return

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with meter.step(label):
            return original(*args, **kwargs)

    setattr(owner, attr, wrapped)


def instrument(meter: Meter, archiver: Archiver) -> None:
    """Wrap each step the archiver takes (the names of before and after issue 18); the
    steps of a first request are counted in it (an outer step counts what it nests)."""

    def download_label(*args: Any, **_: Any) -> str:
        variant = next((a for a in args if a in ("video", "thumbnail", "spritesheet")), "video")
        return "download video+hash" if variant == "video" else "download previews"

    wrap_async(meter, archive_module, "_download", download_label)
    wrap_async(meter, archive_module, "_download_video", "download video+hash")
    for name in ("probe", "previews", "preview"):
        wrap_async(meter, archiver.media, name, "probe" if name == "probe" else "previews")
    wrap_sync(meter, archive_module, "has_c2pa_manifest", "provenance")
    wrap_sync(meter, archive_module, "read_header", "probe+provenance (header)")
    wrap_async(meter, archiver.storage, "put_file", "store")
    wrap_async(meter, lifecycle, "complete", "DB")


def upstream_http(fallback: httpx.AsyncClient) -> Any:
    """The upstream client the gateway uses (``routing/upstream_http.py`` where it exists,
    else the httpx client it replaced)."""
    try:
        from vidgate.routing.upstream_http import UpstreamHttp
    except ImportError:
        return fallback
    return UpstreamHttp(max_connections=512)


# --- the run -------------------------------------------------------------------------------


def start_simulator(video: Path, port: int) -> subprocess.Popen[bytes]:
    config = {"content_path": str(video), "job_seconds": 0.0, "queued_seconds": 0.0}
    command = [
        sys.executable,
        str(ROOT / "bench" / "sim_server.py"),
        "--port",
        str(port),
        "--api-key",
        "sk-sim",
        "--config",
        json.dumps(config),
    ]
    process = subprocess.Popen(command, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/__sim__/log", timeout=1)
            return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the simulator did not start")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def upstream_jobs(http: httpx.AsyncClient, base: str, size: str, count: int) -> list[str]:
    """``count`` completed simulator jobs (their previews rendered once, in the simulator)."""
    ids = []
    for _ in range(count):
        reply = await http.post(
            f"{base}/videos",
            json={"model": "sora-2", "prompt": "bench", "seconds": "4", "size": size},
            headers={"authorization": "Bearer sk-sim"},
        )
        reply.raise_for_status()
        ids.append(reply.json()["id"])
    for variant in ("thumbnail", "spritesheet"):  # warm the simulator's preview cache
        await http.get(
            f"{base}/videos/{ids[0]}/content",
            params={"variant": variant},
            headers={"authorization": "Bearer sk-sim"},
        )
    return ids


FIRST_REQUEST = "first request"
"""Labels starting so are counted apart, not in the archive's total."""


async def first_requests(meter: Meter, archiver: Archiver, job: Job) -> None:
    """The first request for each preview, as the content route makes it: the archiver's
    ``on_request.asset`` (one worker call for the variant, stored, recorded in the row)."""
    for variant in PREVIEWS:
        with meter.step(f"{FIRST_REQUEST}: {variant}"):
            asset = await archiver.on_request.asset(job, variant)
        assert asset is not None, variant
    done = await archiver.store.get(job.id)
    assert done is not None and set(done.assets or {}) >= set(PREVIEWS)


async def run_mode(
    video: str, mode: str, jobs: int, port: int, work: Path, runs: int
) -> list[dict[str, float]]:
    base = f"http://127.0.0.1:{port}/v1"
    spec = PROVIDERS["openai"].spec
    previews = spec.upstream_previews if mode == "upstream" else frozenset()
    on_request = mode in ("local", "deferred")
    deployment = Deployment(
        id="d",
        model_name="sora-2",
        provider="openai",
        model="sora-2",
        capabilities=spec.models["sora-2"],
        api_base=base,
        api_key="sk-sim",
    )
    db = await migrated(str(work / "vidgate.db"))
    storage = LocalBlobStore(work / "blobs")
    media = MediaPool()
    store = JobStore(db, sole_writer=True)
    timing: PreviewTiming = "at_archive" if mode == "at_archive" else "on_request"
    archiver = Archiver(store, storage, work / "tmp", media, previews=timing)
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=512))
    adapter = PROVIDERS["openai"].adapter
    assert adapter is not None
    client = HttpUpstream(adapter(deployment), deployment, upstream_http(http), storage)
    meter = Meter()
    results = []
    try:
        ids = await upstream_jobs(http, base, SIZES[video], jobs * runs + 1)
        for index, upstream_id in enumerate(ids):
            job_id = f"video_{uuid.uuid4().hex}"
            job = await store.insert(
                job_row(job_id, phase="archiving", upstream_id=upstream_id, provider="openai")
            )
            if index == 0:  # warm-up: starts the pool
                warm = await archiver.archive(job, client, previews)
                assert warm is not None
                if on_request:  # the first request's path warmed up too
                    await first_requests(meter, archiver, warm)
                meter.watch(list(getattr(media._pool, "_processes", {}) or {}))
                instrument(meter, archiver)
                continue
            if (index - 1) % jobs == 0:
                meter.steps.clear()
                began = meter.now()
            job_began = meter.now()
            done = await archiver.archive(job, client, previews)
            meter.steps["total"] += meter.now() - job_began
            assert done is not None and done.status == "completed", done
            if on_request:
                await first_requests(meter, archiver, done)
            if index % jobs == 0:
                assert meter.now() - began >= meter.steps["total"]
                per_job = {k: v / jobs * 1000 for k, v in meter.steps.items()}
                per_job["other"] = per_job["total"] - sum(
                    v
                    for k, v in per_job.items()
                    if k != "total" and not k.startswith(FIRST_REQUEST)
                )
                results.append(per_job)
        return results
    finally:
        await http.aclose()
        await client.client.aclose()
        await media.aclose()
        await db.dispose()


def report(video: str, mode: str, results: list[dict[str, float]]) -> None:
    labels = sorted(
        {k for r in results for k in r},
        key=lambda k: (k.startswith(FIRST_REQUEST), k == "total", k),
    )
    print(f"\n{video} / {mode} previews: ms CPU per job (process + media workers), per run")
    for label in labels:
        values = [r.get(label, 0.0) for r in results]
        cells = " ".join(f"{v:6.2f}" for v in values)
        print(f"  {label:28s} {cells}   median {statistics.median(values):6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--jobs", type=int, default=20, help="jobs per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--videos", default="720p4s,1080p12s")
    parser.add_argument(
        "--modes", default="upstream,local", help="upstream, local and/or at_archive (see above)"
    )
    parser.add_argument("--pin", type=int, default=None, help="CPU to pin this process to")
    args = parser.parse_args()
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
    for video in args.videos.split(","):
        path = test_video(video)
        port = free_port()
        sim = start_simulator(path, port)
        try:
            for mode in args.modes.split(","):
                with tempfile.TemporaryDirectory(prefix="archive-cost-") as tmp:
                    results = asyncio.run(
                        run_mode(video, mode, args.jobs, port, Path(tmp), args.runs)
                    )
                report(video, mode, results)
        finally:
            sim.terminate()
            sim.wait(10)


if __name__ == "__main__":
    main()
