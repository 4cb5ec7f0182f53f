"""Peak Python allocations while an in-process client downloads a 20 MB video.

    .venv/bin/python bench/inprocess_memory.py [--size-mb 20] [--dir SCRATCH]

The local renderer makes a 20 s 1920x1080 video (about 8.5 MB), whose archived file is then
padded with random bytes to ``--size-mb`` (the transport streams bytes; what they are does not
matter). It is downloaded four ways, each measured with ``tracemalloc`` (Python's own
allocations, all threads): the SDK's streaming download (``with_streaming_response``) through
vidgate's transport, sync and async; the same through httpx's ``ASGITransport``, which
vidgate's replaces; and the SDK's plain ``download_content``, which reads the body whole
whatever the transport. Results of one run are in ``docs/in-process.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import openai

from vidgate.inprocess import AsyncGateway, Gateway

CONFIG = {
    "model_list": [{"model_name": "local/preview", "provider": "local", "model": "preview"}],
    "settings": {"local_workers": 2},
}


def report(name: str, peak: int, seconds: float, out: Path) -> None:
    size = out.stat().st_size
    print(f"{name:<55} peak {peak / 1e6:6.2f} MB  {seconds:5.2f} s  ({size / 1e6:.1f} MB)")


def measured(work: Callable[[], Any]) -> tuple[int, float]:
    tracemalloc.start()
    try:
        start = time.perf_counter()
        work()
        return tracemalloc.get_traced_memory()[1], time.perf_counter() - start
    finally:
        tracemalloc.stop()


async def measured_async(work: Callable[[], Awaitable[Any]]) -> tuple[int, float]:
    tracemalloc.start()
    try:
        start = time.perf_counter()
        await work()
        return tracemalloc.get_traced_memory()[1], time.perf_counter() - start
    finally:
        tracemalloc.stop()


def make_video(data: Path, size: int) -> str:
    with Gateway(CONFIG, data) as gateway:
        sdk = gateway.client(max_retries=0)
        video = sdk.videos.create_and_poll(
            model="local/preview", prompt="a fox", seconds="20", size="1920x1080"
        )
        assert video.status == "completed", video.error
    (archived,) = (data / "blobs" / "videos" / video.id).glob("video.mp4")
    with archived.open("ab") as file:
        file.write(os.urandom(max(0, size - archived.stat().st_size)))
    return video.id


def sync_downloads(data: Path, video: str, out: Path) -> None:
    with Gateway(CONFIG, data) as gateway:
        sdk = gateway.client(max_retries=0)

        def streamed() -> None:
            with sdk.videos.with_streaming_response.download_content(video) as response:
                response.stream_to_file(out)

        peak, seconds = measured(streamed)
        report(
            "sync, vidgate transport, with_streaming_response", peak, seconds, out.stat().st_size
        )
        peak, seconds = measured(lambda: sdk.videos.download_content(video).write_to_file(out))
        report(
            "sync, vidgate transport, download_content (whole)", peak, seconds, out.stat().st_size
        )


async def async_downloads(data: Path, video: str, out: Path) -> None:
    async with AsyncGateway(CONFIG, data) as gateway:
        buffered = httpx.AsyncClient(transport=httpx.ASGITransport(gateway.app))
        clients = {
            "async, vidgate transport, with_streaming_response": gateway.client(max_retries=0),
            "async, httpx.ASGITransport, with_streaming_response": openai.AsyncOpenAI(
                base_url=gateway.base_url, api_key=gateway.master_key, http_client=buffered
            ),
        }
        for name, sdk in clients.items():

            async def streamed(sdk: openai.AsyncOpenAI = sdk) -> None:
                async with sdk.videos.with_streaming_response.download_content(video) as response:
                    await response.stream_to_file(out)

            peak, seconds = await measured_async(streamed)
            report(name, peak, seconds, out)
            await sdk.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=20.0)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    scratch = args.dir or Path(tempfile.mkdtemp(prefix="vidgate-inprocess-"))
    video = make_video(scratch / "data", int(args.size_mb * 1e6))
    sync_downloads(scratch / "data", video, scratch / "out.mp4")
    asyncio.run(async_downloads(scratch / "data", video, scratch / "out.mp4"))


if __name__ == "__main__":
    main()
