"""The built-in offline renderer, registered as provider ``local``."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.local.runtime import LocalRenderer
from vidgate.providers.local.spec import SPEC

PROVIDER = Provider(spec=SPEC, runtime=LocalRenderer, needs_api_base=False)
