"""The gateway's value model: what a model can take and costs, what a request, a deployment
and an upstream task are.

A leaf that every layer may import (providers, routing, jobs, accounting, api). Plain frozen
dataclasses and type aliases, no behaviour beyond small derived properties and checks of a
value against a model's capabilities: the layers above pass these between them, so none of
them has to import another layer to name a value. Provider specs are built from
``ModelCapabilities`` and ``Pricing``; requests are validated against them once, before a job
exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Operation = Literal["create", "remix", "edit", "extend"]
JobStatus = Literal["queued", "in_progress", "completed", "failed"]
ImageRole = Literal["first_frame", "last_frame", "reference"]
Variant = Literal["video", "thumbnail", "spritesheet"]
VARIANTS: tuple[Variant, ...] = ("video", "thumbnail", "spritesheet")


OptionKind = Literal["boolean", "integer", "number", "string", "object", "array", "any"]
_KIND_WORDS = {
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "object": "an object",
    "array": "a list",
    "any": "a value",
}


@dataclass(frozen=True)
class OptionSpec:
    """One provider option (a ``metadata`` key), as data: its type, the values or range
    allowed, where it goes in the upstream body and how its value is written there.

    ``check`` returns the value as the upstream takes it (normalised, JSON-serialisable);
    ``transform`` may refine that for what a type, choices or a range cannot say, raising
    ``ValueError`` with the reason (a 400 naming the option) or an ``InvalidRequest`` naming
    a part of it (``metadata.camera_control.type``); either names the field as the client
    sent it.
    """

    kind: OptionKind = "any"
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    """Longest string, or most items of a list."""
    upstream: str | None = None
    """The upstream body field (dots for nesting: ``parameters.cfg``); ``None``: the
    option's own name; ``""``: not a body field (the adapter reads the value itself)."""
    transform: Callable[[Any], Any] | None = None
    description: str = ""

    def allowed(self) -> str:
        """What the option takes, in words, for error messages and ``/v1/models``."""
        if self.choices:
            return "one of: " + ", ".join(_shown(choice) for choice in self.choices)
        words = _KIND_WORDS[self.kind]
        if self.minimum is not None and self.maximum is not None:
            return f"{words} from {_shown(self.minimum)} to {_shown(self.maximum)}"
        if self.minimum is not None:
            return f"{words} of at least {_shown(self.minimum)}"
        if self.maximum is not None:
            return f"{words} of at most {_shown(self.maximum)}"
        if self.max_length is not None:
            unit = "characters" if self.kind == "string" else "items"
            return f"{words} of at most {self.max_length} {unit}"
        return words

    def check(self, value: Any) -> Any:
        """``value`` as the upstream takes it; ``ValueError`` saying why it is not allowed."""
        if not _is_kind(value, self.kind):
            raise ValueError(f"expected {self.allowed()}")
        if self.choices and value not in self.choices:
            raise ValueError(f"allowed: {self.allowed().removeprefix('one of: ')}")
        if self.kind in ("integer", "number") and not _within(value, self.minimum, self.maximum):
            raise ValueError(f"expected {self.allowed()}")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"expected {self.allowed()}")
        if self.kind == "number":
            value = float(value)  # JSON's 1 and 1.0 are one number; upstreams get a float
        return value if self.transform is None else self.transform(value)


def _is_kind(value: Any, kind: OptionKind) -> bool:
    if kind == "any":
        return True
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float) and math.isfinite(value)
    types: dict[str, type | tuple[type, ...]] = {
        "boolean": bool,
        "string": str,
        "object": Mapping,
        "array": list,
    }
    return isinstance(value, types[kind])


def _within(value: float, minimum: float | None, maximum: float | None) -> bool:
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
    file_ids: bool = False
    """Input images may be the upstream's own file ids (``{"file_id": ...}``)."""
    remix_seconds: bool = False
    """A remix may be made at another length than its source's (any of ``seconds``);
    ``False``: a remix keeps its source's length (OpenAI's remix takes only a prompt)."""
    options: Mapping[str, OptionSpec] = field(default_factory=dict)
    """The provider options a client may send in ``metadata``, by name: checked and
    normalised while the request is resolved, before a job or a budget hold exists."""
    any_options: bool = False
    """Free-form upstreams: keys not in ``options`` are forwarded as given, unchecked."""
    rules: tuple[Callable[[ResolvedRequest], None], ...] = ()
    """Checks across fields that the option table cannot say (an option that excludes a last
    frame, a mode that must match the size); each raises ``InvalidRequest`` naming the
    field, and runs with the table, before the job exists."""
    description: str = ""


@dataclass(frozen=True)
class ForeignName:
    """A model name clients of another gateway send (aimlapi's ``google/veo-3.1-t2v``) and
    the upstream models it means here, the first one configured winning."""

    models: tuple[str, ...]
    image_models: tuple[str, ...] = ()
    """Used instead when a first frame is given (MiniMax's 01 series: T2V and I2V models)."""
    resolution: str | None = None
    """The tier the name implies when the body gives none (Kling ``pro``: 1080p)."""


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
class Deployment:
    """One upstream deployment; ``api_key`` never leaves the process."""

    id: str
    model_name: str
    provider: str
    model: str
    capabilities: ModelCapabilities
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    weight: float = 1.0
    rpm: int | None = None
    max_concurrent_jobs: int | None = None
    max_concurrent_polls: int = 16
    poll_interval_s: float = 2.0
    timeout_s: float = 60.0
    job_deadline_s: float = 3600.0
    """How long a job may run here before it fails uncharged (settled at config time)."""
    idempotent_submit: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    pricing: Pricing | None = None
    """The configured price (``None``: the model's list price)."""


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
    dropped: tuple[str, ...] = ()
    """Fields the client sent that this deployment's model does not take, dropped under
    ``drop_params`` instead of refused (named as the client sent them: ``duration``)."""

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
