"""Structured logs: one JSON object per line, with every known secret redacted.

``configure`` installs a JSON formatter and a redacting filter on the root handler, so no
module can leak a key by accident: the filter runs the process's redactor (``redact.py``:
the exact secrets the gateway knows — master key, deployment credentials, webhook secrets —
and anything shaped like a key or a bearer token) over the message and every extra field.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from vidgate.redact import Redactor

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        extras = [(name, value) for name, value in vars(record).items() if name not in _STANDARD]
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if _nothing_to_hide(self.redactor, message, extras):
            record.msg = message
            return True
        record.msg = self.redactor(message)
        for name, value in extras:
            setattr(record, name, self.redactor.value(value))
        return True


_PLAIN = (str, int, float, type(None))


def _nothing_to_hide(redactor: Redactor, message: str, extras: list[tuple[str, Any]]) -> bool:
    """Whether a line of plain fields holds nothing to redact, in one pass over all of them
    (one per field cost ~10 us of a request's access line). A match the joining creates
    only sends the line down the field-by-field path."""
    if not all(isinstance(value, _PLAIN) for _, value in extras):
        return False
    text = "\n".join([message, *(value for _, value in extras if isinstance(value, str))])
    return redactor(text) == text


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
