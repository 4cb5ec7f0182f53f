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
    negative_prompt: bool = False
    audio: bool | None = None
    """``None``: the model makes no audio; ``True``/``False``: it can, and this is the default."""
    max_reference_images: int = 0
    option_keys: frozenset[str] | None = frozenset()
    """Keys allowed in ``metadata`` passthrough; ``None`` forwards any key."""
    description: str = ""


@dataclass(frozen=True)
class Pricing:
    """A model's published price, as data: ``unit``s per output second by resolution tier.

    ``per_second`` maps a tier (``"480p"``, ``"720p"``, ``"1080p"``, ``"4k"``, or ``"*"`` for any)
    to the price per second in ``unit`` (``usd`` by default; providers that bill in their own
    units — Runway credits, Kling units, xAI ticks — give ``usd_per_unit``);
    ``per_second_audio`` overrides it when audio is generated. The upstream-reported units
    (``UpstreamState.cost_units``) settle the real cost.
    """

    per_second: Mapping[str, float]
    per_second_audio: Mapping[str, float] | None = None
    unit: str = "usd"
    usd_per_unit: float = 1.0
    source: str = ""

    def usd(self, seconds: float, tier: str, audio: bool = False) -> float | None:
        """The list price in USD of ``seconds`` at ``tier``; ``None`` if it has no price."""
        table = self.per_second_audio if audio and self.per_second_audio else self.per_second
        rate = table.get(tier, table.get("*"))
        return None if rate is None else round(rate * seconds * self.usd_per_unit, 6)

    def units_usd(self, units: float) -> float:
        """USD for an amount the upstream reported in ``unit``."""
        return round(units * self.usd_per_unit, 6)


def resolution_tier(width: int, height: int) -> str:
    """The common name of a frame size's tier, by its short side (720 → ``720p``)."""
    short = min(width, height)
    if short >= 2160:
        return "4k"
    if short >= 1440:
        return "1440p"
    for tier in (1080, 720, 540, 480, 360):
        if short >= tier:
            return f"{tier}p"
    return f"{short}p"


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
    prices: Mapping[str, Pricing] = field(default_factory=dict)
    """Published prices by upstream model."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Deployment fields and the environment variables that provide them (``api_key`` →
    ``GEMINI_API_KEY``); when all are set at start, ``auto_models`` are registered."""
    auto_models: tuple[str, ...] = ()
    """Upstream models registered as ``<provider>/<model>`` when ``env`` is satisfied."""
    default_api_base: str | None = None

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
    param: str | None = field(default=None, compare=False)
    """The request field the client sent it in (``input_reference``, ``images[1]``), for errors."""


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
    location: str | None = None
    """The upstream's own location of the source's video (``UpstreamState.results``), set
    with ``upstream_id`` — e.g. the file URI a Veo extension refers to."""


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
    negative_prompt: str | None = None
    audio: bool | None = None

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def image(self, role: ImageRole) -> Asset | None:
        """The first input image with ``role``, if any."""
        return next((i.asset for i in self.images if i.role == role), None)


@dataclass(frozen=True)
class UpstreamState:
    """One observation of an upstream task, already mapped to gateway statuses."""

    upstream_id: str
    """The id the job is followed by from now on. A poll may answer with another id than
    it was asked about (the poller saves it): that is how a stateless adapter carries a
    multi-step fetch — e.g. "finished, now retrieve file F" — to its next poll. An empty
    id means "unchanged" (a reply that does not say which task it is about)."""
    status: JobStatus
    progress: int = 0
    raw_status: str = ""
    error_code: str | None = None
    error_message: str | None = None
    poll_after_s: float | None = None
    results: Mapping[str, str] = field(default_factory=dict)
    """Where finished outputs are, by variant (a URL or a provider reference), as the
    upstream reported them; kept on the job and handed back to ``download``."""
    cost_units: float | None = None
    """What the upstream says the task cost, in the provider's pricing ``unit``."""


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


class HttpAdapter(Protocol):
    """Builds upstream requests and parses replies; never performs I/O.

    An adapter whose URLs depend on the deployment (a region's host, say) may also define
    ``for_deployment(deployment) -> HttpAdapter``; dispatch then uses the bound adapter.
    """

    def auth_headers(self, deployment: Deployment, token: str | None) -> dict[str, str]:
        """Headers that authenticate a call; ``token`` comes from ``TokenAuth`` if any."""
        ...

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall: ...

    def build_poll(self, upstream_id: str) -> HttpCall: ...

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None
    ) -> DownloadCall | None:
        """How to fetch ``variant``; ``None`` if the upstream does not have it."""
        ...

    def build_delete(self, upstream_id: str) -> HttpCall | None: ...

    def parse_state(self, reply: HttpReply) -> UpstreamState: ...

    def parse_error(self, reply: HttpReply) -> GatewayError: ...


@runtime_checkable
class TokenAuth(Protocol):
    """Adapters whose credentials must be exchanged for a short-lived token (OAuth)."""

    def build_token_request(self, deployment: Deployment, now: float) -> HttpCall:
        """The token exchange call (``path`` is an absolute URL)."""
        ...

    def parse_token(self, reply: HttpReply) -> tuple[str, float]:
        """The access token and its lifetime in seconds."""
        ...


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
