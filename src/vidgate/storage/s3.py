"""Blob store on an S3-compatible service (AWS S3, MinIO, Cloudflare R2, Ceph...).

Why aiobotocore: it is botocore (the request signing, retries, region and endpoint rules,
credential chain and service model behind boto3 and the AWS CLI) on asyncio's aiohttp,
maintained in step with botocore releases. Requests are awaited, not run in threads, and
bodies stream both ways: a response body is read from the socket chunk by chunk, and a
request body may be a file, which is read in small pieces as the socket takes them. Nothing
else in vidgate needs the AWS SDK, so this module (and the library) is imported only when
``storage_url`` is ``s3://...``.

Memory stays bounded (about a MiB per transfer) whatever the video size:

* ``put_file`` sends a file of one part or less (``part_size_mb``, 16 MiB by default) as a
  single ``PutObject`` streamed from the open file; a bigger one as a multipart upload whose
  parts are sent one after another, each streamed from its window of the file
  (``FilePart``), so not even one part is held in memory. A failed multipart upload is
  aborted, leaving no billable orphan parts behind. Over plain ``http://`` endpoints
  botocore also reads each body before sending it, in 1 MiB pieces, to sign it (SHA-256)
  and checksum it; over ``https://`` the payload is unsigned and the checksum is a trailer
  computed while sending.
* ``read`` is one ``GetObject`` with ``Range: bytes=start-end`` whose body is handed on in
  chunks of at most 256 KiB as it arrives; a consumer that stops early (a client that hung
  up) closes the HTTP response instead of draining it.
* ``delete_prefix`` lists the prefix page by page and deletes in batches of 1000 keys (the
  ``DeleteObjects`` limit).

One client (one connection pool) serves the process. It is created on first use, inside the
running event loop it belongs to, and closed by ``aclose()``. The pool allows
``MAX_CONNECTIONS`` connections, since every content download in progress holds one.

Start-up errors: nothing is contacted until first use. ``check()`` (a ``HeadBucket``) turns
a missing bucket, refused credentials or an unreachable endpoint into one clear
``StorageUnavailable`` message, and is meant to be awaited once at start-up; without it the
same causes surface as botocore errors on the first archive or download.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, suppress
from pathlib import Path
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from vidgate.settings import StorageOptions
from vidgate.storage.base import BlobInfo

CHUNK = 256 * 1024
"""The most ``read`` yields at once (the local store and the content route use the same)."""
MIB = 1024 * 1024
MAX_PARTS = 10_000
"""S3's limit on parts per multipart upload; bigger files get bigger parts."""
DELETE_BATCH = 1000
"""S3's limit on keys per ``DeleteObjects``."""
MAX_CONNECTIONS = 256
"""Connection pool size: each content download streaming from S3 holds one connection."""


class StorageUnavailable(RuntimeError):
    """The configured bucket cannot be used (missing, refused, unreachable)."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix/``); no prefix -> ``""``."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url!r}")
    parts = [p for p in prefix.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ValueError(f"bad key prefix in {url!r}")
    return bucket, "".join(p + "/" for p in parts)


class S3BlobStore:
    """``BlobStore`` over one bucket and key prefix of an S3-compatible service."""

    def __init__(self, url: str, options: StorageOptions) -> None:
        self.url = url
        self.bucket, self.prefix = parse_s3_url(url)
        self.options = options
        self.part_size = options.part_size_mb * MIB
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._lock: asyncio.Lock | None = None

    # --- the client ------------------------------------------------------------------------

    async def _s3(self) -> Any:
        """The shared client, created on first use in the running loop."""
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                options = self.options
                config = AioConfig(
                    s3={"addressing_style": options.addressing_style},
                    retries={"mode": "standard", "max_attempts": 4},
                    max_pool_connections=MAX_CONNECTIONS,
                    warm_up_loader_caches=True,  # load the service model in a thread
                )
                stack = AsyncExitStack()
                self._client = await stack.enter_async_context(
                    get_session().create_client(
                        "s3",
                        endpoint_url=options.endpoint_url,
                        region_name=options.region,
                        aws_access_key_id=options.access_key_id,
                        aws_secret_access_key=options.secret_access_key,
                        config=config,
                    )
                )
                self._stack = stack
        return self._client

    async def aclose(self) -> None:
        """Close the client and its connections (the app calls this at shutdown)."""
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def check(self) -> None:
        """Fail with a clear ``StorageUnavailable`` unless the bucket is reachable and ours."""
        where = f"{self.url} (endpoint {self.options.endpoint_url or 'AWS default'})"
        try:
            s3 = await self._s3()
            await s3.head_bucket(Bucket=self.bucket)
        except NoCredentialsError:
            raise StorageUnavailable(
                f"Storage {where}: no credentials; set storage.access_key_id and "
                "storage.secret_access_key, or the AWS environment / credential files."
            ) from None
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code", "")
            if status == 404 or code in ("404", "NoSuchBucket", "NotFound"):
                reason = f"the bucket {self.bucket!r} does not exist"
            elif status in (401, 403):
                reason = "access denied: check the credentials and their rights on the bucket"
            else:
                reason = f"{code or status}: {exc}"
            raise StorageUnavailable(f"Storage {where}: {reason}.") from exc
        except (BotoCoreError, OSError) as exc:  # unreachable endpoint, partial credentials...
            raise StorageUnavailable(f"Storage {where}: {exc}") from exc

    def _key(self, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in (".", "..") for p in parts):
            raise ValueError(f"blob key escapes the store: {key!r}")
        return self.prefix + key

    # --- the protocol ----------------------------------------------------------------------

    def local_path(self, key: str) -> Path | None:
        return None

    async def put_file(self, key: str, path: Path, content_type: str, etag: str) -> BlobInfo:
        """Upload a finished file, streamed from disk, then remove it (a move, as locally)."""
        s3 = await self._s3()
        target = self._key(key)
        extra = {"ContentType": content_type, "Metadata": {"sha": etag}}
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= self.part_size:
                await s3.put_object(
                    Bucket=self.bucket, Key=target, Body=handle, ContentLength=size, **extra
                )
            else:
                await self._multipart(s3, target, path, size, extra)
        await asyncio.to_thread(path.unlink, True)
        return BlobInfo(key, size, etag, content_type)

    async def _multipart(
        self, s3: Any, target: str, path: Path, size: int, extra: dict[str, Any]
    ) -> None:
        part_size = max(self.part_size, math.ceil(size / MAX_PARTS))
        created = await s3.create_multipart_upload(Bucket=self.bucket, Key=target, **extra)
        upload_id = created["UploadId"]
        try:
            parts = []
            for number, offset in enumerate(range(0, size, part_size), start=1):
                length = min(part_size, size - offset)
                with FilePart(path, offset, length) as body:
                    done = await s3.upload_part(
                        Bucket=self.bucket,
                        Key=target,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=body,
                        ContentLength=length,
                    )
                parts.append({"PartNumber": number, "ETag": done["ETag"]})
            await s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=target,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with suppress(Exception):
                await s3.abort_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload_id)
            raise

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        s3 = await self._s3()
        etag = hashlib.sha256(data).hexdigest()[:32]
        await s3.put_object(
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ContentType=content_type,
            Metadata={"sha": etag},
        )
        return BlobInfo(key, len(data), etag, content_type)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if end is not None and end < start:
            return  # an empty range (an empty blob)
        s3 = await self._s3()
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start > 0 or end is not None:
            request["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            response = await s3.get_object(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"no blob {key!r}") from exc
            raise
        body = response["Body"]
        try:
            while chunk := await body.read(CHUNK):
                yield chunk
        finally:
            body.close()  # a no-op once drained; drops the connection if stopped early

    async def read_all(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.read(key)])

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every object under ``prefix`` (refuses ``""``: that would be everything)."""
        if not prefix:
            raise ValueError("refusing to delete the whole store")
        s3 = await self._s3()
        full = self._key(prefix.rstrip("/")) + ("/" if prefix.endswith("/") else "")
        batch: list[dict[str, str]] = []
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for item in page.get("Contents", []):
                batch.append({"Key": item["Key"]})
                if len(batch) == DELETE_BATCH:
                    await self._delete(s3, batch)
                    batch = []
        if batch:
            await self._delete(s3, batch)

    async def _delete(self, s3: Any, objects: list[dict[str, str]]) -> None:
        done = await s3.delete_objects(
            Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
        )
        errors = done.get("Errors") or []
        if errors:
            first = errors[0]
            raise OSError(
                f"S3 could not delete {len(errors)} object(s), e.g. {first.get('Key')}: "
                f"{first.get('Code')} {first.get('Message')}"
            )


class FilePart(io.RawIOBase):
    """``length`` bytes of a file from ``offset``, as a seekable read-only file of its own.

    An upload part is given to the client as this rather than as bytes: the HTTP client reads
    it in small pieces (in a thread) as the socket takes them, and a retry seeks back to its
    start. As bytes, a part would sit in memory whole and be copied once more into the
    socket's send buffer.
    """

    def __init__(self, path: Path, offset: int, length: int) -> None:
        super().__init__()
        self._file = path.open("rb", buffering=0)
        self._offset = offset
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        if base + pos < 0:
            raise ValueError("negative seek position")
        self._pos = base + pos
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        left = self._length - self._pos
        if left <= 0:
            return b""
        want = left if size is None or size < 0 else min(size, left)
        self._file.seek(self._offset + self._pos)
        data = self._file.read(want) or b""
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()
