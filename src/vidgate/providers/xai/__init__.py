"""Provider ``xai``: xAI Grok Imagine video over its REST API."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.xai.adapter import XAIAdapter
from vidgate.providers.xai.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=XAIAdapter)
