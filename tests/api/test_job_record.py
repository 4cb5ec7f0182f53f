"""``GET /jobs/{id}``: the master key reads any job's record, a virtual key only its own, and
only the master key sees what is the operator's (the upstream task id and model)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support import Gateway, free_port, post_video, running_gateway, wait_for


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = {
        "model_list": [{"model_name": "local/preview", "provider": "local", "model": "preview"}],
        "settings": {"local_workers": 1, "outbound_allow": ["127.0.0.1/32"]},
    }
    with running_gateway(tmp_path_factory.mktemp("record"), config) as gateway:
        yield gateway


def _done(http: httpx.Client, video_id: str) -> dict[str, Any]:
    def terminal() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/v1/videos/{video_id}").json()
        return body if body["status"] in ("completed", "failed") else None

    found: dict[str, Any] = wait_for(terminal)
    return found


def test_owner_reads_own_record_without_upstream_fields(gw: Gateway) -> None:
    key, other = gw.new_key(alias="owner"), gw.new_key(alias="other")
    hook_url = f"http://127.0.0.1:{free_port()}/hook"
    with gw.http(key) as owner, gw.http(other) as stranger, gw.http() as master:
        endpoint = owner.post("/v1/webhooks", json={"url": hook_url})
        assert endpoint.status_code == 200, endpoint.text
        created = post_video(
            owner,
            model="local/preview",
            prompt="a lighthouse",
            seconds="1",
            size="320x180",
        )
        assert created.status_code == 200, created.text
        video_id = created.json()["id"]
        assert _done(owner, video_id)["status"] == "completed"

        mine = owner.get(f"/jobs/{video_id}")
        assert mine.status_code == 200, mine.text
        record = mine.json()
        assert record["id"] == video_id and record["status"] == "completed"
        assert "upstream_id" not in record and "upstream_model" not in record
        assert "upstream_model" not in record["request"]
        assert record["request"]["prompt"] == "a lighthouse"
        assert record["request"]["size"] == "320x180"
        assert len(record["attempts"]) == 1 and record["attempts"][0]["error"] is None
        assert record["reserved_usd"] is not None or record["cost_usd"] is not None
        deliveries = record["webhook_deliveries"]
        assert [d["endpoint_id"] for d in deliveries] == [endpoint.json()["id"]]
        assert deliveries[0]["video_id"] == video_id
        assert deliveries[0]["event_type"] == "video.completed"

        assert stranger.get(f"/jobs/{video_id}").status_code == 404
        assert stranger.get("/jobs/video_nope").status_code == 404

        full = master.get(f"/jobs/{video_id}")
        assert full.status_code == 200, full.text
        as_master = full.json()
        assert "upstream_id" in as_master and as_master["upstream_model"] == "preview"
        assert as_master["request"]["upstream_model"] == "preview"
        assert len(as_master["webhook_deliveries"]) == 1


def test_request_hides_storage_keys(gw: Gateway) -> None:
    key = gw.new_key(alias="images")
    png = io.BytesIO()
    Image.new("RGB", (320, 180), (200, 10, 10)).save(png, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    with gw.http(key) as owner:
        created = post_video(
            owner,
            model="local/preview",
            prompt="a gate",
            seconds="1",
            size="320x180",
            input_reference={"image_url": uri},
        )
        assert created.status_code == 200, created.text
        response = owner.get(f"/jobs/{created.json()['id']}")
    image = response.json()["request"]["images"][0]
    assert image["kind"] in ("upload", "url") and image["role"]
    assert "inputs/" not in response.text and len(response.text) < 4000


def test_deleted_job_is_gone_for_its_owner(gw: Gateway) -> None:
    key = gw.new_key(alias="deleter")
    with gw.http(key) as owner:
        created = post_video(
            owner, model="local/preview", prompt="gone", seconds="1", size="320x180"
        ).json()
        _done(owner, created["id"])
        assert owner.delete(f"/v1/videos/{created['id']}").status_code == 200
        assert owner.get(f"/jobs/{created['id']}").status_code == 404
