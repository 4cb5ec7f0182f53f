"""The local renderer's spec: what it refuses, it refuses before a job exists."""

from __future__ import annotations

import pytest

from tests.support import Gateway


def test_a_remote_image_is_refused_naming_the_field_sent(gateway: Gateway) -> None:
    with gateway.http() as http:
        before = http.get("/v1/videos").json()["data"]
        url = "https://cdn.example/x.png"
        for field, value in (("image", url), ("input_reference", {"image_url": url})):
            response = http.post(
                "/v1/videos", json={"prompt": "p", "model": "local/preview", field: value}
            )
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["param"] == field and "no network calls" in error["message"]
        assert http.get("/v1/videos").json()["data"] == before  # no job was made


@pytest.mark.parametrize("seconds", ["0", "21"])
def test_lengths_outside_the_table(gateway: Gateway, seconds: str) -> None:
    with gateway.http() as http:
        response = http.post("/v1/videos", json={"prompt": "p", "seconds": seconds})
    assert response.status_code == 400 and response.json()["error"]["param"] == "seconds"
