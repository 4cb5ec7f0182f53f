"""Standard Webhooks signatures (https://www.standardwebhooks.com).

A secret is ``whsec_`` + base64 of random bytes; the HMAC key is those bytes. Each attempt
signs ``f"{msg_id}.{timestamp}.{body}"`` with HMAC-SHA256 and sends it base64-encoded as
``webhook-signature: v1,<sig>``. Receivers verify with any Standard Webhooks library.

An endpoint may have several active secrets while its receivers roll them: the header then
carries one signature per secret, space-separated (``v1,<a> v1,<b>``), as the specification
allows, and a receiver holding any one of the secrets accepts the delivery.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

PREFIX = "whsec_"
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64


def new_secret() -> str:
    """A fresh secret, as shown once to whoever created the endpoint."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (``ValueError`` if it is not one)."""
    if not secret.startswith(PREFIX):
        raise ValueError(f"a webhook secret starts with '{PREFIX}'")
    try:
        return base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is not a usable Standard Webhooks secret, or ``None``."""
    try:
        key = secret_key(secret)
    except ValueError as exc:
        return str(exc)
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        return (
            f"a webhook secret must encode {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes "
            f"(got {len(key)})"
        )
    return None


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def secret_id(secret: str) -> str:
    """A secret's public name: a short hash, so lists can name it and a receiver holding the
    secret can tell which one it is, without revealing it."""
    return "whsk_" + hashlib.sha256(secret.encode()).hexdigest()[:16]


def secret_hint(secret: str) -> str:
    """The first characters of a secret, enough to recognise it, far too few to use it."""
    return secret[: len(PREFIX) + 4] + "…"


def signed_headers(
    active: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Every header of one delivery attempt, signed with each secret of ``active``."""
    signatures = " ".join(signature(secret, msg_id, timestamp, body) for secret in active)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
