"""Provider ``azure``: Azure OpenAI video (Sora 2 on the v1 API, Sora 1 on the jobs API)."""

from __future__ import annotations

from vidgate.providers.azure.adapter import AzureAdapter
from vidgate.providers.azure.spec import SPEC
from vidgate.providers.base import Provider

PROVIDER = Provider(spec=SPEC, adapter=AzureAdapter)
