"""Structured logs: one JSON object per line, with every known secret redacted.

``configure`` installs a JSON formatter and a redacting filter on the root handler, so no
module can leak a key by accident: the filter runs the process's redactor (``redact.py``:
the exact secrets the gateway knows — master key, deployment credentials, webhook secrets —
and anything shaped like a key or a bearer token) over the message and every extra field.

Lines are written in batches by ``LineHandler`` (see there). ``info_fields`` makes a line of
plain fields (the access line of every request) without a ``LogRecord``: when the only
handler is the one ``configure`` installed (or ``vidgate serve --log-file``'s copy of it),
the line is redacted and formatted exactly as the handler would (measured in-process: 30 us
a line through ``Logger.info`` and a write of its own, against ~12 us). Any other set-up (a
test's log capture, an added handler, text lines) takes the ordinary ``Logger.info``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from vidgate.redact import Redactor

_JSON = json.JSONEncoder(default=str, separators=(",", ":"))
"""One encoder for every line (``json.dumps`` with options builds one per call: 7.3 us a
line against 4.8)."""
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

    def fields(self, message: str, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """``message`` and ``fields`` as ``filter`` leaves them on a record."""
        if _nothing_to_hide(self.redactor, message, list(fields.items())):
            return message, fields
        return self.redactor(message), {k: self.redactor.value(v) for k, v in fields.items()}


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

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        line = self.head(record.created, record.levelname, record.name, record.getMessage())
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = value
        if record.exc_text:
            line["exc"] = record.exc_text
        return _JSON.encode(line)

    def head(self, created: float, level: str, logger: str, message: str) -> dict[str, Any]:
        """A line's first fields; the time's text is made once a second."""
        whole = int(created)
        if self._second[0] != whole:
            self._second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
        millis = int((created - whole) * 1000)
        ts = f"{self._second[1]}.{millis:03d}Z"
        return {"ts": ts, "level": level.lower(), "logger": logger, "msg": message}


BATCH_S = 0.05
"""How long a line waits at most for others to share its write (``LineHandler``)."""


class LineHandler(logging.Handler):
    """Writes formatted lines to a stream or an appended file, in batches.

    Every write to a pipe or a file is a system call, and at ~1,000 requests a second the
    access line's own write cost ~17 us of each (measured in-process), as much as
    formatting it. Lines are queued and written together by a thread of this handler's at
    most ``BATCH_S`` after the first of them; a warning or an error writes everything queued
    at once, so lines stay in order and a failure's lines are out before anything else
    happens. ``logging.shutdown`` (at exit) writes what is left, and so does ``vidgate
    serve`` when serving ends (``server.py``: uvicorn re-raises a SIGTERM, so no exit handler
    runs then); a process killed outright loses at most the last ``BATCH_S`` of lines.
    With ``path``, the file is reopened when logrotate moved or removed it (looked at once
    per write, not once per line as ``WatchedFileHandler`` does)."""

    def __init__(self, stream: TextIO | None = None, path: Path | None = None) -> None:
        super().__init__()
        self.path = path
        self._file: tuple[int, int] | None = None
        self.stream = stream if stream is not None else self._open()
        self._lines: list[str] = []
        self._queued = threading.Lock()
        self._writing = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.line(text, urgent=record.levelno >= logging.WARNING)

    def line(self, text: str, *, urgent: bool = False) -> None:
        """Queue one formatted line; write at once if ``urgent`` (or once closed)."""
        with self._queued:
            first = not self._lines
            self._lines.append(text)
        if urgent or self._stopped.is_set():
            self.flush()
        elif first:
            if self._thread is None:
                self._start()
            self._wake.set()

    def flush(self) -> None:
        with self._writing:
            with self._queued:
                lines, self._lines = self._lines, []
            if not lines:
                return
            try:
                if self.path is not None:
                    self._reopen_if_moved()
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": lines[0]}))

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        self.flush()
        if self.path is not None and not self.stream.closed:
            self.stream.close()
        super().close()

    def _start(self) -> None:
        with self._writing:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="vidgate-log-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait()
            self._wake.clear()
            self._stopped.wait(BATCH_S)  # let the lines of the next moments join this write
            self.flush()

    def _open(self) -> TextIO:
        assert self.path is not None
        stream = self.path.open("a", encoding="utf-8")
        info = os.fstat(stream.fileno())
        self._file = (info.st_dev, info.st_ino)
        return stream

    def _reopen_if_moved(self) -> None:
        assert self.path is not None
        try:
            info = os.stat(self.path)
            moved = (info.st_dev, info.st_ino) != self._file
        except FileNotFoundError:
            moved = True
        if moved:
            self.stream.close()
            self.stream = self._open()


def info_fields(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """``logger.info(message, extra=fields)`` for plain fields (str, int, float, None),
    written directly when only ``configure``'s handler would take it (module docstring)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _only_handler(logger)
    if handler is None:
        logger.info(message, extra=fields)
        return
    formatter, redacting = handler.formatter, handler.filters[0]
    assert isinstance(formatter, JsonFormatter) and isinstance(redacting, RedactingFilter)
    try:
        message, fields = redacting.fields(message, fields)
        line = formatter.head(time.time(), "INFO", logger.name, message)
        line.update(fields)
        text = _JSON.encode(line)
    except Exception:  # as a handler's own formatting failure: reported, never raised
        handler.handleError(logging.makeLogRecord({"msg": message}))
        return
    if isinstance(handler, LineHandler):
        handler.line(text)
        return
    handler.acquire()
    try:  # what ``StreamHandler.emit`` does with a formatted line
        handler.stream.write(text + handler.terminator)
        handler.flush()
    except Exception:
        handler.handleError(logging.makeLogRecord({"msg": text}))
    finally:
        handler.release()


def _only_handler(logger: logging.Logger) -> LineHandler | logging.StreamHandler[Any] | None:
    """The root's handler if it is the only one ``logger``'s line reaches and it is a JSON,
    redacting handler like the one ``configure`` made; else ``None``."""
    current: logging.Logger | None = logger
    while current is not None and current is not logging.root:
        if current.handlers or current.filters or not current.propagate:
            return None
        current = current.parent
    handlers = logging.root.handlers
    if len(handlers) != 1 or logging.root.filters:
        return None
    handler = handlers[0]
    if (
        type(handler) not in (LineHandler, logging.StreamHandler)
        or type(handler.formatter) is not JsonFormatter
        or len(handler.filters) != 1
        or type(handler.filters[0]) is not RedactingFilter
        or handler.level > logging.INFO
    ):
        return None
    return handler  # type: ignore[return-value]


def configure(redactor: Redactor, *, json_lines: bool = True, level: str = "info") -> None:
    """Log to stderr through the redacting filter, as JSON lines (or plain text)."""
    handler = LineHandler(sys.stderr)
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
