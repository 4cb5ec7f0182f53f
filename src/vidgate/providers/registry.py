"""Every provider vidgate knows, by config name. Adding a provider adds one line here."""

from __future__ import annotations

from collections.abc import Mapping

from vidgate.providers import local, openai
from vidgate.providers.base import Provider

PROVIDERS: Mapping[str, Provider] = {
    "local": local.PROVIDER,
    "openai": openai.PROVIDER,
}
