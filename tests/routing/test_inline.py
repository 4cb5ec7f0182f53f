"""Inline placeholders become base64, data URIs or content types when a call is sent."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Asset, Inline
from vidgate.routing.inline import contains_inline, materialize
from vidgate.storage.local import LocalBlobStore


async def test_blob_and_data_url_forms(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    await store.put_bytes("inputs/a/x.png", b"\x89PNG-bytes", "image/png")
    blob = Asset("blob", "inputs/a/x.png", "image/png")
    data_url = Asset("url", "data:image/jpeg;base64," + base64.b64encode(b"jpeg!").decode())
    body = {
        "instances": [
            {"image": {"bytesBase64Encoded": Inline(blob), "mimeType": Inline(blob, "mime_type")}}
        ],
        "frames": [Inline(data_url, "data_uri")],
        "n": 1,
    }
    assert contains_inline(body) and not contains_inline({"a": [1, "x"]})
    async with httpx.AsyncClient() as http:
        out = await materialize(body, store, http)
    image = out["instances"][0]["image"]
    assert base64.b64decode(image["bytesBase64Encoded"]) == b"\x89PNG-bytes"
    assert image["mimeType"] == "image/png"
    assert out["frames"] == [data_url.value] and out["n"] == 1


async def test_fetches_http_urls_and_rejects_file_ids(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"remote", headers={"content-type": "image/webp"})

    store = LocalBlobStore(tmp_path)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        out = await materialize(
            [Inline(Asset("url", "https://img.test/a.webp"), "data_uri")], store, http
        )
        assert out == ["data:image/webp;base64," + base64.b64encode(b"remote").decode()]
        with pytest.raises(InvalidRequest):
            await materialize(Inline(Asset("file_id", "file_1")), store, http)
