"""Service-account credentials: reading the JSON key and signing the OAuth JWT grant.

Vertex AI takes ``Authorization: Bearer <access token>``; a service account gets one by
POSTing a self-signed RS256 JWT to its ``token_uri`` (RFC 7523, as ``google-auth`` does).
The key file named in the deployment options is configuration, read here (parsed once per
path and modification time), never network I/O. No message raised here quotes key material.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vidgate.errors import UpstreamAuthError

if TYPE_CHECKING:  # cryptography (OpenSSL, ~11 MiB) loads only when a key is used
    from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_S = 3600


@dataclass(frozen=True)
class ServiceAccount:
    """The parts of a service-account key the token exchange needs."""

    client_email: str
    project_id: str | None
    token_uri: str
    private_key_id: str | None
    key: rsa.RSAPrivateKey = field(repr=False)


def load(credentials: Any) -> ServiceAccount:
    """The service account from ``options.credentials``: a file path, a JSON string or an
    object."""
    if isinstance(credentials, Mapping):
        return _parse(credentials)
    if isinstance(credentials, str) and credentials.strip().startswith("{"):
        try:
            info = json.loads(credentials)
        except ValueError:
            raise _bad("options.credentials is not valid JSON.") from None
        return _parse(info)
    if isinstance(credentials, str) and credentials.strip():
        path = os.path.expanduser(credentials.strip())
        try:
            stat = os.stat(path)
        except OSError:
            raise _bad("the key file named in options.credentials cannot be read.") from None
        return _from_file(path, stat.st_mtime_ns, stat.st_size)
    raise _bad("options.credentials must name a service-account JSON key (a path or object).")


@functools.lru_cache(maxsize=64)
def _from_file(path: str, mtime_ns: int, size: int) -> ServiceAccount:
    """Parsed once per (path, mtime, size): a rotated key file is read again."""
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except (OSError, ValueError):
        raise _bad("the service-account key file is not readable JSON.") from None
    return _parse(info)


def _parse(info: Any) -> ServiceAccount:
    if not isinstance(info, Mapping):
        raise _bad("the service-account key must be a JSON object.")
    if info.get("type", "service_account") != "service_account":
        raise _bad("the credentials are not a service-account key (type != service_account).")
    email, pem = info.get("client_email"), info.get("private_key")
    if not isinstance(email, str) or not email or not isinstance(pem, str) or not pem:
        raise _bad("the service-account key lacks client_email or private_key.")
    token_uri = info.get("token_uri") or DEFAULT_TOKEN_URI
    if not isinstance(token_uri, str) or not token_uri.startswith(("https://", "http://")):
        raise _bad("the service-account key's token_uri is not an absolute URL.")
    project = info.get("project_id")
    key_id = info.get("private_key_id")
    return ServiceAccount(
        client_email=email,
        project_id=project if isinstance(project, str) and project else None,
        token_uri=token_uri,
        private_key_id=key_id if isinstance(key_id, str) and key_id else None,
        key=_private_key(pem),
    )


@functools.lru_cache(maxsize=64)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise _bad("the service-account private_key is not a PEM RSA key.") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _bad("the service-account private_key is not an RSA key.")
    return key


def assertion(account: ServiceAccount, now: float) -> str:
    """The signed JWT grant: RS256, iss=client_email, aud=token_uri, one-hour lifetime."""
    issued = int(now)
    header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
    if account.private_key_id:
        header["kid"] = account.private_key_id
    claims = {
        "iss": account.client_email,
        "scope": SCOPE,
        "aud": account.token_uri,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME_S,
    }
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    signature = account.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{_b64url(signature)}"


def _b64(value: Mapping[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _bad(why: str) -> UpstreamAuthError:
    return UpstreamAuthError(f"Vertex AI deployment credentials are unusable: {why}")
