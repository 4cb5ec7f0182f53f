"""Provider ``runway``: the RunwayML API (Gen-4, Gen-4.5, Veo 3/3.1, Aleph)."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.runway.adapter import RunwayAdapter
from vidgate.providers.runway.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=RunwayAdapter)
