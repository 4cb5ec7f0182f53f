"""Signing and backoff, alone: checked against the reference ``standardwebhooks`` package and
the published Standard Webhooks test vector."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook

from vidgate.webhooks.config import WebhookSettings
from vidgate.webhooks.sender import backoff_s
from vidgate.webhooks.signing import (
    new_secret,
    secret_hint,
    secret_id,
    secret_problem,
    signature,
    signed_headers,
)


def test_published_vector() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_reference_library_verifies_our_headers() -> None:
    secret = new_secret()
    body = b'{"id":"evt_1","object":"event","type":"video.completed"}'
    headers = signed_headers([secret], "evt_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers)["id"] == "evt_1"
    assert headers["content-type"] == "application/json"
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(body + b" ", headers)


def test_one_signature_per_active_secret_each_verifies() -> None:
    """Standard Webhooks: several space-separated signatures; any one secret verifies."""
    old, new, stranger = new_secret(), new_secret(), new_secret()
    body = b'{"id":"evt_2"}'
    headers = signed_headers([new, old], "evt_2", int(time.time()), body)
    parts = headers["webhook-signature"].split(" ")
    assert len(parts) == 2 and all(part.startswith("v1,") for part in parts)
    assert parts[0] == signature(new, "evt_2", int(headers["webhook-timestamp"]), body)
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["id"] == "evt_2"
    with pytest.raises(Exception, match="signature"):
        Webhook(stranger).verify(body, headers)


def test_secret_ids_and_hints_name_without_revealing() -> None:
    secret = new_secret()
    assert secret_id(secret) == secret_id(secret) != secret_id(new_secret())
    assert secret_id(secret).startswith("whsk_") and len(secret_id(secret)) == 21
    hint = secret_hint(secret)
    assert secret.startswith(hint.removesuffix("…")) and len(hint) == len("whsec_") + 5


def test_new_secrets_are_random_and_well_formed() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_") and secret_problem(secret) is None
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with 'whsec_'"),
        ("whsec_not base64!", "base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes"),
    ],
)
def test_bad_secrets_are_named(secret: str, problem: str) -> None:
    found = secret_problem(secret)
    assert found is not None and problem in found


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    settings = WebhookSettings(backoff_s=10, max_backoff_s=60)
    for attempts, ceiling in ((1, 10), (2, 20), (3, 40), (4, 60), (12, 60)):
        waits = [backoff_s(settings, attempts) for _ in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits), attempts
        assert max(waits) - min(waits) > ceiling / 10  # jittered, not fixed
