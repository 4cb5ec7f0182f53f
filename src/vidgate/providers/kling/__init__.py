"""Provider ``kling``: the Kling AI video API (text2video, image2video)."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.kling.adapter import KlingAdapter
from vidgate.providers.kling.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=KlingAdapter)
