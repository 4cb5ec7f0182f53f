"""What the pure adapter tests (``tests/providers/*/test_adapter.py``) share.

Each module keeps its provider's defaults as data and gets its helpers from here:
``deployment = deployment_maker(SPEC, "gen4.5", "runway-test", api_base, api_key)``,
``request = request_maker("a lighthouse at dusk", "gen4.5", 5, (1280, 720))``, a
:class:`Resolver` for ``resolved`` and ``rejects``, and :func:`reply`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import HttpReply, ProviderSpec
from vidgate.request import VideoRequest, resolve
from vidgate.values import Deployment, ResolvedRequest, SourceVideo

STATUS_ERRORS: list[tuple[int, type[GatewayError]]] = [
    (400, InvalidRequest),
    (422, InvalidRequest),
    (401, UpstreamAuthError),
    (403, UpstreamAuthError),
    (404, NotFound),
    (429, RateLimited),
    (500, UpstreamError),
    (502, UpstreamError),
    (503, UpstreamError),
]
"""What an upstream's HTTP status means when its body says no more (``parametrize`` rows)."""

SOURCE_SIZE = (1280, 720)
"""The frame size of an edit's source video, unless a test gives ``source_size``."""


def reply(status: int, body: Any, **headers: str) -> HttpReply:
    """An upstream reply as the gateway hands it to an adapter (headers case-insensitive);
    headers with dashes are given as ``**{"retry-after": "7"}``."""
    return HttpReply(status, httpx.Headers(headers), body)


def deployment_maker(
    spec: ProviderSpec,
    default_model: str,
    deployment_id: str,
    api_base: str | None,
    api_key: str | None,
    **fields: Any,
) -> Callable[..., Deployment]:
    """A module's ``deployment(model=default_model, **changes)``: a deployment of the
    upstream ``model`` with its capabilities in ``spec``, this id, ``api_base``, ``api_key``
    and ``fields`` (``model_name`` is the model's unless given), then ``changes``."""

    def deployment(model: str = default_model, **changes: Any) -> Deployment:
        caps = spec.capabilities(model)
        assert caps is not None, model
        made = Deployment(
            **({"model_name": model} | fields),
            id=deployment_id,
            provider=spec.name,
            model=model,
            capabilities=caps,
            api_base=api_base,
            api_key=api_key,
        )
        return dataclasses.replace(made, **changes)

    return deployment


def request_maker(
    prompt: str, model: str, seconds: int, size: tuple[int, int], **fields: Any
) -> Callable[..., ResolvedRequest]:
    """A module's ``request(**changes)``: an already resolved create of ``model`` (24 fps,
    ``fields`` such as ``audio`` besides), then ``changes``; for building and parsing calls
    without going through :func:`vidgate.request.resolve`."""
    width, height = size
    base = ResolvedRequest("create", prompt, model, seconds, width, height, 24, **fields)
    return functools.partial(dataclasses.replace, base)


@dataclass(frozen=True)
class Resolver:
    """How a module resolves a client request for one of its provider's models: the checks
    before any job (:func:`vidgate.request.resolve`), with the module's defaults."""

    spec: ProviderSpec
    model: str
    """The upstream model when a test names none."""
    prompt: str
    """The prompt when a test gives none."""
    model_name: str | None = None
    """The deployment's public name; the upstream model's when ``None``."""

    def resolved(
        self, model: str | None = None, source: SourceVideo | None = None, **fields: Any
    ) -> ResolvedRequest:
        """``fields`` as a client sends them (``operation``, ``prompt``, ``seconds``,
        ``size``...), resolved; a ``source`` video is :data:`SOURCE_SIZE` big unless
        ``source_size`` says otherwise."""
        upstream = model or self.model
        caps = self.spec.capabilities(upstream)
        assert caps is not None, upstream
        source_size = fields.pop("source_size", SOURCE_SIZE) if source is not None else None
        operation = fields.pop("operation", "create")
        video = VideoRequest(operation, fields.pop("prompt", self.prompt), **fields)
        return resolve(
            video,
            caps,
            model_name=self.model_name or upstream,
            upstream_model=upstream,
            source=source,
            source_size=source_size,
        )

    def rejects(self, param: str, model: str | None = None, **fields: Any) -> InvalidRequest:
        """The request is refused while it is resolved (before a job or a hold exists), for
        ``param``; the refusal, for more checks."""
        with pytest.raises(InvalidRequest) as caught:
            self.resolved(model, **fields)
        assert caught.value.param == param, caught.value.message
        return caught.value
