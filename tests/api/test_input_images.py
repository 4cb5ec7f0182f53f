"""Input images the gateway holds are decoded before a job exists: 400 naming the field.

They once were accepted (200, money held) and the job failed later with
``render_failed: ValueError: first_frame is not a readable PNG/JPEG/WebP image``.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support import Gateway, png_uri

PNG_HEAD = b"\x89PNG\r\n\x1a\n"
NOT_AN_IMAGE = PNG_HEAD + b"this is not a png" * 100
BAD_URI = "data:image/png;base64," + base64.b64encode(NOT_AN_IMAGE).decode()


def _png(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def _uploads_left(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.is_file() and "inputs" in p.parts]


def _assert_refused(response: httpx.Response, param: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["code"] == "invalid_image", error
    assert param in error["message"] and "Error" not in error["message"]


def test_uploaded_file_that_is_not_an_image(fresh_gateway: Gateway) -> None:
    key = fresh_gateway.new_key()
    with fresh_gateway.http(key) as client:
        files = {"input_reference": ("cat.png", NOT_AN_IMAGE, "image/png")}
        data = {"prompt": "a cat", "model": "local/preview"}
        _assert_refused(client.post("/v1/videos", data=data, files=files), "input_reference")
        assert client.get("/v1/videos").json()["data"] == []
        spent = client.get("/key/info").json()["info"]
        assert spent["spend"] == 0 and spent["reserved"] == 0
    assert _uploads_left(fresh_gateway.data_dir) == []


JSON_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/videos", {"input_reference": {"image_url": BAD_URI}}, "input_reference"),
    ("/v1/videos", {"image": BAD_URI}, "image"),
    ("/v1/videos", {"image": "data:image/png;base64,!!notbase64"}, "image"),
    ("/v1/videos", {"images": [png_uri(64, 64), BAD_URI]}, "images[1]"),
    ("/v2/video/generations", {"image_url": BAD_URI}, "image_url"),
    ("/v1/video/generations", {"images": [BAD_URI]}, "images[0]"),
]


@pytest.mark.parametrize(("path", "fields", "param"), JSON_CASES)
def test_data_uri_that_is_not_an_image(
    gateway: Gateway, path: str, fields: dict[str, Any], param: str
) -> None:
    body = {"prompt": "a cat", "model": "local/preview", **fields}
    with gateway.http() as client:
        before = len(client.get("/v1/videos", params={"limit": 100}).json()["data"])
        _assert_refused(client.post(path, json=body), param)
        assert len(client.get("/v1/videos", params={"limit": 100}).json()["data"]) == before


def test_real_images_still_pass(gateway: Gateway) -> None:
    with gateway.http() as client:
        files = {"input_reference": ("cat.png", _png(), "application/octet-stream")}
        data = {"prompt": "a cat", "model": "local/preview", "size": "1280x720"}
        response = client.post("/v1/videos", data=data, files=files)
        assert response.status_code == 200, response.text
        uri = {"prompt": "a cat", "model": "local/preview", "image": png_uri(1280, 720)}
        assert client.post("/v1/videos", json=uri).status_code == 200


def test_refused_request_leaves_no_upload(fresh_gateway: Gateway) -> None:
    with fresh_gateway.http() as client:
        files = {"input_reference": ("cat.png", _png(), "image/png")}
        data = {"prompt": "a cat", "model": "local/preview", "size": "huge"}
        response = client.post("/v1/videos", data=data, files=files)
        assert response.status_code == 400 and response.json()["error"]["param"] == "size"
        admin = client.post("/key/generate", files={"metadata": ("m.json", b"{}", "text/plain")})
        assert admin.status_code == 400 and admin.json()["error"]["param"] == "metadata"
    assert _uploads_left(fresh_gateway.data_dir) == []
