"""Structured logs: one JSON object per line, with every known secret redacted.

``configure`` installs a JSON formatter and a redacting filter on the root handler, so no
module can leak a key by accident: the filter replaces the exact secrets the gateway knows
(master key, deployment credentials, webhook secrets) and anything shaped like a key or a
bearer token, in the message and in every extra field.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|whsec_[A-Za-z0-9+/=]{8,}|(?i:bearer)\s+[A-Za-z0-9._\-+/=]{8,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*-----END [A-Z ]*PRIVATE KEY-----)"
)
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


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
        return _SHAPES.sub(REDACTED, text)

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

SECRET_OPTION = re.compile(r"secret|key|token|password|credential", re.I)


def known_secrets(config: Any, master_key: str, table: Any) -> list[str]:
    """The master key, every deployment credential — of ``table``'s deployments too, which
    may come from the environment — and every webhook secret in ``config`` (a
    ``FileConfig``)."""
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
    storage = getattr(config, "storage", None)
    found.extend(_strings(getattr(storage, "secret_access_key", None)))
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


class RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD:
                setattr(record, name, self.redactor.value(value))
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = value
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, default=str, separators=(",", ":"))


def configure(redactor: Redactor, *, json_lines: bool = True, level: str = "info") -> None:
    """Log to stderr through the redacting filter, as JSON lines (or plain text)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
