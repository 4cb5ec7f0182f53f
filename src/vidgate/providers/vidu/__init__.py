"""Provider ``vidu``: the Vidu (Shengshu) enterprise API v2 (Q3, Q2, Q1, 2.0, 1.5)."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.vidu.adapter import ViduAdapter
from vidgate.providers.vidu.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=ViduAdapter)
