"""The S3 blob store against a real S3-compatible server (moto in server mode), alone and
behind the gateway.

moto runs in a child process (``python -m moto.server``, its standalone server mode) rather
than in a thread, so the memory measured here is the store's own, not the server's copy of
the object it is sending.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import threading
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import boto3
import pytest
from PIL import Image

from tests.conftest import LOCAL_FAST
from tests.scaleout.services import s3_server
from tests.support import running_gateway, video_shape, wait_for
from vidgate.settings import StorageOptions
from vidgate.storage.s3 import S3BlobStore, StorageUnavailable, parse_s3_url

MIB = 1024 * 1024
BUCKET = "vidgate-test"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port for this module."""
    with s3_server(BUCKET) as url:
        yield url


def options(endpoint: str, part_size_mb: int = 5) -> StorageOptions:
    return StorageOptions(
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
        addressing_style="path",
        part_size_mb=part_size_mb,
    )


def on_s3(endpoint: str, prefix: str) -> dict[str, Any]:
    """The config keys that put a gateway's storage under ``prefix`` in the test bucket."""
    storage = options(endpoint).model_dump(exclude_none=True)
    return {"storage_url": f"s3://{BUCKET}/{prefix}", "storage": storage}


def s3_client(endpoint: str) -> Any:
    """A plain boto3 client, to look at the bucket from outside the store."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def keys_under(endpoint: str, prefix: str) -> list[str]:
    paginator = s3_client(endpoint).get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes in 1 MiB pieces; return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        left = size
        while left:
            piece = os.urandom(min(MIB, left))
            digest.update(piece)
            handle.write(piece)
            left -= len(piece)
    return digest.hexdigest()


async def collect(store: S3BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


def test_url_parsing() -> None:
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    assert parse_s3_url("s3://bucket/") == ("bucket", "")
    assert parse_s3_url("s3://bucket/some//prefix/") == ("bucket", "some/prefix/")
    with pytest.raises(ValueError):
        parse_s3_url("s3://bucket/../up")


async def test_multipart_put_file_round_trips(endpoint: str, tmp_path: Path) -> None:
    store = S3BlobStore(f"s3://{BUCKET}/unit/mp", options(endpoint))
    source = tmp_path / "video.mp4"
    size = 12 * MIB + 12345  # three parts of 5 MiB (the last one short)
    random_file(source, size)
    data = source.read_bytes()
    try:
        info = await store.put_file("videos/a/video.mp4", source, "video/mp4", "abc123")
        assert (info.key, info.size, info.etag, info.content_type) == (
            "videos/a/video.mp4",
            size,
            "abc123",
            "video/mp4",
        )
        assert not source.exists()  # moved in, as the local store does
        head = s3_client(endpoint).head_object(Bucket=BUCKET, Key="unit/mp/videos/a/video.mp4")
        assert head["ContentLength"] == size and head["ContentType"] == "video/mp4"
        assert head["Metadata"] == {"sha": "abc123"}
        assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of three parts
        assert await collect(store, "videos/a/video.mp4") == data
        assert await collect(store, "videos/a/video.mp4", 0, 0) == data[:1]
        middle = (5 * MIB - 10, 10 * MIB + 10)  # across both part boundaries
        assert (
            await collect(store, "videos/a/video.mp4", *middle) == data[middle[0] : middle[1] + 1]
        )
        assert await collect(store, "videos/a/video.mp4", size - 7) == data[-7:]
        assert await collect(store, "videos/a/video.mp4", size - 7, size - 1) == data[-7:]
        assert await collect(store, "videos/a/video.mp4", 5, 4) == b""
        assert await store.read_all("videos/a/video.mp4") == data
        assert store.local_path("videos/a/video.mp4") is None
    finally:
        await store.aclose()


async def test_small_files_and_bytes(endpoint: str, tmp_path: Path) -> None:
    store = S3BlobStore(f"s3://{BUCKET}/unit/small/", options(endpoint))
    source = tmp_path / "thumb"
    source.write_bytes(b"RIFF\x00\x00\x00\x00WEBPtiny")
    try:
        info = await store.put_file("videos/b/thumbnail.webp", source, "image/webp", "e1")
        assert info.size == 16 and not source.exists()
        head = s3_client(endpoint).head_object(
            Bucket=BUCKET, Key="unit/small/videos/b/thumbnail.webp"
        )
        assert head["ETag"].strip('"') == hashlib.md5(b"RIFF\x00\x00\x00\x00WEBPtiny").hexdigest()
        image = await store.put_bytes("inputs/x/a.png", b"\x89PNG....", "image/png")
        assert image.etag == hashlib.sha256(b"\x89PNG....").hexdigest()[:32]
        assert image.size == 8 and await store.read_all("inputs/x/a.png") == b"\x89PNG...."
        with pytest.raises(FileNotFoundError):
            await store.read_all("inputs/missing/a.png")
        with pytest.raises(ValueError):
            await store.put_bytes("../escape", b"x", "text/plain")
    finally:
        await store.aclose()


async def test_failed_multipart_upload_is_aborted(endpoint: str, tmp_path: Path) -> None:
    store = S3BlobStore(f"s3://{BUCKET}/unit/abort", options(endpoint))
    source = tmp_path / "video.mp4"
    random_file(source, 11 * MIB)
    s3 = await store._s3()
    real = s3.upload_part
    calls = 0

    async def failing(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("the network went away")
        return await real(**kwargs)

    s3.upload_part = failing
    try:
        with pytest.raises(ConnectionError):
            await store.put_file("videos/c/video.mp4", source, "video/mp4", "x")
        assert source.exists()  # kept, as a failed local move keeps it
        uploads = s3_client(endpoint).list_multipart_uploads(Bucket=BUCKET, Prefix="unit/abort/")
        assert not uploads.get("Uploads")
        assert keys_under(endpoint, "unit/abort/") == []
    finally:
        await store.aclose()


async def test_big_uploads_and_reads_hold_little_memory(endpoint: str, tmp_path: Path) -> None:
    store = S3BlobStore(f"s3://{BUCKET}/unit/big", options(endpoint, part_size_mb=8))
    source = tmp_path / "big.mp4"
    size = 64 * MIB
    digest = random_file(source, size)
    try:
        await store.check()  # client and service model loaded
        tracemalloc.start()
        try:
            await store.put_file("videos/big/video.mp4", source, "video/mp4", "big")
            _, upload_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        print(f"\nupload of 64 MiB in 8 MiB parts: tracemalloc peak {upload_peak / MIB:.2f} MiB")
        assert upload_peak < 6 * MIB, f"peak {upload_peak / MIB:.1f} MiB"  # under one part
        await collect(store, "videos/big/video.mp4", 0, 99)
        tracemalloc.start()
        try:
            seen, total, largest = hashlib.sha256(), 0, 0
            async for chunk in store.read("videos/big/video.mp4"):
                seen.update(chunk)
                total += len(chunk)
                largest = max(largest, len(chunk))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        print(f"full read of 64 MiB from S3: tracemalloc peak {peak / MIB:.2f} MiB")
        assert total == size and seen.hexdigest() == digest
        assert largest <= 256 * 1024
        assert peak < 4 * MIB, f"peak {peak / MIB:.1f} MiB"

        stream = store.read("videos/big/video.mp4", 1000)  # a client that hangs up early
        first = await anext(stream)
        await stream.aclose()
        assert 0 < len(first) <= 256 * 1024
        assert await collect(store, "videos/big/video.mp4", size - 3) == await collect(
            store, "videos/big/video.mp4", size - 3, size - 1
        )
    finally:
        await store.aclose()


async def test_delete_prefix_in_batches_and_only_under_it(endpoint: str) -> None:
    store = S3BlobStore(f"s3://{BUCKET}/unit/del", options(endpoint))
    other = S3BlobStore(f"s3://{BUCKET}/unit/delother", options(endpoint))
    gate = asyncio.Semaphore(32)

    async def put(target: S3BlobStore, key: str) -> None:
        async with gate:
            await target.put_bytes(key, b"x", "text/plain")

    try:
        keys = [f"videos/j1/part-{i:04d}" for i in range(1100)]
        near = ["videos/j10/video.mp4", "videos/j2/video.mp4", "inputs/j1/a.png"]
        await asyncio.gather(*(put(store, key) for key in keys + near))
        await put(other, "videos/j1/video.mp4")  # same relative key, another store prefix
        assert len(keys_under(endpoint, "unit/del/videos/j1/")) == 1100
        await store.delete_prefix("videos/j1/")
        assert keys_under(endpoint, "unit/del/videos/j1/") == []
        assert sorted(keys_under(endpoint, "unit/del/")) == sorted(f"unit/del/{k}" for k in near)
        assert keys_under(endpoint, "unit/delother/") == ["unit/delother/videos/j1/video.mp4"]
        await store.delete_prefix("videos/nothing-here/")  # nothing to delete: fine
        with pytest.raises(ValueError):
            await store.delete_prefix("")
    finally:
        await store.aclose()
        await other.aclose()


async def test_check_names_a_missing_bucket(endpoint: str) -> None:
    store = S3BlobStore("s3://no-such-bucket/p", options(endpoint))
    try:
        with pytest.raises(StorageUnavailable, match="'no-such-bucket' does not exist"):
            await store.check()
    finally:
        await store.aclose()
    good = S3BlobStore(f"s3://{BUCKET}/p", options(endpoint))
    try:
        await good.check()
    finally:
        await good.aclose()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 180), (220, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def test_gateway_on_s3(endpoint: str, tmp_path: Path) -> None:
    prefix = "gw/some/prefix"
    config = {**on_s3(endpoint, prefix), "settings": {"local_workers": 2}}
    small = {"seconds": "1", "size": "320x180"}
    with running_gateway(tmp_path / "gw", config) as gw, gw.http() as http:

        def finished(video_id: str) -> dict[str, Any] | None:
            body: dict[str, Any] = http.get(f"/v1/videos/{video_id}").json()
            return body if body["status"] in ("completed", "failed") else None

        plain = http.post("/v1/videos", json={"prompt": "a fox", **small})
        assert plain.status_code == 200, plain.text
        with_image = http.post(
            "/v1/videos",
            data={"prompt": "from an image", **small},
            files={"input_reference": ("red.png", _png(), "image/png")},
        )
        assert with_image.status_code == 200, with_image.text
        video = wait_for(lambda: finished(plain.json()["id"]))
        assert video["status"] == "completed", video
        video_id = video["id"]
        assert not list((tmp_path / "gw").glob("blobs/**/*.mp4"))  # nothing stored locally

        full = http.get(f"/v1/videos/{video_id}/content")
        assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
        assert video_shape(full.content)[:2] == (320, 180)
        assert int(full.headers["content-length"]) == len(full.content)
        etag = full.headers["etag"]
        ranged = http.get(f"/v1/videos/{video_id}/content", headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and ranged.content == full.content[:100]
        assert ranged.headers["content-range"] == f"bytes 0-99/{len(full.content)}"
        tail = http.get(f"/v1/videos/{video_id}/content", headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == full.content[-10:]
        head = http.head(f"/v1/videos/{video_id}/content")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(full.content))
        cached = http.get(f"/v1/videos/{video_id}/content", headers={"If-None-Match": etag})
        assert cached.status_code == 304
        thumb = http.get(f"/v1/videos/{video_id}/content", params={"variant": "thumbnail"})
        assert thumb.status_code == 200, thumb.text
        assert Image.open(io.BytesIO(thumb.content)).size[0] > 0

        imaged = wait_for(lambda: finished(with_image.json()["id"]))
        assert imaged["status"] == "completed", imaged
        content = http.get(f"/v1/videos/{imaged['id']}/content").content
        with av.open(io.BytesIO(content)) as container:
            first = next(container.decode(video=0)).to_image()
        red, green, _ = first.resize((1, 1)).getpixel((0, 0))
        assert red > 120 and green < 90  # the uploaded image was read back from S3
        inputs = keys_under(endpoint, f"{prefix}/inputs/")
        assert len(inputs) == 1 and inputs[0].endswith("/red.png")

        edit = http.post(  # an uploaded video: probed and rendered from S3
            "/v1/videos/edits",
            data={"prompt": "edited"},
            files={"video": ("in.mp4", full.content, "video/mp4")},
        )
        assert edit.status_code == 200, edit.text
        edited = wait_for(lambda: finished(edit.json()["id"]))
        assert edited["status"] == "completed", edited

        for job in (video_id, imaged["id"], edited["id"]):
            assert keys_under(endpoint, f"{prefix}/videos/{job}/")
        assert http.delete(f"/v1/videos/{video_id}").status_code == 200
        assert keys_under(endpoint, f"{prefix}/videos/{video_id}/") == []
        assert keys_under(endpoint, f"{prefix}/videos/{imaged['id']}/")  # the others stay
        assert http.delete(f"/v1/videos/{imaged['id']}").status_code == 200
        assert keys_under(endpoint, f"{prefix}/videos/{imaged['id']}/") == []
        assert not any(k.endswith("/red.png") for k in keys_under(endpoint, f"{prefix}/inputs/"))
        assert http.get(f"/v1/videos/{video_id}/content").status_code == 404


async def test_upstream_file_parts_are_spooled_not_buffered(endpoint: str, tmp_path: Path) -> None:
    from contextlib import AsyncExitStack

    from vidgate.routing.dispatch import _open

    store = S3BlobStore(f"s3://{BUCKET}/unit/open", options(endpoint))
    source = tmp_path / "in.mp4"
    digest = random_file(source, 6 * MIB)
    try:
        await store.put_file("inputs/u/in.mp4", source, "video/mp4", "u")
        async with AsyncExitStack() as stack:
            handle = await _open(stack, store, "inputs/u/in.mp4")
            assert hashlib.sha256(handle.read()).hexdigest() == digest
    finally:
        await store.aclose()


def test_file_part_is_a_window_of_the_file(tmp_path: Path) -> None:
    from vidgate.storage.s3 import FilePart

    path = tmp_path / "f"
    path.write_bytes(bytes(range(100)))
    with FilePart(path, 10, 20) as part:
        assert part.read(5) == bytes(range(10, 15)) and part.tell() == 5
        assert part.read() == bytes(range(15, 30)) and part.read(1) == b""
        assert part.seek(0, io.SEEK_END) == 20
        part.seek(0)
        buffer = bytearray(8)
        assert part.readinto(buffer) == 8 and bytes(buffer) == bytes(range(10, 18))
        part.seek(-2, io.SEEK_END)
        assert part.read(10) == bytes([28, 29])


def test_a_delete_racing_the_first_preview_on_s3_is_a_404(endpoint: str, tmp_path: Path) -> None:
    """The video is copied from S3 to make its first thumbnail; a DELETE that lands while the
    copy waits removes the object: the thumbnail answers 404, not 500."""
    config = {**LOCAL_FAST, **on_s3(endpoint, "race")}
    with running_gateway(tmp_path / "gw", config) as gw, gw.http() as http:
        video = gw.sdk().videos.create_and_poll(
            prompt="race", seconds="1", size="320x180", poll_interval_ms=50
        )
        assert video.status == "completed", video
        storage = gw.app.state.jobs.poller.archiver.on_request.storage
        original = storage.read
        held, gate = threading.Event(), threading.Event()

        async def read(key: str, *args: Any, **kwargs: Any) -> Any:
            if key.endswith("video.mp4") and not gate.is_set():
                held.set()  # the making's copy waits here until the DELETE is done
                await asyncio.to_thread(gate.wait, 120)
            async for chunk in original(key, *args, **kwargs):
                yield chunk

        storage.read = read
        with ThreadPoolExecutor(1) as pool:
            thumbnail = pool.submit(
                http.get, f"/v1/videos/{video.id}/content", params={"variant": "thumbnail"}
            )
            assert held.wait(120)
            assert http.delete(f"/v1/videos/{video.id}").status_code == 200
            gate.set()
            reply = thumbnail.result(120)
        assert reply.status_code == 404, reply.text
        assert reply.json()["error"]["code"] == "not_found"
