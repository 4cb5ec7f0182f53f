"""What the contract suite needs to know about one provider.

Each provider's test folder defines ``CASE`` in ``tests/providers/<name>/contract_case.py``;
the suite finds them all, so adding a provider adds no line here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProviderCase:
    """One provider, as the contract suite drives it through the gateway."""

    provider: str
    model: str
    """The upstream model the deployment uses."""
    upstream: Callable[[], AbstractContextManager[dict[str, Any]]]
    """Starts the provider's simulator; yields the deployment fields that reach it
    (``api_base``, ``api_key``, ``options``...)."""
    request: dict[str, Any]
    """A valid create body (without ``model`` and ``prompt``)."""
    size: tuple[int, int]
    """The frame size that request produces."""
    seconds: float
    invalid: tuple[dict[str, Any], str]
    """A create body the model cannot take, and the ``param`` the 400 must name."""
    faults: frozenset[str] = frozenset(
        {"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"}
    )
    """Which ``[sim:...]`` markers the simulator implements."""
    deployment: dict[str, Any] = field(default_factory=dict)
    """Extra deployment settings (poll interval and the like)."""


def no_upstream() -> AbstractContextManager[dict[str, Any]]:
    """For in-process providers: nothing to start."""
    from contextlib import contextmanager

    @contextmanager
    def nothing() -> Iterator[dict[str, Any]]:
        yield {}

    return nothing()
