"""What an upstream model can take and what it costs, as data.

A leaf: every layer may import it. Provider specs are built from these values; requests are
validated against them once, before a job exists; the accounting prices jobs with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelCapabilities:
    """What one upstream model can take; requests are validated against this once."""

    seconds: tuple[int, ...]
    default_seconds: int
    sizes: tuple[str, ...]
    default_size: str
    fps: tuple[int, ...] = (24,)
    default_fps: int = 24
    image_roles: frozenset[str] = frozenset()
    operations: frozenset[str] = frozenset({"create"})
    max_prompt_chars: int = 32_000
    seed: bool = False
    negative_prompt: bool = False
    audio: bool | None = None
    """``None``: the model makes no audio; ``True``/``False``: it can, and this is the default."""
    max_reference_images: int = 0
    option_keys: frozenset[str] | None = frozenset()
    """Keys allowed in ``metadata`` passthrough; ``None`` forwards any key."""
    description: str = ""


@dataclass(frozen=True)
class Pricing:
    """A model's published price, as data: ``unit``s per output second by resolution tier.

    ``per_second`` maps a tier (``"480p"``, ``"720p"``, ``"1080p"``, ``"4k"``, or ``"*"`` for any)
    to the price per second in ``unit`` (``usd`` by default; providers that bill in their own
    units — Runway credits, Kling units, xAI ticks — give ``usd_per_unit``);
    ``per_second_audio`` overrides it when audio is generated. The upstream-reported units
    (``UpstreamState.cost_units``) settle the real cost.
    """

    per_second: Mapping[str, float]
    per_second_audio: Mapping[str, float] | None = None
    unit: str = "usd"
    usd_per_unit: float = 1.0
    source: str = ""

    def usd(self, seconds: float, tier: str, audio: bool = False) -> float | None:
        """The list price in USD of ``seconds`` at ``tier``; ``None`` if it has no price."""
        table = self.per_second_audio if audio and self.per_second_audio else self.per_second
        rate = table.get(tier, table.get("*"))
        return None if rate is None else round(rate * seconds * self.usd_per_unit, 6)

    def units_usd(self, units: float) -> float:
        """USD for an amount the upstream reported in ``unit``."""
        return round(units * self.usd_per_unit, 6)


def resolution_tier(width: int, height: int) -> str:
    """The common name of a frame size's tier, by its short side (720 → ``720p``)."""
    short = min(width, height)
    if short >= 2160:
        return "4k"
    if short >= 1440:
        return "1440p"
    for tier in (1080, 720, 540, 480, 360):
        if short >= tier:
            return f"{tier}p"
    return f"{short}p"
