"""Upstream hosts and resource names are hidden in messages with or without a URL scheme.

``toolkit.scrub`` hides whole URLs first; each provider's own patterns then catch the forms
without a scheme: Google's full resource names (``//aiplatform.googleapis.com/projects/…``),
``user@host`` and bare hosts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vidgate.providers.azure import adapter as azure
from vidgate.providers.gemini import adapter as gemini
from vidgate.providers.vertex_ai import adapter as vertex
from vidgate.providers.xai import adapter as xai

CASES: list[tuple[Callable[[Any], str], str, str]] = [
    (
        vertex._scrub,
        "denied on //aiplatform.googleapis.com/projects/acme-prod-123/locations/us/x",
        "acme-prod-123",
    ),
    (vertex._scrub, "see https://console.cloud.google.com/projects/acme-prod-123", "acme"),
    (azure._scrub, "user@myres.openai.azure.com has no access", "myres"),
    (azure._scrub, "//myres.openai.azure.com/openai is busy", "myres"),
    (xai._scrub, "ask admin@api.x.ai", "x.ai"),
    (xai._scrub, "//vidgen.api.x.ai/v1 is down", "vidgen"),
    (gemini.scrub, "//generativelanguage/models/veo/operations/op123 failed", "op123"),
    (gemini.scrub, "bucket/files/abc123 is gone", "abc123"),
]


@pytest.mark.parametrize(("scrub", "message", "hidden"), CASES)
def test_scheme_less_forms_are_hidden(
    scrub: Callable[[Any], str], message: str, hidden: str
) -> None:
    text = scrub(message)
    assert hidden not in text, text
    assert "<" in text  # replaced, not dropped
