"""Idempotency-Key: same key and body → same job; same key, other body → 409."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

from tests.support import Gateway


def test_same_key_same_body_returns_the_same_job(gateway: Gateway) -> None:
    body = {"prompt": "once", "seconds": 1, "size": "320x180"}
    headers = {"Idempotency-Key": "idem-1"}
    with gateway.http() as http:
        first = http.post("/v1/videos", json=body, headers=headers).json()
        second = http.post("/v1/videos", json=body, headers=headers).json()
        assert first["id"] == second["id"]
        listed = http.get("/v1/videos", params={"limit": 100}).json()["data"]
        assert sum(1 for v in listed if v["prompt"] == "once") == 1
        other = http.post("/v1/videos", json={**body, "prompt": "twice"}, headers=headers)
        assert other.status_code == 409
        assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_concurrent_duplicates_make_one_job(gateway: Gateway) -> None:
    body = {"prompt": "race", "seconds": 1, "size": "320x180"}

    def post(_: int) -> str:
        with gateway.http() as http:
            response = http.post("/v1/videos", json=body, headers={"Idempotency-Key": "race-1"})
            assert response.status_code == 200, response.text
            return str(response.json()["id"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(post, range(8)))
    assert len(ids) == 1
    with gateway.http() as http:
        listed = http.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert [v["id"] for v in listed if v["prompt"] == "race"] == list(ids)


def test_uploads_compared_by_content(gateway: Gateway, tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "a.png"
    Image.new("RGB", (320, 180), (0, 0, 200)).save(image)
    data = {"prompt": "upload idem", "seconds": "1", "size": "320x180"}
    with gateway.http() as http:
        ids = {
            http.post(
                "/v1/videos",
                data=data,
                headers={"Idempotency-Key": "up-1"},
                files={"input_reference": ("a.png", image.read_bytes(), "image/png")},
            ).json()["id"]
            for _ in range(2)
        }
        assert len(ids) == 1
        Image.new("RGB", (320, 180), (0, 200, 0)).save(image)  # same name, other content
        other = http.post(
            "/v1/videos",
            data=data,
            headers={"Idempotency-Key": "up-1"},
            files={"input_reference": ("a.png", image.read_bytes(), "image/png")},
        )
        assert other.status_code == 409


def test_keys_are_scoped_per_api_key(gateway: Gateway) -> None:
    body = {"prompt": "scoped", "seconds": 1, "size": "320x180"}
    other_key = gateway.new_key()
    with gateway.http() as mine, gateway.http(other_key) as theirs:
        a = mine.post("/v1/videos", json=body, headers={"Idempotency-Key": "shared"}).json()
        b = theirs.post("/v1/videos", json=body, headers={"Idempotency-Key": "shared"}).json()
    assert a["id"] != b["id"]
