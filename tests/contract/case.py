"""What the contract suite needs to know about one provider.

Each provider's test folder defines ``CASE`` in ``tests/providers/<name>/contract_case.py``;
the suite finds them all, so adding a provider adds no line here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import serve

ALL_FAULTS = frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"})
FOLLOW_UPS = ("remix", "edit", "extend")
"""The operations on an existing video, besides create."""


@dataclass(frozen=True)
class Upstream:
    """A provider's simulator, running, as the suite reaches it."""

    fields: dict[str, Any]
    """The deployment fields that reach it (``api_base``, ``api_key``, ``options``...)."""
    url: str | None = None
    """Its base URL (``None``: an in-process provider, no simulator)."""
    secrets: tuple[str, ...] = ()
    """Credentials no client may ever see."""

    def log(self) -> list[dict[str, Any]]:
        """Every call it answered (``GET /__sim__/log``); none without a simulator."""
        if self.url is None:
            return []
        return list(httpx.get(f"{self.url}/__sim__/log", timeout=120).json())


@dataclass(frozen=True)
class Failure:
    """How the gateway reports a job the upstream failed (``[sim:fail]``)."""

    code: str
    says: str
    """Words of the upstream's reason the message keeps."""
    omits: tuple[str, ...] = ()
    """Words of the upstream's answer it must not show."""


@dataclass(frozen=True)
class ProviderCase:
    """One provider, as the contract suite drives it through the gateway."""

    provider: str
    model: str
    """The upstream model the deployment uses."""
    upstream: Callable[[], AbstractContextManager[Upstream]]
    """Starts the provider's simulator."""
    request: dict[str, Any]
    """A valid create body (without ``model`` and ``prompt``)."""
    size: tuple[int, int]
    """The frame size that request produces."""
    seconds: float
    invalid: tuple[dict[str, Any], str]
    """A create body the model cannot take, and the ``param`` the 400 must name."""
    follow_ups: frozenset[str]
    """Which of ``remix``, ``edit``, ``extend`` the model offers; the others must be refused
    before any upstream call."""
    cancels: bool
    """Whether deleting a running video calls the upstream (cancel or delete)."""
    faults: frozenset[str] = ALL_FAULTS
    """Which ``[sim:...]`` markers the simulator implements."""
    failure: Failure | None = None
    """What ``[sim:fail]`` becomes (with ``fail`` in ``faults``)."""
    retry_after: str | None = "1"
    """The ``Retry-After`` a ``[sim:429]`` create answers (``None``: any whole seconds)."""
    bad_auth: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """The deployment fields with a credential the upstream refuses (``None``: no credential)."""
    auth_hides: tuple[str, ...] = ()
    """Words of the upstream's auth refusal that must not reach the client."""
    deployment: dict[str, Any] = field(default_factory=dict)
    """Extra deployment settings (poll interval and the like)."""


@contextmanager
def simulator(
    app: Any, fields: Callable[[str], dict[str, Any]], *secrets: str
) -> Iterator[Upstream]:
    """Serve a simulator app; ``fields(url)``: the deployment fields that reach it."""
    with serve(app) as url:
        yield Upstream(fields(url), url, secrets)


@contextmanager
def no_upstream() -> Iterator[Upstream]:
    """For in-process providers: nothing to start."""
    yield Upstream({})
