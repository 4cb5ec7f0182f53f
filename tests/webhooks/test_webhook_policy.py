"""Webhook URLs under the outbound address policy: refused at registration when the URL is
malformed or names a refused address, refused at every delivery attempt when the address is
not (or no longer) allowed. Receivers listen on loopback; other addresses are only ever
registered (a check without a connection), never delivered to."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.outbound_targets import LOOPBACK_V4, LOOPBACK_V6, OTHER_PRIVATE, numeric_lookups_only
from tests.support import Gateway, running_gateway, serve, wait_for
from tests.webhooks.receiver import Receiver
from vidgate.settings import ConfigError

FAST = {"timeout_s": 2, "max_attempts": 3, "backoff_s": 0.05, "max_backoff_s": 0.2}
LOCAL = {"model_name": "local/preview", "provider": "local", "model": "preview"}


def config(**settings: Any) -> dict[str, Any]:
    return {"model_list": [LOCAL], "settings": {"local_workers": 1, "webhooks": FAST, **settings}}


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    numeric_lookups_only(monkeypatch)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve(receiver.app) as url:
        receiver.base_url = url
        yield receiver


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("strict"), config()) as gateway:
        yield gateway


def register(gw: Gateway, url: str) -> Any:
    with gw.http() as http:
        return http.post("/v1/webhooks", json={"url": url})


@pytest.mark.parametrize("host", LOOPBACK_V4 + LOOPBACK_V6 + OTHER_PRIVATE)
def test_refused_addresses_are_refused_at_registration(strict: Gateway, host: str) -> None:
    response = register(strict, f"http://{host}:8080/hook")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "url" and "address" in error["message"]
    assert "settings.outbound_allow" in error["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://user:secret@example.com/hook",
        "http://user@example.com/hook",
        "http://@example.com/hook",
        "http://exa mple.com/hook",
        " http://example.com/hook",
        "http://example.com/hook\n",
        "http://example.com/\x00hook",
        "http://example.com/\x7fhook",
        "http://example.com/\u2028hook",
        "http:///hook",
        "http://:8080/hook",
        "http://example.com:99999/hook",
        "http://[::1/hook",
    ],
)
def test_malformed_urls_are_refused_at_registration(strict: Gateway, url: str) -> None:
    response = register(strict, url)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "url"


def test_public_names_register(strict: Gateway) -> None:
    """Names are not looked up at registration (the sender checks them at each attempt)."""
    response = register(strict, "https://hooks.example.com/vidgate?token=abc")
    assert response.status_code == 200, response.text


def test_allowed_at_registration_refused_at_delivery_once_disallowed(
    receiver: Receiver, tmp_path: Path
) -> None:
    """Registered while 127.0.0.1 was allowed; the operator removes the setting: every
    attempt is refused before a connection, and the receiver never sees one."""
    path = receiver.new_path()
    with running_gateway(tmp_path / "gw", config(outbound_allow=["127.0.0.1/32"])) as gw:
        assert register(gw, receiver.url(path)).status_code == 200
    with running_gateway(tmp_path / "gw", config()) as gw:
        with gw.http() as http:
            [endpoint] = http.get("/v1/webhooks").json()["data"]
            video = http.post("/v1/videos", json={"model": "local/preview", "prompt": "p"})
            assert video.status_code == 200, video.text

        def given_up() -> Any:
            with gw.http() as http:
                rows = http.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"]
            return rows if rows and all(r["status"] == "failed" for r in rows) else None

        [row] = wait_for(given_up, timeout=120)
    assert row["attempts"] == FAST["max_attempts"] and row["last_status_code"] is None
    assert row["last_error"]  # the same words as for a connection that failed
    assert receiver.calls(path) == []


def test_a_config_file_webhook_on_a_refused_address_is_a_config_error(tmp_path: Path) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    bad = config()
    bad["webhooks"] = [{"url": "http://169.254.169.254/latest/meta-data", "secret": secret}]
    with pytest.raises(ConfigError) as caught, running_gateway(tmp_path / "gw", bad):
        pass
    assert "webhooks[0].url" in str(caught.value) and "outbound_allow" in str(caught.value)


def test_bad_outbound_allow_entries_are_config_errors(tmp_path: Path) -> None:
    bad = config(outbound_allow=["10.0.0.0/8", "127.1"])
    with pytest.raises(ConfigError) as caught, running_gateway(tmp_path / "gw", bad):
        pass
    assert "outbound_allow" in str(caught.value) and "'127.1'" in str(caught.value)
