"""Retry-After parsing: seconds, milliseconds, HTTP dates, garbage."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from vidgate.providers.toolkit import retry_after_s


def test_forms() -> None:
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert retry_after_s({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    now = 1_800_000_000.0
    date = formatdate(now + 30, usegmt=True)
    assert retry_after_s({"retry-after": date}, now=now) == pytest.approx(30)
    assert retry_after_s({"retry-after": formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None


def test_scrub_hides_whole_urls_before_provider_patterns() -> None:
    import re

    from vidgate.providers.toolkit import scrub

    files = (re.compile(r"\bfiles/[a-z0-9]+"), "<file>")
    text = scrub("cannot read https://host.example/v1/files/abc123?key=s3cret, files/xyz", files)
    assert "host.example" not in text and "s3cret" not in text
    assert text == "cannot read <url> <file>"
    assert scrub(None) == "" and scrub("  x  ") == "x"
    assert len(scrub("y" * 2000, limit=100)) <= 100
