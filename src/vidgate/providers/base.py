"""What a provider is: a declarative spec plus either a pure HTTP adapter or a runtime.

The job service never talks to a provider directly. It holds an ``UpstreamClient`` (submit,
poll, download, delete) for a deployment. For HTTP providers that client is
``routing.dispatch.HttpUpstream``, which owns the HTTP client, timeouts and secrets and asks
the provider's pure ``HttpAdapter`` to build requests and parse replies, so adapters are
tested without a network. In-process providers (the local renderer) supply a runtime that
implements ``UpstreamClient`` itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from vidgate.values import (
    Asset,
    Deployment,
    ForeignName,
    JobStatus,
    ModelCapabilities,
    Pricing,
    ResolvedRequest,
    UpstreamState,
    Variant,
)

if TYPE_CHECKING:
    from vidgate.errors import GatewayError
    from vidgate.storage.base import BlobStore


@dataclass(frozen=True)
class Credential:
    """A deployment field a provider authenticates with, checked by ``vidgate config check``
    (a request to a deployment without it fails; the check says so before one is sent)."""

    field: str
    """``api_key`` or ``options.<name>``."""
    required: bool = False
    """``True``: vidgate cannot build a request without it (it signs or exchanges it), so a
    deployment without it is an error. ``False``: requests go out unauthenticated and the
    upstream decides (a self-hosted compatible server may not need a key): a warning."""
    file: bool = False
    """A string value is a file path (unless it is inline JSON, ``{...}``); the file must
    exist."""


@dataclass(frozen=True)
class ProviderSpec:
    """A provider described as data: models, status map, polling and submit behaviour."""

    name: str
    description: str
    models: Mapping[str, ModelCapabilities]
    status_map: Mapping[str, JobStatus]
    any_model: ModelCapabilities | None = None
    """Capabilities for upstream model names not listed (free-form upstreams)."""
    idempotent_submit: bool = False
    """Re-sending a create with the same idempotency key cannot start a second upstream task."""
    poll_interval_s: float = 2.0
    job_deadline_s: float | None = None
    """How long a job usually may take here before it is failed (its deployment or the
    config may say otherwise; ``None``: the gateway's default)."""
    upstream_previews: frozenset[str] = frozenset()
    """Variants besides ``video`` the upstream serves itself; others are made by vidgate."""
    prices: Mapping[str, Pricing] = field(default_factory=dict)
    """Published prices by upstream model."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Deployment fields and the environment variables that provide them (``api_key`` →
    ``GEMINI_API_KEY``); when all are set at start, ``auto_models`` are registered."""
    credentials: tuple[Credential, ...] = ()
    """What a deployment must carry to authenticate (``vidgate config check`` reports what
    is missing)."""
    auto_models: tuple[str, ...] = ()
    """Upstream models registered as ``<provider>/<model>`` when ``env`` is satisfied."""
    default_api_base: str | None = None
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Built-in model names (``veo3``, ``kling-video``) and the upstream models each may
    mean, best first; across providers, the registry's order decides."""
    foreign_names: Mapping[str, ForeignName] = field(default_factory=dict)
    """Model names of other gateways' APIs (aimlapi's ``/v2``) and what they mean here."""
    deployment_capabilities: Callable[[str, Mapping[str, Any]], ModelCapabilities] | None = None
    """For providers where a deployment's options decide what it takes (an Azure deployment
    of any name serves the Sora model its ``options.base_model`` names): the capabilities
    of ``(upstream model, options)``, so requests are checked against them before a job."""
    vendor_paths: Mapping[str, str] = field(default_factory=dict)
    """aimlapi's legacy ``/v2/generate/video/{vendor}/generation`` vendors this provider
    answers, and the model name used when the body names none."""

    def capabilities(self, upstream_model: str) -> ModelCapabilities | None:
        """The capabilities of ``upstream_model``, or ``None`` if this provider lacks it."""
        return self.models.get(upstream_model, self.any_model)

    def capabilities_for(
        self, upstream_model: str, options: Mapping[str, Any]
    ) -> ModelCapabilities | None:
        """What a deployment of ``upstream_model`` with ``options`` takes."""
        if self.capabilities(upstream_model) is None:
            return None
        if self.deployment_capabilities is not None:
            return self.deployment_capabilities(upstream_model, options)
        return self.capabilities(upstream_model)

    def map_status(self, raw: str) -> JobStatus:
        """Map an upstream status; unknown values mean the job is still running."""
        return self.status_map.get(raw, "in_progress")


class UpstreamClient(Protocol):
    """What the job service needs from a deployment, whatever the provider."""

    async def submit(self, request: ResolvedRequest, *, idempotency_key: str) -> UpstreamState:
        """Start an upstream task; must be safe to repeat with the same key if the spec says so."""
        ...

    async def poll(self, upstream_id: str) -> UpstreamState:
        """Observe the task once."""
        ...

    def download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """Stream a finished result's bytes (never the whole file in memory); ``location``
        is what the upstream reported in ``UpstreamState.results`` for ``variant``."""
        ...

    async def delete(self, upstream_id: str) -> None:
        """Delete or cancel the upstream task where the provider has that; else nothing."""
        ...

    async def archived(self, upstream_id: str) -> None:
        """The gateway now holds its own copy of the result; the client may free its copy."""
        ...


# --- HTTP providers: a pure adapter (no I/O) -------------------------------------------


@dataclass(frozen=True)
class Inline:
    """A placeholder inside an ``HttpCall``'s JSON that dispatch replaces with an input's bytes.

    Adapters stay pure: they say *where* an image goes and in which form, and
    ``routing/dispatch.py`` reads the blob (or decodes a ``data:`` URL, or fetches an http(s)
    URL) when it sends the call. ``form`` is ``base64`` (bare), ``data_uri``
    (``data:<type>;base64,...``) or ``mime_type`` (just the content type).
    """

    asset: Asset
    form: Literal["base64", "data_uri", "mime_type"] = "base64"


@dataclass(frozen=True)
class FilePart:
    """A multipart file part whose bytes come from an input asset."""

    field: str
    asset: Asset
    filename: str
    content_type: str


@dataclass(frozen=True)
class HttpCall:
    """One upstream HTTP request, described as data; ``path`` is relative to ``api_base``."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    data: Mapping[str, str] | None = None
    files: tuple[FilePart, ...] = ()
    params: Mapping[str, str] | None = None


@dataclass(frozen=True)
class DownloadCall:
    """How to fetch a result: a request (``path`` may be an absolute URL), whether it needs
    the deployment's auth (signed URLs must not get it), and, for upstreams that inline
    results in JSON, the key whose string value is the base64 of the bytes."""

    call: HttpCall
    auth: bool = True
    base64_field: str | None = None


@dataclass(frozen=True)
class HttpReply:
    """The parts of an upstream HTTP response an adapter may look at."""

    status: int
    headers: Mapping[str, str]
    body: Any
    """Parsed JSON, or the raw text when the body was not JSON."""


CallKind = Literal["submit", "poll", "download", "delete", "token"]


@dataclass(frozen=True)
class CallContext:
    """What an upstream reply answers, handed to ``parse_state`` and ``parse_error``: the
    kind of call, the task it was about and, for a submit, the request it sent. Replies that
    do not repeat which task they are about are read with it, not with adapter state."""

    kind: CallKind
    upstream_id: str | None = None
    """The task a poll, download or delete asked about; ``None`` for a submit."""
    request: ResolvedRequest | None = None
    """What a submit sent."""


class HttpAdapter(Protocol):
    """Builds upstream requests and parses replies for one deployment; never performs I/O.

    Built per deployment by the provider's ``AdapterFactory`` (usually the adapter class:
    ``KlingAdapter(deployment)``), so URLs, auth and options that depend on the deployment
    are read once, and stateless: everything a later call needs travels in the upstream id
    or the ``CallContext``, which is what makes any replica able to continue any job.
    """

    def auth_headers(self, token: str | None) -> dict[str, str]:
        """Headers that authenticate a call; ``token`` comes from ``TokenAuth`` if any."""
        ...

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall: ...

    def build_poll(self, upstream_id: str) -> HttpCall: ...

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None
    ) -> DownloadCall | None:
        """How to fetch ``variant``; ``None`` if the upstream does not have it."""
        ...

    def build_delete(self, upstream_id: str) -> HttpCall | None: ...

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState: ...

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError: ...


@runtime_checkable
class TokenAuth(Protocol):
    """Adapters whose credentials must be exchanged for a short-lived token (OAuth)."""

    def build_token_request(self, now: float) -> HttpCall:
        """The token exchange call (``path`` is an absolute URL)."""
        ...

    def parse_token(self, reply: HttpReply) -> tuple[str, float]:
        """The access token and its lifetime in seconds."""
        ...


AdapterFactory = Callable[[Deployment], HttpAdapter]
"""Builds a deployment's adapter; every HTTP provider registers one."""


@dataclass(frozen=True)
class RuntimeContext:
    """What an in-process provider runtime may use."""

    data_dir: Path
    storage: BlobStore
    local_workers: int = 1


RuntimeFactory = Callable[[Deployment, RuntimeContext], UpstreamClient]


@dataclass(frozen=True)
class Provider:
    """A registered provider: its spec and how to reach it."""

    spec: ProviderSpec
    adapter: AdapterFactory | None = None
    runtime: RuntimeFactory | None = None
    needs_api_base: bool = True
