"""End to end with the official openai SDK against the gateway on the local renderer."""

from __future__ import annotations

import io
from pathlib import Path

import av
import httpx
import openai
import pytest
from PIL import Image

from tests.support import Gateway

SMALL = {"size": "640x360", "seconds": "2"}


def decode(data: bytes) -> tuple[float, int, int, int]:
    """Duration (s), width, height and frame count of an MP4 given as bytes."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        rate = float(stream.average_rate or 24)
        return frames / rate, stream.codec_context.width, stream.codec_context.height, frames


def test_create_and_poll_then_download_all_variants(gateway: Gateway) -> None:
    client = gateway.sdk()
    video = client.videos.create_and_poll(
        prompt="a red fox in the snow", poll_interval_ms=50, **SMALL
    )
    assert video.status == "completed", video.error
    assert video.progress == 100 and video.seconds == "2" and video.size == "640x360"
    assert video.model == "local/preview" and video.completed_at is not None
    content = client.videos.download_content(video.id)
    duration, width, height, frames = decode(content.content)
    assert (width, height, frames) == (640, 360, 48) and duration == pytest.approx(2.0)
    thumb = client.videos.download_content(video.id, variant="thumbnail")
    assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"
    sprite = client.videos.download_content(video.id, variant="spritesheet")
    assert Image.open(io.BytesIO(sprite.content)).format == "JPEG"


def test_poll_header_while_running(gateway: Gateway) -> None:
    with gateway.http() as http:
        created = http.post(
            "/v1/videos", json={"prompt": "slow one", "seconds": 6, "size": "640x360"}
        )
        assert created.status_code == 200
        assert created.json()["status"] in ("queued", "in_progress")
        assert int(created.headers["openai-poll-after-ms"]) > 0
        done = gateway.sdk().videos.poll(created.json()["id"], poll_interval_ms=50)
        assert done.status == "completed"
        final = http.get(f"/v1/videos/{done.id}")
        assert "openai-poll-after-ms" not in final.headers


def test_json_and_multipart_forms_with_input_reference(gateway: Gateway, tmp_path: Path) -> None:
    image = tmp_path / "red.png"
    Image.new("RGB", (640, 360), (220, 10, 10)).save(image)
    client = gateway.sdk()
    with image.open("rb") as handle:  # multipart upload, as the SDK sends it
        video = client.videos.create(prompt="from an image", input_reference=handle, **SMALL)
    done = client.videos.poll(video.id, poll_interval_ms=50)
    assert done.status == "completed"
    first = _first_frame(client.videos.download_content(done.id).content)
    red, green, _ = first.resize((1, 1)).getpixel((0, 0))
    assert red > 120 and green < 90
    data_url = (
        "data:image/png;base64," + __import__("base64").b64encode(image.read_bytes()).decode()
    )
    with gateway.http() as http:  # JSON with the object form
        body = {"prompt": "json object form", "input_reference": {"image_url": data_url}, **SMALL}
        assert http.post("/v1/videos", json=body).status_code == 200
        form = {"prompt": "bracket form", "input_reference[image_url]": data_url, **SMALL}
        bracket = http.post("/v1/videos", files=multipart(form))
        assert bracket.status_code == 200, bracket.text
        files = {"input_reference.0": ("red.png", image.read_bytes(), "image/png")}
        dotted = http.post("/v1/videos", data={"prompt": "dotted field", **SMALL}, files=files)
        assert dotted.status_code == 200, dotted.text


def multipart(fields: dict[str, str]) -> list[tuple[str, tuple[None, str]]]:
    """Plain fields sent as multipart/form-data (httpx: a part with no filename)."""
    return [(name, (None, value)) for name, value in fields.items()]


def _first_frame(data: bytes) -> Image.Image:
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.to_image()


def test_numbers_or_strings_for_seconds(gateway: Gateway) -> None:
    with gateway.http() as http:
        as_int = http.post("/v1/videos", json={"prompt": "int", "seconds": 1, "size": "320x180"})
        as_str = http.post("/v1/videos", json={"prompt": "str", "seconds": "1", "size": "320x180"})
        assert as_int.json()["seconds"] == as_str.json()["seconds"] == "1"


def test_list_pagination_both_orders(fresh_gateway: Gateway) -> None:
    client = fresh_gateway.sdk()
    ids = [
        client.videos.create(prompt=f"clip {i}", seconds="1", size="320x180").id for i in range(5)
    ]
    first = client.videos.list(limit=2)
    assert [v.id for v in first.data] == ids[::-1][:2] and first.has_more
    assert first.first_id == ids[4] and first.last_id == ids[3]
    newest_first = [v.id for v in client.videos.list(limit=2)]  # auto-paging follows `after`
    assert newest_first == ids[::-1]
    oldest_first = [v.id for v in client.videos.list(limit=2, order="asc")]
    assert oldest_first == ids
    last = client.videos.list(limit=2, order="asc", after=ids[2])
    assert [v.id for v in last.data] == ids[3:] and not last.has_more
    with fresh_gateway.http() as http:
        page = http.get("/v1/videos", params={"limit": 100}).json()
        assert set(page) == {"object", "data", "first_id", "last_id", "has_more"}
        assert page["object"] == "list" and len(page["data"]) == 5


def test_remix_edit_extend(gateway: Gateway) -> None:
    client = gateway.sdk()
    source = client.videos.create_and_poll(prompt="source", poll_interval_ms=50, **SMALL)
    remix = client.videos.remix(source.id, prompt="remixed")
    assert remix.remixed_from_video_id == source.id
    remix = client.videos.poll(remix.id, poll_interval_ms=50)
    assert remix.status == "completed" and remix.seconds == "2"
    with gateway.http() as http:  # the SDK 3.51 only uploads files for `video`; use the wire form
        edit = http.post("/v1/videos/edits", json={"prompt": "edited", "video": {"id": source.id}})
        assert edit.status_code == 200, edit.text
        form = {"prompt": "and then", "seconds": "1", "video[id]": source.id}
        extend = http.post("/v1/videos/extensions", files=multipart(form))
        assert extend.status_code == 200, extend.text
        assert extend.json()["seconds"] == "3"
    edited = client.videos.poll(edit.json()["id"], poll_interval_ms=50)
    extended = client.videos.poll(extend.json()["id"], poll_interval_ms=50)
    assert edited.status == extended.status == "completed"
    assert decode(client.videos.download_content(extended.id).content)[0] == pytest.approx(3.0)
    edit_bytes = decode(client.videos.download_content(edited.id).content)
    assert edit_bytes[1:3] == (640, 360) and edit_bytes[0] == pytest.approx(2.0)


def test_edit_and_extend_from_uploaded_file(gateway: Gateway) -> None:
    client = gateway.sdk()
    source = client.videos.create_and_poll(prompt="upload me", poll_interval_ms=50, **SMALL)
    data = client.videos.download_content(source.id).content
    extended = client.videos.extend(prompt="more", seconds="4", video=("in.mp4", data, "video/mp4"))
    extended = client.videos.poll(extended.id, poll_interval_ms=50)
    assert extended.status == "completed" and extended.seconds == "6"
    edited = client.videos.edit(prompt="tinted", video=("in.mp4", data, "video/mp4"))
    assert client.videos.poll(edited.id, poll_interval_ms=50).status == "completed"


def test_delete_removes_assets_and_id(gateway: Gateway) -> None:
    client = gateway.sdk()
    video = client.videos.create_and_poll(prompt="to delete", poll_interval_ms=50, **SMALL)
    for variant in ("thumbnail", "spritesheet"):  # made on request (settings.previews)
        client.videos.download_content(video.id, variant=variant)
    assets = list((gateway.data_dir / "blobs" / "videos" / video.id).iterdir())
    assert len(assets) == 3
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    assert not (gateway.data_dir / "blobs" / "videos" / video.id).exists()
    for call in (
        lambda: client.videos.retrieve(video.id),
        lambda: client.videos.download_content(video.id),
        lambda: client.videos.delete(video.id),
        lambda: client.videos.remix(video.id, prompt="again"),
    ):
        with pytest.raises(openai.NotFoundError):
            call()


def test_delete_while_running_is_not_resurrected(gateway: Gateway) -> None:
    client = gateway.sdk()
    video = client.videos.create(prompt="delete me early", seconds="8", size="640x360")
    client.videos.delete(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    ids = [v.id for v in client.videos.list(limit=100)]
    assert video.id not in ids


def test_models_lists_local_renderer(gateway: Gateway) -> None:
    models = gateway.sdk().models.list()
    (local,) = [m for m in models.data if m.id == "local/preview"]
    assert "not an AI model" in (local.model_extra or {}).get("description", "")


def test_routes_work_without_v1_prefix(gateway: Gateway) -> None:
    with gateway.http() as http:
        created = http.post("/videos", json={"prompt": "bare", "seconds": 1, "size": "320x180"})
        assert created.status_code == 200
        assert http.get(f"/videos/{created.json()['id']}").status_code == 200
        assert http.get("/models").status_code == 200


def test_content_range_etag_head(gateway: Gateway) -> None:
    client = gateway.sdk()
    video = client.videos.create_and_poll(prompt="ranges", poll_interval_ms=50, **SMALL)
    with gateway.http() as http:
        full = http.get(f"/v1/videos/{video.id}/content")
        assert full.headers["content-type"] == "video/mp4"
        size = int(full.headers["content-length"])
        assert size == len(full.content) and full.headers["accept-ranges"] == "bytes"
        etag = full.headers["etag"]
        part = http.get(f"/v1/videos/{video.id}/content", headers={"Range": "bytes=10-109"})
        assert part.status_code == 206 and part.content == full.content[10:110]
        assert part.headers["content-range"] == f"bytes 10-109/{size}"
        head = http.head(f"/v1/videos/{video.id}/content")
        assert head.status_code == 200 and head.headers["content-length"] == str(size)
        cached = http.get(f"/v1/videos/{video.id}/content", headers={"If-None-Match": etag})
        assert cached.status_code == 304
        stale = http.get(
            f"/v1/videos/{video.id}/content", headers={"Range": "bytes=0-9", "If-Range": '"other"'}
        )
        assert stale.status_code == 200 and len(stale.content) == size


def test_content_of_unfinished_job_is_a_clear_error(gateway: Gateway) -> None:
    with gateway.http() as http:
        created = http.post(
            "/v1/videos", json={"prompt": "not yet", "seconds": 10, "size": "1280x720"}
        )
        response = http.get(f"/v1/videos/{created.json()['id']}/content")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "video_not_ready"
        http.delete(f"/v1/videos/{created.json()['id']}")


def test_unauthenticated_is_401(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/v1/videos")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
    with pytest.raises(openai.AuthenticationError):
        gateway.sdk("sk-vg-wrong").videos.list()
