"""Provider ``fal``: the fal.ai queue API (any fal-hosted video model by its path)."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.fal.adapter import FalAdapter
from vidgate.providers.fal.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=FalAdapter)
