"""One secret redaction for every text that leaves the gateway or is stored.

Client-visible messages (``errors.client_text``), stored job errors and attempts, the
health board, request log rows and log lines all pass through the process's ``REDACTOR``,
so an upstream that quotes a deployment's key back, or a log line that shows a signed URL,
cannot carry the secret any further. It replaces the exact secrets the gateway knows (the
app adds them at start and on reload: ``known_secrets``, ``url_passwords``), anything
shaped like a key or a bearer token, the values of a signed URL's query (signatures,
credentials, tokens, expiries) and the password of a URL's userinfo. A leaf module:
``errors`` and every layer import it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|whsec_[A-Za-z0-9+/=]{8,}|(?i:bearer)\s+[A-Za-z0-9._\-+/=]{8,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*-----END [A-Z ]*PRIVATE KEY-----)"
)
_SHAPE_MARKS = ("sk-", "whsec_", "bearer", "-----begin")
"""What every ``_SHAPES`` match contains, in lower case."""
_SIGNED_NAMES = (
    r"[\w.\-]*(?:sig|signature|token|credential|secret|password|jwt|key|policy|expires)[\w.\-]*"
    r"|s[eprtv]|ss|srt|spr|sip|sdd|sk(?:oid|tid|t|e|s|v)"  # Azure SAS fields
)
_QUERY_SECRET = re.compile(
    rf"((?:[?&;]|%3F|%26)(?:{_SIGNED_NAMES})(?:=|%3D))(?:(?!%26)[^&#\s'\"<>\\])+", re.I
)
"""A signed URL's query value (``X-Amz-Signature``, ``sig``, ``token``, ``key``, ``Expires``,
an Azure SAS's ``sv``/``se``/``sp``/``sig``/``skoid``...), also inside a percent-encoded URL;
the name stays, so a log line still says which URL it was."""
_USERINFO = re.compile(r"(://[^/\s:@'\"]*):[^/\s@'\"]+@")


class Redactor:
    """Replaces known secrets and secret-shaped strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets.update(s for s in secrets if isinstance(s, str) and len(s) >= 6)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        low = text.lower()  # the checks below skip regexes that cannot match (most text)
        if any(mark in low for mark in _SHAPE_MARKS):
            text = _SHAPES.sub(REDACTED, text)
        if "=" in text or "%3d" in low:
            text = _QUERY_SECRET.sub(rf"\1{REDACTED}", text)
        if "@" in text:
            text = _USERINFO.sub(rf"\1:{REDACTED}@", text)
        return text

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


REDACTOR = Redactor()
"""The process's redactor; the app adds the secrets of its config (``known_secrets``)."""

SECRET_OPTION = re.compile(r"secret|key|token|password|credential|authorization|cookie", re.I)


def known_secrets(config: Any, master_key: str, table: Any) -> list[str]:
    """The master key, every deployment credential — of ``table``'s deployments too, which
    may come from the environment — every webhook secret and the moderation endpoint's key
    in ``config`` (a ``FileConfig``)."""
    found = [master_key]
    found.extend(d.api_key for d in table.by_id.values() if d.api_key)
    for entry in config.model_list:
        if entry.api_key:
            found.append(entry.api_key)
        for name, value in entry.options.items():
            if SECRET_OPTION.search(name):
                found.extend(_strings(value))
    for endpoint in getattr(config, "webhooks", None) or []:
        found.extend(_strings(getattr(endpoint, "secret", None)))
        found.extend(_strings(getattr(endpoint, "secrets", None)))
    storage = getattr(config, "storage", None)
    found.extend(_strings(getattr(storage, "secret_access_key", None)))
    moderation = getattr(getattr(config, "settings", None), "moderation", None)
    found.extend(_strings(getattr(getattr(moderation, "deployment", None), "api_key", None)))
    return found


def url_passwords(*urls: str | None) -> list[str]:
    """The passwords in connection URLs (``postgresql://user:pw@host``, ``redis://:pw@h``)."""
    found = []
    for url in urls:
        if url and "@" in url and "://" in url:
            userinfo = url.split("://", 1)[1].rsplit("@", 1)[0]
            if ":" in userinfo:
                found.append(userinfo.split(":", 1)[1])
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
