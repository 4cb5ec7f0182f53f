"""What a job costs: the estimate reserved at submit and the amount settled at the end.

The estimate prices the request as the upstream will run it (the resolved request: the
model's default duration when none was asked for, the exact size, audio). The settlement
prices what was really produced: the upstream's own usage report when it gives one
(credits, units, tokens, ticks — converted with the model's ``usd_per_unit``), otherwise the
probed duration and resolution of the archived video. A deployment's ``pricing`` in the
config replaces the catalogue price of its model; the local renderer is free unless priced.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from vidgate.providers.base import Provider
from vidgate.values import Deployment, Pricing, ResolvedRequest, resolution_tier


def pricing_for(deployment: Deployment, providers: Mapping[str, Provider]) -> Pricing | None:
    """The deployment's configured price, else its model's list price (``None``: unpriced)."""
    if deployment.pricing is not None:
        return deployment.pricing
    provider = providers.get(deployment.provider)
    if provider is None:
        return None
    prices = provider.spec.prices
    base = deployment.options.get("base_model")  # a deployment name priced as its base model
    return prices.get(deployment.model) or (prices.get(base) if isinstance(base, str) else None)


def estimate_usd(pricing: Pricing | None, request: ResolvedRequest) -> float | None:
    """The list price of ``request`` (``None`` when the model has no price)."""
    if pricing is None:
        return None
    tier = resolution_tier(request.width, request.height)
    return pricing.usd(request.seconds, tier, bool(request.audio))


def settle_usd(
    pricing: Pricing | None,
    request: Mapping[str, Any],
    usage: Mapping[str, Any] | None,
    cost_units: float | None,
) -> float | None:
    """The cost of what was produced (``None`` when unpriced).

    ``request`` is the resolved request as stored on the job, ``usage`` the probe of the
    archived video, ``cost_units`` what the upstream reported in the price's ``unit``.
    """
    if pricing is None:
        return None
    if cost_units is not None and pricing.unit != "usd":
        return pricing.units_usd(cost_units)
    if cost_units is not None:
        return round(cost_units, 6)
    usage = usage or {}
    seconds = billed_seconds(usage.get("duration_seconds"), int(request.get("seconds") or 0))
    source = request.get("source") or {}
    if request.get("operation") == "extend" and source.get("seconds"):
        seconds = max(1.0, seconds - int(source["seconds"]))  # the video holds the source too
    width = int(usage.get("width") or request.get("width") or 0)
    height = int(usage.get("height") or request.get("height") or 0)
    audio = bool(usage.get("has_audio")) if usage else bool(request.get("audio"))
    return pricing.usd(seconds, resolution_tier(width, height), audio)


def billed_seconds(probed: Any, requested: int) -> float:
    """Whole seconds produced: the probed duration rounded to the nearest second (encoders
    pad or trim a few frames), the requested length when the video could not be measured."""
    if isinstance(probed, int | float) and probed > 0:
        return float(max(1, math.floor(probed + 0.5)))
    return float(requested)
