"""``LineHandler`` batches lines but never reorders them: a warning writes everything queued
before it at once, and closing writes what is left."""

from __future__ import annotations

import io
import logging

from vidgate.observe.logs import JsonFormatter, LineHandler, RedactingFilter, info_fields
from vidgate.redact import Redactor


def _logger(stream: io.StringIO) -> tuple[logging.Logger, LineHandler]:
    handler = LineHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(Redactor(["sk-known-secret-1"])))
    logger = logging.getLogger("vidgate.test.lines")
    logger.propagate = False
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    return logger, handler


def test_a_warning_writes_the_queued_lines_first_in_order() -> None:
    stream = io.StringIO()
    logger, handler = _logger(stream)
    try:
        logger.info("one")
        logger.info("two sk-known-secret-1")
        logger.warning("three")
        lines = stream.getvalue().splitlines()
        assert [line.split('"msg":"')[1].split('"')[0] for line in lines] == [
            "one",
            "two [redacted]",
            "three",
        ]
    finally:
        handler.close()


def test_closing_writes_what_is_queued() -> None:
    stream = io.StringIO()
    logger, handler = _logger(stream)
    logger.info("last words")
    handler.close()
    assert '"msg":"last words"' in stream.getvalue()


def test_a_plain_field_line_takes_the_ordinary_path_under_another_handler() -> None:
    """``info_fields`` writes directly only through ``configure``'s handler: a logger with a
    handler of its own (a test's capture) gets a record, with the same fields."""
    stream = io.StringIO()
    logger, handler = _logger(stream)
    try:
        info_fields(logger, "request", {"route": "/v1/videos/{id}", "status_code": 200})
        handler.flush()
        assert '"route":"/v1/videos/{id}","status_code":200' in stream.getvalue()
    finally:
        handler.close()
