"""Webhooks end to end over loopback HTTP: a gateway, an OpenAI-wire simulator upstream, and
a recording receiver; signatures checked with the reference ``standardwebhooks`` package.

Most tests share one gateway and tell their traffic apart by key and receiver path; the
restart and config-file tests run their own.
"""

from __future__ import annotations

import base64
import itertools
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.support import Gateway, running_gateway, serve, wait_for
from tests.webhooks.receiver import Call, Receiver
from vidgate.providers.openai.simulator import SimulatorConfig, create_app

FAST = {"timeout_s": 0.5, "max_attempts": 3, "backoff_s": 0.05, "max_backoff_s": 0.2}


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    config = SimulatorConfig(
        api_key="sk-up", job_seconds=0.3, queued_seconds=0.05, poll_after_ms=50
    )
    with serve(create_app(config)) as url:
        yield url


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve(receiver.app) as url:
        receiver.base_url = url
        yield receiver


def gateway_config(sim_url: str, **webhooks: Any) -> dict[str, Any]:
    return {
        "model_list": [
            {"model_name": "local/preview", "provider": "local", "model": "preview"},
            {
                "model_name": "sora-2",
                "provider": "openai",
                "model": "sora-2",
                "api_base": f"{sim_url}/v1",
                "api_key": "sk-up",
                "poll_interval_s": 0.1,
            },
        ],
        "settings": {
            "local_workers": 2,
            "webhooks": {**FAST, **webhooks},
            "outbound_allow": ["127.0.0.1/32"],  # the receiver listens on loopback
        },
    }


@pytest.fixture(scope="module")
def gw(sim_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gw"), gateway_config(sim_url)) as gw:
        yield gw


# --- helpers --------------------------------------------------------------------------------


def register(gw: Gateway, key: str | None, url: str, **body: Any) -> dict[str, Any]:
    with gw.http(key) as http:
        response = http.post("/v1/webhooks", json={"url": url, **body})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def create_video(gw: Gateway, key: str | None, **body: Any) -> str:
    """A job on the simulator (about 0.3 s), unless ``model`` says otherwise."""
    payload = {"model": "sora-2", "prompt": "a lighthouse", "seconds": "4", **body}
    with gw.http(key) as http:
        response = http.post("/v1/videos", json=payload)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def finished(gw: Gateway, key: str | None, video_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        with gw.http(key) as http:
            video: dict[str, Any] = http.get(f"/v1/videos/{video_id}").json()
        return video if video["status"] in ("completed", "failed") else None

    result: dict[str, Any] = wait_for(done)
    return result


def deliveries(gw: Gateway, key: str | None, endpoint_id: str, **params: Any) -> dict[str, Any]:
    with gw.http(key) as http:
        response = http.get(f"/webhooks/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def settled(gw: Gateway, key: str | None, endpoint_id: str, count: int = 1) -> list[Any]:
    """The endpoint's deliveries once ``count`` exist and none is pending."""

    def done() -> list[Any] | None:
        rows: list[Any] = deliveries(gw, key, endpoint_id)["data"]
        if len(rows) >= count and all(row["status"] != "pending" for row in rows):
            return rows
        return None

    rows: list[Any] = wait_for(done)
    return rows


def verify(secret: str, call: Call) -> dict[str, Any]:
    """The event, if the call carries a valid Standard Webhooks signature (else raises)."""
    event: dict[str, Any] = Webhook(secret).verify(call.body, call.headers)
    return event


def closed_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hook"


# --- endpoints ------------------------------------------------------------------------------


def test_endpoint_crud_and_ownership(gw: Gateway, receiver: Receiver) -> None:
    alice, bob = gw.new_key(), gw.new_key()
    created = register(gw, alice, receiver.url("/crud"), description="mine")
    assert created["object"] == "webhook_endpoint" and created["id"].startswith("whep_")
    assert created["url"] == receiver.url("/crud") and created["description"] == "mine"
    assert created["events"] == ["video.completed", "video.failed"]
    assert isinstance(created["created_at"], int) and created["status"] == "enabled"
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    endpoint_id = created["id"]

    with gw.http(alice) as http:
        for prefix in ("", "/v1"):
            listed = http.get(f"{prefix}/webhooks")
            assert listed.status_code == 200
            assert [e["id"] for e in listed.json()["data"]] == [endpoint_id]
            assert "secret" not in listed.json()["data"][0] and secret not in listed.text
        one = http.get(f"/webhooks/{endpoint_id}")
        assert one.status_code == 200 and secret not in one.text
        assert one.json()["url"] == receiver.url("/crud")
        page = http.get(f"/v1/webhooks/{endpoint_id}/deliveries").json()
        assert page == {
            "object": "list",
            "data": [],
            "first_id": None,
            "last_id": None,
            "has_more": False,
        }

    with gw.http(bob) as http:
        assert http.get("/webhooks").json()["data"] == []
        for method, path in (
            ("GET", f"/webhooks/{endpoint_id}"),
            ("DELETE", f"/webhooks/{endpoint_id}"),
            ("GET", f"/webhooks/{endpoint_id}/deliveries"),
            ("DELETE", f"/v1/webhooks/{endpoint_id}"),
        ):
            response = http.request(method, path)
            assert response.status_code == 404, (method, path)
            assert response.json()["error"]["code"] == "not_found"
    with gw.http() as http:  # the master key sees only its own (global) endpoints
        assert endpoint_id not in http.get("/webhooks").text

    with gw.http(alice) as http:
        deleted = http.delete(f"/v1/webhooks/{endpoint_id}")
        assert deleted.status_code == 200
        assert deleted.json() == {
            "id": endpoint_id,
            "object": "webhook_endpoint.deleted",
            "deleted": True,
        }
        assert http.get(f"/webhooks/{endpoint_id}").status_code == 404
        assert http.get("/webhooks").json()["data"] == []
        assert http.get("/webhooks", headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.parametrize(
    ("body", "param", "hint"),
    [
        ({"url": "ftp://example.com/hook"}, "url", "http:// or https://"),
        ({"url": "not a url"}, "url", "http:// or https://"),
        ({}, "url", "'url'"),
        ({"url": "https://example.com", "events": ["video.created"]}, "events", "video.failed"),
        ({"url": "https://example.com", "events": []}, "events", "video.completed"),
        ({"url": "https://example.com", "events": "video.failed"}, "events", "video.completed"),
        ({"url": "https://example.com", "description": 5}, "description", "string"),
        ({"url": "https://example.com", "secret": "whsec_x"}, "secret", "url, events"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(
    gw: Gateway, body: dict[str, Any], param: str, hint: str
) -> None:
    with gw.http(gw.new_key()) as http:
        response = http.post("/webhooks", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert hint in error["message"]


def test_deliveries_bad_paging_is_a_400(gw: Gateway, receiver: Receiver) -> None:
    key = gw.new_key()
    endpoint = register(gw, key, receiver.url(receiver.new_path()))
    with gw.http(key) as http:
        for params, param in (
            ({"limit": "0"}, "limit"),
            ({"limit": "x"}, "limit"),
            ({"after": "whdel_nope"}, "after"),
            ({"order": "up"}, "order"),
        ):
            response = http.get(f"/webhooks/{endpoint['id']}/deliveries", params=params)
            assert response.status_code == 400
            assert response.json()["error"]["param"] == param


# --- events ---------------------------------------------------------------------------------


def test_completed_job_sends_a_signed_event_to_subscribers_only(
    gw: Gateway, receiver: Receiver
) -> None:
    key, other = gw.new_key(), gw.new_key()
    path, failed_only, others = receiver.new_path(), receiver.new_path(), receiver.new_path()
    endpoint = register(gw, key, receiver.url(path))
    quiet = register(gw, key, receiver.url(failed_only), events=["video.failed"])
    register(gw, other, receiver.url(others))

    video_id = create_video(gw, key, model="local/preview")  # the built-in renderer
    assert finished(gw, key, video_id)["status"] == "completed"
    [row] = settled(gw, key, endpoint["id"])

    [call] = receiver.calls(path)
    event = verify(endpoint["secret"], call)
    assert event["type"] == "video.completed" and event["object"] == "event"
    assert event["data"] == {"id": video_id}
    assert event["id"].startswith("evt_") and isinstance(event["created_at"], int)
    assert set(event) == {"id", "object", "created_at", "type", "data"}
    assert call.headers["webhook-id"] == event["id"]
    assert call.headers["content-type"] == "application/json"
    assert call.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(Exception, match="signature"):
        verify(quiet["secret"], call)  # another endpoint's secret does not verify

    assert row["status"] == "delivered" and row["attempts"] == 1
    assert row["event_id"] == event["id"] and row["event_type"] == "video.completed"
    assert row["video_id"] == video_id and row["last_status_code"] == 200
    assert row["last_error"] is None and row["next_attempt_at"] is None
    assert row["delivered_at"] >= row["created_at"]
    assert row["id"].startswith("whdel_") and row["object"] == "webhook_delivery"

    # a second job: its event gets its own id; the failed-only and other key's got nothing
    second = create_video(gw, key)
    finished(gw, key, second)
    rows = settled(gw, key, endpoint["id"], count=2)
    assert [r["video_id"] for r in rows] == [second, video_id]  # newest first
    assert rows[0]["event_id"] != rows[1]["event_id"]
    page = deliveries(gw, key, endpoint["id"], limit=1)
    assert page["has_more"] is True and page["data"][0]["video_id"] == second
    rest = deliveries(gw, key, endpoint["id"], limit=1, after=page["last_id"])
    assert [r["video_id"] for r in rest["data"]] == [video_id] and rest["has_more"] is False
    assert deliveries(gw, key, endpoint["id"], order="asc")["data"][0]["video_id"] == video_id
    assert receiver.calls(failed_only) == [] and receiver.calls(others) == []
    assert deliveries(gw, key, quiet["id"])["data"] == []


def test_failed_job_sends_video_failed(gw: Gateway, receiver: Receiver) -> None:
    key = gw.new_key()
    path = receiver.new_path()
    endpoint = register(gw, key, receiver.url(path), events=["video.failed"])
    video_id = create_video(gw, key, prompt="[sim:fail] a storm")
    assert finished(gw, key, video_id)["status"] == "failed"
    [row] = settled(gw, key, endpoint["id"])
    assert row["status"] == "delivered" and row["event_type"] == "video.failed"
    event = verify(endpoint["secret"], receiver.calls(path)[0])
    assert event["type"] == "video.failed" and event["data"] == {"id": video_id}


def test_refused_creates_and_deleted_jobs_send_nothing(gw: Gateway, receiver: Receiver) -> None:
    key = gw.new_key()
    path = receiver.new_path()
    endpoint = register(gw, key, receiver.url(path))
    with gw.http(key) as http:
        refused = http.post("/v1/videos", json={"model": "sora-2", "prompt": "[sim:500] x"})
        assert refused.status_code >= 500, refused.text
        doomed = create_video(gw, key, prompt="[sim:slow] never watched")
        assert http.delete(f"/v1/videos/{doomed}").status_code == 200
    video_id = create_video(gw, key)
    finished(gw, key, video_id)
    # the refused and the deleted job ended before this one began: their rows would exist
    rows = settled(gw, key, endpoint["id"])
    assert [row["video_id"] for row in rows] == [video_id]
    assert len(receiver.calls(path)) == 1


def test_master_endpoints_receive_every_keys_events(gw: Gateway, receiver: Receiver) -> None:
    key = gw.new_key()
    path = receiver.new_path()
    endpoint = register(gw, None, receiver.url(path))
    try:
        video_id = create_video(gw, key)
        finished(gw, key, video_id)

        def arrived() -> dict[str, Any] | None:
            for call in receiver.calls(path):
                event = verify(endpoint["secret"], call)
                if event["data"]["id"] == video_id:
                    return event
            return None

        assert wait_for(arrived)["type"] == "video.completed"
    finally:
        with gw.http() as http:
            assert http.delete(f"/webhooks/{endpoint['id']}").status_code == 200


# --- delivery -------------------------------------------------------------------------------


def test_retries_after_errors_and_timeouts_then_delivers(gw: Gateway, receiver: Receiver) -> None:
    key = gw.new_key()
    path = receiver.new_path()
    receiver.plan(path, 500, "hang")  # then 200, on the last allowed attempt
    endpoint = register(gw, key, receiver.url(path))
    video_id = create_video(gw, key)
    finished(gw, key, video_id)
    [row] = settled(gw, key, endpoint["id"])
    assert row["status"] == "delivered" and row["attempts"] == 3
    assert row["last_status_code"] == 200 and row["last_error"] is None

    calls = receiver.calls(path)
    assert len(calls) == 3
    events = [verify(endpoint["secret"], call) for call in calls]  # each attempt re-signed
    assert len({call.headers["webhook-id"] for call in calls}) == 1  # stable across retries
    assert all(event == events[0] for event in events)
    assert all(a.at < b.at for a, b in itertools.pairwise(calls))


def test_gives_up_after_max_attempts(gw: Gateway, receiver: Receiver) -> None:
    key = gw.new_key()
    path = receiver.new_path()
    receiver.answer(path, 500)
    endpoint = register(gw, key, receiver.url(path))
    unreachable = register(gw, key, closed_port())
    video_id = create_video(gw, key)
    finished(gw, key, video_id)

    [row] = settled(gw, key, endpoint["id"])
    assert row["status"] == "failed" and row["attempts"] == FAST["max_attempts"]
    assert row["last_status_code"] == 500 and row["last_error"] == "HTTP 500"
    assert row["next_attempt_at"] is None and row["delivered_at"] is None
    assert len(receiver.calls(path)) == FAST["max_attempts"]

    [row] = settled(gw, key, unreachable["id"])
    assert row["status"] == "failed" and row["attempts"] == FAST["max_attempts"]
    assert row["last_status_code"] is None and "ConnectError" in row["last_error"]
    assert "127.0.0.1" not in row["last_error"]


def test_410_gone_disables_the_endpoint(gw: Gateway, receiver: Receiver) -> None:
    key = gw.new_key()
    gone_path, live_path = receiver.new_path(), receiver.new_path()
    receiver.answer(gone_path, 410)
    gone = register(gw, key, receiver.url(gone_path))
    live = register(gw, key, receiver.url(live_path))
    finished(gw, key, create_video(gw, key))
    [row] = settled(gw, key, gone["id"])
    assert row["status"] == "failed" and row["attempts"] == 1
    assert row["last_status_code"] == 410
    with gw.http(key) as http:
        endpoint = http.get(f"/webhooks/{gone['id']}").json()
    assert endpoint["status"] == "disabled" and "410" in endpoint["disabled_reason"]

    later = create_video(gw, key)
    finished(gw, key, later)
    settled(gw, key, live["id"], count=2)  # written in the same transaction as any for `gone`
    assert len(deliveries(gw, key, gone["id"])["data"]) == 1
    assert len(receiver.calls(gone_path)) == 1


def test_secrets_stay_out_of_responses_and_logs(
    gw: Gateway, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vidgate")
    key = gw.new_key()
    path = receiver.new_path()
    receiver.plan(path, 500)
    endpoint = register(gw, key, receiver.url(path))
    secret = endpoint["secret"]
    finished(gw, key, create_video(gw, key))
    settled(gw, key, endpoint["id"])
    with gw.http(key) as http:
        bodies = [
            http.get("/webhooks").text,
            http.get(f"/webhooks/{endpoint['id']}").text,
            http.get(f"/webhooks/{endpoint['id']}/deliveries").text,
        ]
    signatures = [c.headers["webhook-signature"].split(",", 1)[1] for c in receiver.calls(path)]
    assert len(signatures) == 2
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "webhook" in logged  # the retry was logged ...
    for text in [*bodies, logged]:
        assert secret not in text and secret.removeprefix("whsec_") not in text
        assert not any(signature in text for signature in signatures)
    assert path not in logged  # ... by ids: URLs may carry tokens


# --- durability and config ------------------------------------------------------------------


def test_pending_delivery_is_sent_after_a_restart(
    sim_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    path = receiver.new_path()
    receiver.answer(path, 503)
    config = gateway_config(sim_url, max_attempts=100)
    with running_gateway(tmp_path / "gw", config) as gw:
        key = gw.new_key()
        endpoint = register(gw, key, receiver.url(path))
        video_id = create_video(gw, key, model="local/preview")
        finished(gw, key, video_id)
        wait_for(lambda: len(receiver.calls(path)) >= 2)
    receiver.answer(path, 200)  # the receiver recovers while the gateway is down
    with running_gateway(tmp_path / "gw", config) as gw:
        [row] = settled(gw, key, endpoint["id"])
    calls = receiver.calls(path)
    assert row["status"] == "delivered" and row["attempts"] >= len(calls) >= 3
    assert len({call.headers["webhook-id"] for call in calls}) == 1
    assert verify(endpoint["secret"], calls[-1])["data"] == {"id": video_id}


def test_config_file_endpoints_are_global(
    sim_url: str, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    monkeypatch.setenv("VIDGATE_TEST_WEBHOOK_SECRET", secret)
    path = receiver.new_path()
    config = gateway_config(sim_url)
    config["webhooks"] = [
        {
            "url": receiver.url(path),
            "secret": "os.environ/VIDGATE_TEST_WEBHOOK_SECRET",
            "events": ["video.completed"],
        }
    ]
    with running_gateway(tmp_path / "gw", config) as gw:
        with gw.http() as http:
            [listed] = http.get("/webhooks").json()["data"]
            assert listed["source"] == "config" and listed["events"] == ["video.completed"]
            assert "secret" not in listed
            refused = http.delete(f"/webhooks/{listed['id']}")
            assert refused.status_code == 400
            assert refused.json()["error"]["param"] == "webhook_id"
        key = gw.new_key()
        with gw.http(key) as http:
            assert http.get(f"/webhooks/{listed['id']}").status_code == 404
        video_id = create_video(gw, key)
        finished(gw, key, video_id)
        [call] = wait_for(lambda: receiver.calls(path))
        assert verify(secret, call)["data"] == {"id": video_id}
        assert settled(gw, None, listed["id"])[0]["status"] == "delivered"


def test_config_file_rejects_bad_webhooks(tmp_path: Path) -> None:
    from vidgate.settings import ConfigError

    bad = {"webhooks": [{"url": "ftp://x", "secret": "nope", "events": ["video.made"]}]}
    with pytest.raises(ConfigError) as caught, running_gateway(tmp_path / "gw", bad):
        pass
    message = str(caught.value)
    for where in ("webhooks[0].url", "webhooks[0].secret", "webhooks[0].events[0]"):
        assert where in message
    assert "nope" not in message


def test_the_receiver_cookie_is_not_kept(gw: Gateway, receiver: Receiver) -> None:
    """Endpoints are arbitrary URLs: what they set must not ride along on later requests."""
    key = gw.new_key()
    path = receiver.new_path()
    receiver.plan(path, 500)
    endpoint = register(gw, key, receiver.url(path))
    finished(gw, key, create_video(gw, key))
    settled(gw, key, endpoint["id"])
    assert [call.headers.get("cookie") for call in receiver.calls(path)] == [None, None]


def test_http_error_envelope_for_unknown_endpoint(gw: Gateway) -> None:
    response = httpx.get(
        f"{gw.url}/v1/webhooks/whep_missing", headers={"Authorization": f"Bearer {gw.master_key}"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "webhook_id"


def test_deliveries_in_flight_are_capped(sim_url: str, tmp_path: Path) -> None:
    receiver = Receiver()  # its own, so max_in_flight counts this test's requests only
    with serve(receiver.app) as url:
        receiver.base_url = url
        # FAST's 0.5 s timeout could end a 0.3 s "slow" answer on a busy machine; the
        # sender's retry would then overlap the receiver's still-sleeping handler.
        config = gateway_config(sim_url, concurrency=2, timeout_s=30.0)
        with running_gateway(tmp_path / "gw", config) as gw:
            key = gw.new_key()
            endpoints, paths = [], [receiver.new_path() for _ in range(5)]
            for path in paths:
                receiver.answer(path, "slow")
                endpoints.append(register(gw, key, receiver.url(path)))
            finished(gw, key, create_video(gw, key))
            for endpoint in endpoints:
                assert settled(gw, key, endpoint["id"])[0]["status"] == "delivered"
    assert [len(receiver.calls(path)) for path in paths] == [1] * 5  # no attempt timed out
    assert receiver.max_in_flight == 2
