"""Provider ``replicate``: the Replicate predictions API (any hosted video model)."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.replicate.adapter import ReplicateAdapter
from vidgate.providers.replicate.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=ReplicateAdapter)
