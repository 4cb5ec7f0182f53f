"""Every validation path answers 400 (never 422) in the OpenAI envelope, naming the param."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Gateway


def error_of(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


@pytest.mark.parametrize(
    ("body", "param", "needle"),
    [
        ({}, "prompt", "Missing required parameter"),
        ({"prompt": ""}, "prompt", "Missing required parameter"),
        ({"prompt": 5}, "prompt", "must be a string"),
        ({"prompt": "x", "seconds": 21}, "seconds", "allows: 1, 2, 3"),
        ({"prompt": "x", "seconds": "four"}, "seconds", "expected an integer"),
        ({"prompt": "x", "seconds": 0}, "seconds", "allows"),
        ({"prompt": "x", "seconds": True}, "seconds", "must be an integer"),
        ({"prompt": "x", "size": "big"}, "size", "WIDTHxHEIGHT"),
        ({"prompt": "x", "size": "1000x1000"}, "size", "allows: 1280x720"),
        ({"prompt": "x", "fps": 60}, "fps", "allows: 12, 24, 25, 30"),
        ({"prompt": "x", "quality": "hd"}, "quality", "Unrecognized request argument"),
        ({"prompt": "x", "metadata": {"steps": 3}}, "metadata.steps", "Allowed: none"),
        ({"prompt": "x", "metadata": "nope"}, "metadata", "must be an object"),
        ({"prompt": "x", "input_reference": "http://x/y.png"}, "input_reference", "Invalid type"),
        ({"prompt": "x", "input_reference": {"image_url": "a", "file_id": "b"}},
         "input_reference", "exactly one"),
        ({"prompt": "x", "input_reference": {"file_id": "file_1"}},
         "input_reference", "cannot use a file id"),
        ({"prompt": "x", "input_reference": {"image_url": "data:image/png;base64,@@"}},
         "input_reference", "not valid base64"),
        ({"prompt": "x" * 32_001}, "prompt", "too long"),
    ],
)  # fmt: skip
def test_create_rejections(gateway: Gateway, body: dict[str, Any], param: str, needle: str) -> None:
    with gateway.http() as http:
        error = error_of(http.post("/v1/videos", json=body))
    assert error["param"] == param and needle in error["message"], error
    assert error["type"] == "invalid_request_error"


def test_unknown_model_is_404_naming_the_available_ones(gateway: Gateway) -> None:
    with gateway.http() as http:
        error = error_of(http.post("/v1/videos", json={"prompt": "x", "model": "nope"}), 404)
    assert error["code"] == "model_not_found" and "local/preview" in error["message"]


@pytest.mark.parametrize(
    ("query", "param"),
    [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "x"}, "limit"),
     ({"order": "sideways"}, "order"), ({"after": "video_nope"}, "after")],
)  # fmt: skip
def test_list_rejections(gateway: Gateway, query: dict[str, str], param: str) -> None:
    with gateway.http() as http:
        assert error_of(http.get("/v1/videos", params=query))["param"] == param


def test_bad_bodies(gateway: Gateway) -> None:
    with gateway.http() as http:
        not_json = http.post(
            "/v1/videos", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert error_of(not_json)["code"] == "invalid_json"
        array = http.post("/v1/videos", json=[1, 2])
        assert error_of(array)["code"] == "invalid_json"
        xml = http.post("/v1/videos", content=b"<a/>", headers={"content-type": "application/xml"})
        assert error_of(xml, 415)["code"] == "unsupported_media_type"
        files = {"input_reference": ("a.txt", b"hello", "text/plain")}
        text_file = http.post("/v1/videos", data={"prompt": "x"}, files=files)
        assert error_of(text_file)["param"] == "input_reference"


def test_variant_and_missing_ids(gateway: Gateway) -> None:
    with gateway.http() as http:
        created = http.post("/v1/videos", json={"prompt": "v", "seconds": 1, "size": "320x180"})
        video_id = created.json()["id"]
        bad = http.get(f"/v1/videos/{video_id}/content", params={"variant": "poster"})
        assert error_of(bad)["param"] == "variant"
        assert error_of(http.get("/v1/videos/video_missing"), 404)["code"] == "not_found"
        assert error_of(http.delete("/v1/videos/video_missing"), 404)["code"] == "not_found"
        remix = http.post("/v1/videos/video_missing/remix", json={"prompt": "r"})
        assert error_of(remix, 404)["param"] == "video"


def test_follow_up_validation(gateway: Gateway) -> None:
    with gateway.http() as http:
        running = http.post(
            "/v1/videos", json={"prompt": "long", "seconds": 12, "size": "1280x720"}
        ).json()
        remix = http.post(f"/v1/videos/{running['id']}/remix", json={"prompt": "r"})
        assert error_of(remix)["code"] == "video_not_ready"
        no_video = http.post("/v1/videos/edits", json={"prompt": "e"})
        assert error_of(no_video)["param"] == "video"
        bad_video = http.post("/v1/videos/edits", json={"prompt": "e", "video": "video_1"})
        assert error_of(bad_video)["param"] == "video"
        no_seconds = http.post("/v1/videos/extensions", json={"prompt": "e", "video": {"id": "x"}})
        assert error_of(no_seconds)["param"] == "seconds"
        extra = http.post(f"/v1/videos/{running['id']}/remix", json={"prompt": "r", "size": "1x1"})
        assert error_of(extra)["param"] == "size"
        not_a_video = http.post(
            "/v1/videos/edits",
            data={"prompt": "e"},
            files={"video": ("v.mp4", b"not a video", "video/mp4")},
        )
        assert error_of(not_a_video)["param"] == "video"
        http.delete(f"/v1/videos/{running['id']}")


def test_unknown_route_and_method_use_the_envelope(gateway: Gateway) -> None:
    with gateway.http() as http:
        assert error_of(http.get("/v1/nothing-here"), 404)["type"] == "invalid_request_error"
        assert error_of(http.put("/v1/videos"), 405)["code"] == "method_not_allowed"


def test_upload_over_limit_is_413(tmp_path: Any) -> None:
    from tests.conftest import LOCAL_FAST
    from tests.support import running_gateway

    config = {**LOCAL_FAST, "settings": {"max_upload_bytes": 1000}}
    with running_gateway(tmp_path / "gw", config) as gw, gw.http() as http:
        files = {"input_reference": ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 5000, "image/png")}
        response = http.post("/v1/videos", data={"prompt": "x"}, files=files)
        assert error_of(response, 413)["code"] == "payload_too_large"
