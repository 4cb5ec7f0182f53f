"""Provider ``openai``: any OpenAI-Videos-compatible upstream."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.openai.adapter import OpenAIAdapter
from vidgate.providers.openai.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=OpenAIAdapter)
