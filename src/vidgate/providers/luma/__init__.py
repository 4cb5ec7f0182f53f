"""Provider ``luma``: the Luma Dream Machine API (Ray 2, Ray Flash 2, Ray 1.6)."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.luma.adapter import LumaAdapter
from vidgate.providers.luma.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=LumaAdapter)
