"""Reads a request body — JSON or multipart — into one flat mapping, uploads stored as blobs.

Uploads are streamed to a temporary file while hashed and then moved into the blob store,
so a large ``video`` upload never sits in memory; each lands in its own
``inputs/<upload id>/`` folder, which the job service deletes with the job.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from vidgate import safe_json
from vidgate.api.bodylimit import too_large
from vidgate.errors import GatewayError, InvalidRequest, UnsupportedMediaType
from vidgate.media.sniff import sniff
from vidgate.request import Upload, unflatten, upload_folder
from vidgate.storage.base import BlobStore

CHUNK = 1024 * 1024


async def read_fields(
    request: Request, *, allow_empty: bool = False, files: bool = False
) -> dict[str, Any]:
    """The body as a mapping; multipart brackets unflattened and files turned into ``Upload``
    (only where ``files`` — the create routes; elsewhere a file part is a 400).

    The size limits hold while the body streams in (``api/bodylimit.py`` for every body,
    ``max_json_bytes`` here for JSON), not only against ``Content-Length``. Uploads of a
    body refused here are deleted before the error leaves.
    """
    state = request.app.state
    gateway = state.settings.config.settings
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _form(request, state.storage, state.settings.data_dir / "tmp", files)
    if ctype not in ("application/json", "", "text/plain") and not ctype.endswith("+json"):
        raise UnsupportedMediaType(
            f"Unsupported Content-Type '{ctype}'; send application/json or multipart/form-data."
        )
    raw = await read_limited(request, gateway.max_json_bytes, "JSON request body")
    if not raw or raw.isspace():  # (strip would copy a large body)
        if allow_empty:
            return {}
        raise InvalidRequest("The request body is empty; send JSON or multipart/form-data.")
    body = safe_json.loads(raw)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return body


JSON_AS_FORM = (
    "The request body looks like JSON but its Content-Type is a form's (curl -d sends "
    "application/x-www-form-urlencoded unless told otherwise); add "
    "-H 'Content-Type: application/json'."
)


def _not_json(key: str) -> None:
    """A JSON document sent with a form content type parses as a field named like the
    document (``{"prompt": ...}``): refuse it with the header to set, rather than report an
    unknown field or, where every field is optional, silently ignore the body."""
    if key.lstrip()[:1] in ("{", "["):
        raise InvalidRequest(JSON_AS_FORM, code="invalid_content_type")


async def read_limited(request: Request, limit: int, what: str) -> bytearray:
    """The whole body, refused with 413 as soon as it passes ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length and length.isascii() and length.isdigit() and int(length[:18]) > limit:
        raise too_large(what, limit)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_large(what, limit)
    return raw


async def _form(request: Request, storage: BlobStore, tmp: Path, files: bool) -> dict[str, Any]:
    form = await request.form(max_files=8, max_fields=200)
    flat: dict[str, Any] = {}
    try:
        for key, value in form.multi_items():
            if not isinstance(value, UploadFile):
                _not_json(key)
                _add(flat, key, value)
            elif files:
                _add(flat, key, await store_upload(storage, tmp, value, key))
            else:
                raise InvalidRequest(f"'{key}' is a file; this route takes no uploads.", param=key)
        fields = unflatten(flat)
        safe_json.check(fields)
    except GatewayError:
        await discard_uploads(flat, storage)
        raise
    finally:
        await form.close()
    return fields


def _add(flat: dict[str, Any], key: str, value: Any) -> None:
    """A form field; ``name[]`` and repeated names collect into a list (``images[]``)."""
    if key.endswith("[]"):
        key = key[:-2]
        flat.setdefault(key, [])
    if key not in flat:
        flat[key] = value
    elif isinstance(flat[key], list):
        flat[key].append(value)
    else:
        flat[key] = [flat[key], value]


async def store_upload(storage: BlobStore, tmp: Path, upload: UploadFile, field: str) -> Upload:
    """Copy an uploaded file into the blob store, hashing it on the way."""
    tmp.mkdir(parents=True, exist_ok=True)
    upload_id = secrets.token_hex(12)
    path = tmp / f"upload-{upload_id}"
    digest = hashlib.sha256()
    size = 0
    head = b""
    with path.open("wb") as handle:
        while chunk := await upload.read(CHUNK):
            if not head:
                head = chunk[:16]
            digest.update(chunk)
            size += len(chunk)
            await asyncio.to_thread(handle.write, chunk)
    if size == 0:
        path.unlink(missing_ok=True)
        raise InvalidRequest(f"The uploaded file '{field}' is empty.", param=field.split("[")[0])
    ctype = sniff(head) or (upload.content_type or "application/octet-stream")
    name = _safe_name(upload.filename or field)
    key = f"inputs/{upload_id}/{name}"
    info = await storage.put_file(key, path, ctype, digest.hexdigest()[:32])
    return Upload(info.key, name, ctype, size, digest.hexdigest())


async def discard_uploads(fields: Any, storage: BlobStore) -> None:
    """Delete the files stored for a request that will not become a job."""
    stack = [fields]
    while stack:
        item = stack.pop()
        if isinstance(item, Upload):
            await storage.delete_prefix(upload_folder(item.blob_key))
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name)
    return cleaned[:100] or "upload"
