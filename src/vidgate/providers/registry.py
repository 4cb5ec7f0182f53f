"""Every provider vidgate knows, by config name. A new provider adds its import and one line.

Imported explicitly (not by name at run time) so readers, mypy and the layer test see every
provider the gateway ships.
"""

from __future__ import annotations

from collections.abc import Mapping

from vidgate.providers import (
    azure,
    fal,
    gemini,
    kling,
    local,
    luma,
    minimax,
    openai,
    replicate,
    runway,
    seedance,
    vertex_ai,
    vidu,
    wan,
    xai,
)
from vidgate.providers.base import Provider

PROVIDERS: Mapping[str, Provider] = {
    "local": local.PROVIDER,
    "openai": openai.PROVIDER,
    "xai": xai.PROVIDER,
    "luma": luma.PROVIDER,
    "gemini": gemini.PROVIDER,
    "runway": runway.PROVIDER,
    "azure": azure.PROVIDER,
    "vertex_ai": vertex_ai.PROVIDER,
    "replicate": replicate.PROVIDER,
    "kling": kling.PROVIDER,
    "vidu": vidu.PROVIDER,
    "wan": wan.PROVIDER,
    "seedance": seedance.PROVIDER,
    "fal": fal.PROVIDER,
    "minimax": minimax.PROVIDER,
    # providers:end
}
