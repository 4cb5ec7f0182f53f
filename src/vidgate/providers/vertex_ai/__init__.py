"""Provider ``vertex_ai``: Google Veo on Vertex AI (service-account OAuth)."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.vertex_ai.adapter import VertexAdapter
from vidgate.providers.vertex_ai.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=VertexAdapter, needs_api_base=False)
