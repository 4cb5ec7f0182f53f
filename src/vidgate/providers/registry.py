"""Every provider vidgate knows, by config name. Adding a provider adds one line here."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module

from vidgate.providers.base import Provider


def _load(name: str) -> Provider:
    provider: Provider = import_module(f"vidgate.providers.{name}").PROVIDER
    return provider


PROVIDERS: Mapping[str, Provider] = {
    "local": _load("local"),
    "openai": _load("openai"),
    "xai": _load("xai"),
    "luma": _load("luma"),
    "gemini": _load("gemini"),
    "runway": _load("runway"),
    "azure": _load("azure"),
    "vertex_ai": _load("vertex_ai"),
    "replicate": _load("replicate"),
    "kling": _load("kling"),
    "vidu": _load("vidu"),
    "wan": _load("wan"),
    "seedance": _load("seedance"),
    "fal": _load("fal"),
    "minimax": _load("minimax"),
    # providers:end
}
