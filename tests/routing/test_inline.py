"""Inline placeholders become base64, data URIs or content types when a call is sent."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.outbound_targets import numeric_lookups_only
from tests.routing.imageserver import PNG, ImageServer
from tests.support import serve
from vidgate.errors import InvalidRequest
from vidgate.netpolicy import OutboundPolicy
from vidgate.providers.base import Inline
from vidgate.routing.imagefetch import ImageFetcher
from vidgate.routing.inline import contains_inline, materialize
from vidgate.storage.local import LocalBlobStore
from vidgate.values import Asset


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
    out = await materialize(body, store, None)
    image = out["instances"][0]["image"]
    assert base64.b64decode(image["bytesBase64Encoded"]) == b"\x89PNG-bytes"
    assert image["mimeType"] == "image/png"
    assert out["frames"] == [data_url.value] and out["n"] == 1


@pytest.fixture(scope="module")
def images() -> Iterator[tuple[ImageServer, str]]:
    server = ImageServer()
    with serve(server.app) as url:
        yield server, url


async def test_a_url_is_fetched_once_per_call(
    tmp_path: Path, images: tuple[ImageServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Veo wants an image's bytes and its MIME type: two placeholders, one fetch."""
    numeric_lookups_only(monkeypatch)
    server, url = images
    asset = Asset("url", f"{url}/octet", param="images[0]")
    body = {"image": {"bytesBase64Encoded": Inline(asset), "mimeType": Inline(asset, "mime_type")}}
    fetcher = ImageFetcher(OutboundPolicy.from_entries(["127.0.0.1/32"]))
    try:
        out = await materialize(body, LocalBlobStore(tmp_path), fetcher)
    finally:
        await fetcher.aclose()
    assert out == {
        "image": {"bytesBase64Encoded": base64.b64encode(PNG).decode(), "mimeType": "image/png"}
    }
    assert server.count("/octet") == 1


async def test_refusals_name_the_field_the_client_sent(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    cases = [
        (Asset("file_id", "file_1", param="image"), "image"),
        (Asset("url", "https://img.test/a.png", param="images[1]"), "images[1]"),  # no fetcher
        (Asset("url", "data:image/png;base64,%%%", param="image_url"), "image_url"),
        (Asset("url", "https://img.test/a.png"), "input_reference"),
    ]
    for asset, param in cases:
        with pytest.raises(InvalidRequest) as caught:
            await materialize(Inline(asset), store, None)
        assert caught.value.param == param and f"'{param}'" in caught.value.message
