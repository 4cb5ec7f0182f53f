"""What the contract suite needs to know about one provider.

Each provider's test folder defines ``CASE`` in ``tests/providers/<name>/contract_case.py``;
the suite finds them all, so adding a provider adds no line here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support import quick, serve

ALL_FAULTS = frozenset({"fail", "429", "500", "unknown-status", "malformed", "poll-429", "hang"})
FOLLOW_UPS = ("remix", "edit", "extend")
"""The operations on an existing video, besides create."""
TIMING = {"job_seconds": 0.5}
"""Simulator jobs run long enough for a poll to see them running (see ``quick``)."""


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
    """Starts the provider's simulator (:func:`keyed` for most)."""
    request: dict[str, str]
    """A valid create body (without ``model`` and ``prompt``): its ``size`` and ``seconds``
    are what the video must have."""
    invalid: tuple[dict[str, Any], str]
    """A create body the model cannot take, and the ``param`` the 400 must name."""
    cancels: bool
    """Whether deleting a running video calls the upstream (cancel or delete)."""
    follow_ups: frozenset[str] = frozenset()
    """Which of ``remix``, ``edit``, ``extend`` the model offers; the others must be refused
    before any upstream call."""
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

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.request["size"].split("x")
        return int(width), int(height)

    @property
    def seconds(self) -> float:
        return float(self.request["seconds"])


def keyed(
    create_app: Callable[[Any], Any],
    config: Any,
    path: str = "",
    *,
    key: str | None = None,
    secrets: tuple[str, ...] = (),
    **fields: Any,
) -> Callable[[], AbstractContextManager[Upstream]]:
    """A simulator that takes a key: ``create_app(config)`` with :data:`TIMING`; the deployment
    reaches its API at its URL plus ``path`` with ``key`` (by default the config's
    ``api_key``) and ``fields``; ``secrets``: more credentials no client may see."""
    api_key = key or config.api_key

    @contextmanager
    def upstream() -> Iterator[Upstream]:
        with serve(create_app(quick(config, **TIMING))) as url:
            deployment = {"api_base": f"{url}{path}", "api_key": api_key, **fields}
            yield Upstream(deployment, url, (api_key, *secrets))

    return upstream


def wrong_key(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """:attr:`ProviderCase.bad_auth` for a deployment whose ``api_key`` is all it needs."""
    return lambda fields: fields | {"api_key": key}


@contextmanager
def no_upstream() -> Iterator[Upstream]:
    """For in-process providers: nothing to start."""
    yield Upstream({})
