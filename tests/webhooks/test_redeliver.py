"""``POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver`` over loopback HTTP: the same
event (same ``webhook-id``, freshly signed) is sent again; another key's endpoint is a 404."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Gateway, running_gateway, wait_for
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks_gateway import (
    create_video,
    finished,
    gateway_config,
    register,
    settled,
    verify,
)
from tests.webhooks.test_webhooks_gateway import receiver as receiver
from tests.webhooks.test_webhooks_gateway import sim_url as sim_url


@pytest.fixture(scope="module")
def gw(sim_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gw"), gateway_config(sim_url)) as gw:
        yield gw


def test_redeliver_sends_the_same_event_again(gw: Gateway, receiver: Receiver) -> None:
    key, other = gw.new_key(), gw.new_key()
    path = receiver.new_path()
    endpoint = register(gw, key, receiver.url(path), events=["video.completed"])
    video_id = create_video(gw, key, model="local/preview", size="320x180", seconds="2")
    finished(gw, key, video_id)
    [delivery] = settled(gw, key, endpoint["id"])
    assert delivery["status"] == "delivered"
    first = receiver.calls(path)
    assert len(first) == 1
    route = f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/redeliver"
    with gw.http(other) as http:  # another key's endpoint and delivery: 404
        refused = http.post(route)
    assert refused.status_code == 404 and refused.json()["error"]["param"] == "webhook_id"
    with gw.http(key) as http:
        missing = http.post(f"/v1/webhooks/{endpoint['id']}/deliveries/whd_nope/redeliver")
        assert missing.status_code == 404
        assert missing.json()["error"]["param"] == "delivery_id"
        response = http.post(route)
    assert response.status_code == 200, response.text
    queued = response.json()
    assert (queued["id"], queued["status"], queued["attempts"]) == (delivery["id"], "pending", 0)
    calls = wait_for(lambda: receiver.calls(path)[1:])
    again = calls[0]
    assert again.headers["webhook-id"] == first[0].headers["webhook-id"]
    assert again.body == first[0].body
    assert verify(endpoint["secret"], again)["data"]["id"] == video_id
    [resent] = settled(gw, key, endpoint["id"])
    assert (resent["id"], resent["status"], resent["attempts"]) == (delivery["id"], "delivered", 1)
    assert len(receiver.calls(path)) == 2


def test_redeliver_is_in_openapi(gw: Gateway) -> None:
    with gw.http() as http:
        doc = http.get("/openapi.json").json()
    assert "post" in doc["paths"]["/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"]
