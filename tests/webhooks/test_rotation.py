"""Signing-secret rotation end to end: a gateway, the OpenAI-wire simulator and a loopback
receiver; every signature checked with the reference ``standardwebhooks`` package.

During a rotation's overlap each delivery carries one signature per active secret, so a
receiver still holding the old secret and one already holding the new accept the same
delivery; once the old secret expires or is removed only the new one does.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.support import Gateway, running_gateway, wait_for
from tests.webhooks.receiver import Call, Receiver
from tests.webhooks.test_webhooks_gateway import (
    create_video,
    finished,
    gateway_config,
    register,
    settled,
)
from tests.webhooks.test_webhooks_gateway import receiver as receiver
from tests.webhooks.test_webhooks_gateway import sim_url as sim_url


@pytest.fixture(scope="module")
def gw(sim_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gw"), gateway_config(sim_url)) as gw:
        yield gw


def rotate(gw: Gateway, key: str | None, endpoint_id: str, **body: Any) -> dict[str, Any]:
    with gw.http(key) as http:
        response = http.post(f"/v1/webhooks/{endpoint_id}/rotate", json=body or None)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def endpoint_view(gw: Gateway, key: str | None, endpoint_id: str) -> dict[str, Any]:
    with gw.http(key) as http:
        response = http.get(f"/v1/webhooks/{endpoint_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def accepts(secret: str, call: Call) -> bool:
    """Whether a receiver holding ``secret`` accepts the call (as its library decides)."""
    try:
        Webhook(secret).verify(call.body, call.headers)
    except Exception as exc:
        assert "signature" in str(exc).lower(), exc  # refused for the signature, not else
        return False
    return True


def delivered_call(gw: Gateway, key: str, endpoint_id: str, receiver: Receiver, path: str) -> Call:
    """Run one job to its end and return the one call its event made."""
    before = len(receiver.calls(path))
    video_id = create_video(gw, key)
    finished(gw, key, video_id)
    settled(gw, key, endpoint_id, count=before + 1)
    calls = receiver.calls(path)
    assert len(calls) == before + 1
    assert all(part.startswith("v1,") for part in calls[-1].headers["webhook-signature"].split())
    return calls[-1]


def test_both_secrets_verify_during_the_overlap_then_only_the_new(
    gw: Gateway, receiver: Receiver
) -> None:
    key = gw.new_key()
    path = receiver.new_path()
    created = register(gw, key, receiver.url(path))
    old = created["secret"]
    [only] = created["secrets"]
    assert only["status"] == "current" and only["expires_at"] is None
    assert only["id"].startswith("whsk_") and old.startswith(only["hint"].removesuffix("…"))

    before = time.time()
    rotated = rotate(gw, key, created["id"])  # default overlap: 24 h
    new = rotated["secret"]
    assert new != old and new.startswith("whsec_") and len(base64.b64decode(new[6:])) >= 24
    current, previous = rotated["secrets"]
    assert current["status"] == "current" and current["expires_at"] is None
    assert previous == {**only, "status": "previous", "expires_at": previous["expires_at"]}
    assert before + 86_400 - 2 <= previous["expires_at"] <= time.time() + 86_400 + 1
    assert endpoint_view(gw, key, created["id"])["secrets"] == rotated["secrets"]

    call = delivered_call(gw, key, created["id"], receiver, path)
    assert len(call.headers["webhook-signature"].split(" ")) == 2
    assert accepts(old, call) and accepts(new, call)  # the old receiver and the new

    with gw.http(key) as http:
        removed = http.delete(f"/v1/webhooks/{created['id']}/secrets/{previous['id']}")
    assert removed.status_code == 200, removed.text
    assert [s["id"] for s in removed.json()["secrets"]] == [current["id"]]

    call = delivered_call(gw, key, created["id"], receiver, path)
    assert len(call.headers["webhook-signature"].split(" ")) == 1
    assert accepts(new, call) and not accepts(old, call)


def test_an_expired_secret_stops_signing(gw: Gateway, receiver: Receiver) -> None:
    key = gw.new_key()
    path = receiver.new_path()
    created = register(gw, key, receiver.url(path))
    rotated = rotate(gw, key, created["id"], previous_expires_in=1)
    expires_at = rotated["secrets"][1]["expires_at"]
    # listings drop it once its time has come: the clock decides, nothing sweeps
    wait_for(lambda: len(endpoint_view(gw, key, created["id"])["secrets"]) == 1)
    assert time.time() >= expires_at - 1

    call = delivered_call(gw, key, created["id"], receiver, path)
    assert int(call.headers["webhook-timestamp"]) >= expires_at
    assert accepts(rotated["secret"], call) and not accepts(created["secret"], call)

    # previous_expires_in=0: the replaced secret stops at once
    again = rotate(gw, key, created["id"], previous_expires_in=0)
    assert [s["status"] for s in again["secrets"]] == ["current"]
    call = delivered_call(gw, key, created["id"], receiver, path)
    assert accepts(again["secret"], call) and not accepts(rotated["secret"], call)


def test_rotation_refusals_name_the_field(gw: Gateway, receiver: Receiver) -> None:
    key, other = gw.new_key(), gw.new_key()
    created = register(gw, key, receiver.url(receiver.new_path()))
    endpoint_id = created["id"]
    secret_id = created["secrets"][0]["id"]
    with gw.http(other) as http:  # another key's endpoint: 404, and nothing changes
        for method, route in (
            ("POST", f"/v1/webhooks/{endpoint_id}/rotate"),
            ("POST", f"/webhooks/{endpoint_id}/rotate"),
            ("DELETE", f"/v1/webhooks/{endpoint_id}/secrets/{secret_id}"),
        ):
            response = http.request(method, route)
            assert response.status_code == 404, (method, route)
            assert response.json()["error"]["param"] == "webhook_id"
    assert endpoint_view(gw, key, endpoint_id)["secrets"] == created["secrets"]

    with gw.http(key) as http:
        for body, param in (
            ({"previous_expires_in": -1}, "previous_expires_in"),
            ({"previous_expires_in": 2_592_001}, "previous_expires_in"),
            ({"previous_expires_in": "soon"}, "previous_expires_in"),
            ({"previous_expires_in": True}, "previous_expires_in"),
            ({"previous_expires_in": 1.5}, "previous_expires_in"),
            ({"secret": "whsec_mine"}, "secret"),
        ):
            response = http.post(f"/v1/webhooks/{endpoint_id}/rotate", json=body)
            assert response.status_code == 400, body
            error = response.json()["error"]
            assert error["param"] == param and error["type"] == "invalid_request_error"
            assert "previous_expires_in" in error["message"], error
        as_form = http.post(
            f"/v1/webhooks/{endpoint_id}/rotate", data={"previous_expires_in": "60"}
        )
        assert as_form.status_code == 200, as_form.text
        assert as_form.json()["secrets"][1]["expires_at"] <= time.time() + 61

        current = as_form.json()["secrets"][0]["id"]
        response = http.delete(f"/v1/webhooks/{endpoint_id}/secrets/{current}")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "current_secret"
        assert response.json()["error"]["param"] == "secret_id"
        response = http.delete(f"/v1/webhooks/{endpoint_id}/secrets/whsk_nope")
        assert response.status_code == 404 and response.json()["error"]["param"] == "secret_id"

        for _ in range(3):  # 2 active now; at most 5
            assert http.post(f"/v1/webhooks/{endpoint_id}/rotate").status_code == 200
        full = http.post(f"/v1/webhooks/{endpoint_id}/rotate")
        assert full.status_code == 400 and full.json()["error"]["code"] == "too_many_secrets"
        assert len(endpoint_view(gw, key, endpoint_id)["secrets"]) == 5
        replaced = endpoint_view(gw, key, endpoint_id)["secrets"][0]["id"]
        reset = http.post(f"/v1/webhooks/{endpoint_id}/rotate", json={"previous_expires_in": 0})
        assert reset.status_code == 200  # the replaced secret stops: still 5
        assert len(reset.json()["secrets"]) == 5
        assert replaced not in [s["id"] for s in reset.json()["secrets"]]


def test_secrets_are_shown_once_and_never_logged(
    gw: Gateway, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vidgate")
    key = gw.new_key()
    path = receiver.new_path()
    receiver.plan(path, 500)  # a retry, so the sender logs about this endpoint
    created = register(gw, key, receiver.url(path))
    rotated = rotate(gw, key, created["id"])
    secrets = [created["secret"], rotated["secret"]]
    finished(gw, key, create_video(gw, key))
    [row] = settled(gw, key, created["id"])
    assert row["status"] == "delivered" and row["attempts"] == 2
    with gw.http(key) as http:
        previous = rotated["secrets"][1]["id"]
        bodies = [
            http.get("/webhooks").text,
            http.get(f"/v1/webhooks/{created['id']}").text,
            http.get(f"/v1/webhooks/{created['id']}/deliveries").text,
            http.delete(f"/v1/webhooks/{created['id']}/secrets/{previous}").text,
        ]
    signatures = [
        part.split(",", 1)[1]
        for call in receiver.calls(path)
        for part in call.headers["webhook-signature"].split(" ")
    ]
    assert len(signatures) == 4  # two attempts, two secrets each
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "webhook" in logged
    for text in [*bodies, logged]:
        for secret in secrets:
            assert secret not in text and secret.removeprefix("whsec_") not in text
        assert not any(signature in text for signature in signatures)


def test_config_endpoints_sign_with_every_listed_secret(
    sim_url: str, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = "whsec_" + base64.b64encode(b"o" * 32).decode()
    new = "whsec_" + base64.b64encode(b"n" * 32).decode()
    monkeypatch.setenv("VIDGATE_TEST_WEBHOOK_NEW", new)
    path = receiver.new_path()
    config = gateway_config(sim_url)
    config["webhooks"] = [
        {"url": receiver.url(path), "secrets": ["os.environ/VIDGATE_TEST_WEBHOOK_NEW", old]}
    ]
    with running_gateway(tmp_path / "gw", config) as gw:
        with gw.http() as http:
            [listed] = http.get("/webhooks").json()["data"]
            shown = http.get("/config").text
            refused = http.post(f"/webhooks/{listed['id']}/rotate")
        assert [s["status"] for s in listed["secrets"]] == ["current", "previous"]
        assert [s["expires_at"] for s in listed["secrets"]] == [None, None]
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "configured_webhook"
        for secret in (old, new):
            assert secret.removeprefix("whsec_") not in shown
        key = gw.new_key()
        video_id = create_video(gw, key)
        finished(gw, key, video_id)
        [call] = wait_for(lambda: receiver.calls(path))
        assert accepts(old, call) and accepts(new, call)

    # the receivers rolled: the file now lists only the new secret, and the old stops
    config["webhooks"] = [{"url": receiver.url(path), "secret": new}]
    with running_gateway(tmp_path / "gw", config) as gw:
        with gw.http() as http:
            [listed] = http.get("/webhooks").json()["data"]
        assert [s["hint"] for s in listed["secrets"]] == [new[:10] + "…"]
        key = gw.new_key()
        finished(gw, key, create_video(gw, key))
        calls = wait_for(lambda: receiver.calls(path)[1:])
        assert accepts(new, calls[0]) and not accepts(old, calls[0])


def test_config_file_needs_a_good_secret(tmp_path: Path) -> None:
    from vidgate.settings import ConfigError

    url = "https://example.com/hook"
    good = "whsec_" + base64.b64encode(b"g" * 32).decode()
    for entry, where, hint in (
        ({"url": url}, "webhooks[0]", "'secrets'"),
        ({"url": url, "secrets": [good, "whsec_bad"]}, "webhooks[0].secrets", "secrets[1]"),
        ({"url": url, "secrets": [good] * 6}, "webhooks[0].secrets", "5"),
    ):
        with (
            pytest.raises(ConfigError) as caught,
            running_gateway(tmp_path / "gw", {"webhooks": [entry]}),
        ):
            pass
        message = str(caught.value)
        assert where in message and hint in message, message
        assert "whsec_bad" not in message
