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
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from vidgate.errors import GatewayError
    from vidgate.routing.config import Deployment
    from vidgate.storage.base import BlobStore

Operation = Literal["create", "remix", "edit", "extend"]
JobStatus = Literal["queued", "in_progress", "completed", "failed"]
ImageRole = Literal["first_frame", "last_frame", "reference"]
Variant = Literal["video", "thumbnail", "spritesheet"]
VARIANTS: tuple[Variant, ...] = ("video", "thumbnail", "spritesheet")
OPERATIONS: tuple[Operation, ...] = ("create", "remix", "edit", "extend")


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
    option_keys: frozenset[str] | None = frozenset()
    """Keys allowed in ``metadata`` passthrough; ``None`` forwards any key."""
    description: str = ""


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
    upstream_previews: frozenset[str] = frozenset()
    """Variants besides ``video`` the upstream serves itself; others are made by vidgate."""

    def capabilities(self, upstream_model: str) -> ModelCapabilities | None:
        """The capabilities of ``upstream_model``, or ``None`` if this provider lacks it."""
        return self.models.get(upstream_model, self.any_model)

    def map_status(self, raw: str) -> JobStatus:
        """Map an upstream status; unknown values mean the job is still running."""
        return self.status_map.get(raw, "in_progress")


@dataclass(frozen=True)
class Asset:
    """An input the gateway holds (``blob`` key in storage) or only references."""

    kind: Literal["blob", "url", "file_id"]
    value: str
    content_type: str | None = None
    filename: str | None = None
    digest: str | None = None
    """Content hash of a ``blob`` (uploads are compared by content, not by key)."""


@dataclass(frozen=True)
class ImageInput:
    """An input image with its role (first frame, last frame, reference)."""

    role: ImageRole
    asset: Asset


@dataclass(frozen=True)
class SourceVideo:
    """The video a remix, edit or extension starts from."""

    asset: Asset | None
    """The archived or uploaded bytes, when the gateway has them."""
    job_id: str | None = None
    upstream_id: str | None = None
    """Set only when the source was made on the same deployment (upstream can use its id)."""
    seconds: int | None = None


@dataclass(frozen=True)
class ResolvedRequest:
    """A validated request with every default resolved, as the upstream will run it."""

    operation: Operation
    prompt: str
    upstream_model: str
    seconds: int
    width: int
    height: int
    fps: int
    seed: int | None = None
    images: tuple[ImageInput, ...] = ()
    source: SourceVideo | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class UpstreamState:
    """One observation of an upstream task, already mapped to gateway statuses."""

    upstream_id: str
    status: JobStatus
    progress: int = 0
    raw_status: str = ""
    error_code: str | None = None
    error_message: str | None = None
    poll_after_s: float | None = None


class UpstreamClient(Protocol):
    """What the job service needs from a deployment, whatever the provider."""

    async def submit(self, request: ResolvedRequest, *, idempotency_key: str) -> UpstreamState:
        """Start an upstream task; must be safe to repeat with the same key if the spec says so."""
        ...

    async def poll(self, upstream_id: str) -> UpstreamState:
        """Observe the task once."""
        ...

    def download(
        self, upstream_id: str, variant: Variant
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """Stream a finished result's bytes (never the whole file in memory)."""
        ...

    async def delete(self, upstream_id: str) -> None:
        """Delete or cancel the upstream task where the provider has that; else nothing."""
        ...

    async def archived(self, upstream_id: str) -> None:
        """The gateway now holds its own copy of the result; the client may free its copy."""
        ...


# --- HTTP providers: a pure adapter (no I/O) -------------------------------------------


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
class HttpReply:
    """The parts of an upstream HTTP response an adapter may look at."""

    status: int
    headers: Mapping[str, str]
    body: Any
    """Parsed JSON, or the raw text when the body was not JSON."""


class HttpAdapter(Protocol):
    """Builds upstream requests and parses replies; never performs I/O."""

    def auth_headers(self, deployment: Deployment) -> dict[str, str]: ...

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall: ...

    def build_poll(self, upstream_id: str) -> HttpCall: ...

    def build_download(self, upstream_id: str, variant: Variant) -> HttpCall: ...

    def build_delete(self, upstream_id: str) -> HttpCall | None: ...

    def parse_state(self, reply: HttpReply) -> UpstreamState: ...

    def parse_error(self, reply: HttpReply) -> GatewayError: ...


@dataclass(frozen=True)
class RuntimeContext:
    """What an in-process provider runtime may use."""

    data_dir: Path
    storage: BlobStore
    local_workers: int = 1


RuntimeFactory = Callable[["Deployment", RuntimeContext], UpstreamClient]


@dataclass(frozen=True)
class Provider:
    """A registered provider: its spec and how to reach it."""

    spec: ProviderSpec
    adapter: HttpAdapter | None = None
    runtime: RuntimeFactory | None = None
    needs_api_base: bool = True
