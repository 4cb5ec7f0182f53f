"""Provider ``seedance``: ByteDance Seedance on Volcengine Ark and BytePlus ModelArk."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.seedance.adapter import SeedanceAdapter
from vidgate.providers.seedance.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=SeedanceAdapter)
