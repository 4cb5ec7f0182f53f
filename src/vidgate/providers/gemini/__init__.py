"""Provider ``gemini``: Google Veo on the Gemini Developer API."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.gemini.adapter import GeminiAdapter
from vidgate.providers.gemini.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=GeminiAdapter)
