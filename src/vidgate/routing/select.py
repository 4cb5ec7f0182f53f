"""Routing strategies: pure functions that order a group's deployments for one request.

Each strategy gets the candidates (deployments that are not cooling down, with what the
router knows about them right now) and a random source, and returns them best first; the
router tries them in that order and moves down the list on retryable errors. Ties are
broken by the weighted order, so equal candidates still share traffic by ``weight``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """One deployment as a strategy sees it."""

    id: str
    weight: float = 1.0
    running: int = 0
    """Jobs submitting or running on it now."""
    latency_s: float | None = None
    """Moving average of its create latency; ``None`` before the first create."""
    cost_usd: float | None = None
    """List price of this request there; ``None`` when it has no published price."""
    rpm_used: int = 0
    """Creates in the last minute."""
    rpm: int | None = None
    max_concurrent: int | None = None


Strategy = Callable[[Sequence[Candidate], random.Random], list[Candidate]]


def weighted(candidates: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Weighted random order (the first is picked with probability ``weight / total``).

    Efraimidis-Spirakis sampling without replacement: sort by ``u ** (1 / weight)``.
    Weight 0 deployments come last, as spares.
    """

    def key(candidate: Candidate) -> tuple[bool, float]:
        if candidate.weight <= 0:
            return False, rng.random()
        return True, math.log(1.0 - rng.random()) / candidate.weight  # log(u ** (1/w))

    return sorted(candidates, key=key, reverse=True)


def least_busy(candidates: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Fewest jobs running first."""
    return sorted(weighted(candidates, rng), key=lambda c: c.running)


def lowest_latency(candidates: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Fastest average create first; deployments never measured go first, to be measured."""
    return sorted(weighted(candidates, rng), key=lambda c: c.latency_s or 0.0)


def lowest_cost(candidates: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Cheapest list price for this request first; unpriced deployments last."""
    return sorted(
        weighted(candidates, rng),
        key=lambda c: math.inf if c.cost_usd is None else c.cost_usd,
    )


def most_headroom(candidates: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Most room left under its own limits (rpm and concurrency) first."""
    return sorted(weighted(candidates, rng), key=headroom, reverse=True)


def headroom(candidate: Candidate) -> float:
    """The smaller free share of rpm and concurrency (1.0 for a deployment without limits)."""
    shares = [1.0]
    if candidate.rpm:
        shares.append(1.0 - candidate.rpm_used / candidate.rpm)
    if candidate.max_concurrent:
        shares.append(1.0 - candidate.running / candidate.max_concurrent)
    return max(0.0, min(shares))


STRATEGIES: dict[str, Strategy] = {
    "weighted": weighted,
    "least-busy": least_busy,
    "latency": lowest_latency,
    "cost": lowest_cost,
    "usage": most_headroom,
}
