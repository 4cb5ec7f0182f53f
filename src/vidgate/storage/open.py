"""The blob store a ``storage_url`` names: ``file://`` (the default) or ``s3://``.

The S3 store (and its client library) is imported only when configured, so the embedded
default starts without it.
"""

from __future__ import annotations

from vidgate.settings import Settings
from vidgate.storage.base import BlobStore
from vidgate.storage.local import LocalBlobStore


def open_storage(settings: Settings) -> BlobStore:
    if settings.storage_url.startswith("s3://"):
        from vidgate.storage.s3 import S3BlobStore

        return S3BlobStore(settings.storage_url, settings.config.storage)
    return LocalBlobStore(settings.storage_dir)
