"""Strategies are pure: their distributions and orders, checked with a seeded random source."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from vidgate.routing.select import (
    STRATEGIES,
    Candidate,
    headroom,
    least_busy,
    lowest_cost,
    lowest_latency,
    most_headroom,
    weighted,
)

DRAWS = 20_000


def first_pick_shares(candidates: list[Candidate], seed: int = 1) -> dict[str, float]:
    rng = random.Random(seed)
    counts = Counter(weighted(candidates, rng)[0].id for _ in range(DRAWS))
    return {c.id: counts[c.id] / DRAWS for c in candidates}


def test_weighted_first_pick_follows_the_weights() -> None:
    # binomial standard deviation at 20,000 draws is <= 0.0036; allow 5 sigma
    shares = first_pick_shares([Candidate("a", 3), Candidate("b", 1)])
    assert shares["a"] == pytest.approx(0.75, abs=0.018)
    shares = first_pick_shares([Candidate("a", 1), Candidate("b", 2), Candidate("c", 7)])
    assert shares == pytest.approx({"a": 0.1, "b": 0.2, "c": 0.7}, abs=0.018)


def test_weighted_second_place_is_sampled_without_replacement() -> None:
    rng = random.Random(2)
    cands = [Candidate("a", 8), Candidate("b", 1), Candidate("c", 1)]
    orders = [tuple(c.id for c in weighted(cands, rng)) for _ in range(DRAWS)]
    assert all(sorted(order) == ["a", "b", "c"] for order in orders)
    # when "a" is first, "b" and "c" share second place equally
    seconds = Counter(order[1] for order in orders if order[0] == "a")
    assert seconds["b"] / sum(seconds.values()) == pytest.approx(0.5, abs=0.03)


def test_weight_zero_is_only_a_spare() -> None:
    rng = random.Random(3)
    cands = [Candidate("spare", 0), Candidate("main", 1)]
    assert all(weighted(cands, rng)[0].id == "main" for _ in range(2000))
    assert {weighted(cands, rng)[1].id for _ in range(100)} == {"spare"}


def test_least_busy_picks_the_fewest_running_and_shares_ties() -> None:
    cands = [Candidate("a", running=5), Candidate("b", running=1), Candidate("c", running=1)]
    rng = random.Random(4)
    picks = Counter(least_busy(cands, rng)[0].id for _ in range(DRAWS))
    assert picks["a"] == 0
    assert picks["b"] / DRAWS == pytest.approx(0.5, abs=0.02)
    assert [c.id for c in least_busy(cands, random.Random(5))][-1] == "a"


def test_lowest_latency_measures_unknown_deployments_first() -> None:
    cands = [
        Candidate("slow", latency_s=0.9),
        Candidate("fast", latency_s=0.1),
        Candidate("new", latency_s=None),
    ]
    assert [c.id for c in lowest_latency(cands, random.Random(6))] == ["new", "fast", "slow"]


def test_lowest_cost_puts_unpriced_last() -> None:
    cands = [
        Candidate("dear", cost_usd=2.0),
        Candidate("unpriced", cost_usd=None),
        Candidate("cheap", cost_usd=0.4),
    ]
    assert [c.id for c in lowest_cost(cands, random.Random(7))] == ["cheap", "dear", "unpriced"]


def test_usage_prefers_the_most_headroom() -> None:
    cands = [
        Candidate("rpm-tight", rpm=10, rpm_used=9),
        Candidate("busy", max_concurrent=4, running=3),
        Candidate("roomy", rpm=100, rpm_used=10, max_concurrent=10, running=2),
        Candidate("unlimited"),
    ]
    assert headroom(cands[0]) == pytest.approx(0.1)
    assert headroom(cands[1]) == pytest.approx(0.25)
    assert headroom(cands[2]) == pytest.approx(0.8)
    order = [c.id for c in most_headroom(cands, random.Random(8))]
    assert order == ["unlimited", "roomy", "busy", "rpm-tight"]


def test_every_strategy_returns_every_candidate_once() -> None:
    cands = [Candidate(str(i), weight=i % 3, running=i, latency_s=i / 10) for i in range(7)]
    for name, strategy in STRATEGIES.items():
        order = strategy(cands, random.Random(9))
        assert sorted(c.id for c in order) == sorted(c.id for c in cands), name
