"""Provider ``wan``: Alibaba Wan video models on DashScope (Model Studio)."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.wan.adapter import WanAdapter
from vidgate.providers.wan.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=WanAdapter)
