"""The local renderer in the contract suite."""

from __future__ import annotations

from tests.contract.case import FOLLOW_UPS, ProviderCase, no_upstream

CASE = ProviderCase(
    provider="local",
    model="preview",
    upstream=no_upstream,
    request={"size": "320x180", "seconds": "2"},
    invalid=({"size": "100x100"}, "size"),
    cancels=False,
    follow_ups=frozenset(FOLLOW_UPS),
    faults=frozenset(),
)
