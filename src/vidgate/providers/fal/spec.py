"""fal.ai queue API, as data (``shared/reference/providers/fal.md``, fal-client 1.0.3).

fal hosts hundreds of video models behind one queue; each takes its own input schema at the
top level of the submit body. A deployment may name any fal model path (``any_model``: broad
but bounded capabilities, every ``metadata`` key forwarded as an input field). The models
listed here carry their real capabilities and prices, and a ``Family`` row that says how the
gateway's generic fields are written for them (duration as ``"5"`` or ``"8s"``, which
fields exist). Their options are typed (``OptionSpec``) and a first frame the image-to-video
models need is a rule, so both are refused before a job exists.

Sizes are ``WxH`` and map to fal's ``aspect_ratio`` + ``resolution`` through ``SIZES``.
Prices: the shared reference lists only a few models (Luma ray-2-flash from its model page);
the others come from the fal model pages as remembered when this was written and are marked
unverified in their ``source``; the per-deployment price override is the place to correct them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ModelCapabilities, OptionSpec, Pricing, ResolvedRequest

DurationFormat = Literal["plain", "suffix", "int", "none"]
"""How ``duration`` is sent: ``"5"``, ``"5s"``, ``5``, or not at all."""

NAMESPACES = ("workflows", "comfy")
"""First path segments that make the app path three segments long (as fal-js splits ids)."""


def _sizes() -> dict[str, tuple[str, str]]:
    """``WxH`` → (aspect ratio, resolution tier) for every frame size fal models take."""
    table: dict[str, tuple[str, str]] = {}
    ratios = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4)}
    ratios |= {"21:9": (21, 9), "9:21": (9, 21)}
    for tier in (480, 540, 720, 768, 1080):
        for name, (w, h) in ratios.items():
            short = tier
            long = round(short * max(w, h) / min(w, h) / 2) * 2
            width, height = (long, short) if w >= h else (short, long)
            table[f"{width}x{height}"] = (name, f"{tier}p")
    return table


SIZES: Mapping[str, tuple[str, str]] = _sizes()
"""Every size the gateway accepts for fal, e.g. ``1280x720`` → ``("16:9", "720p")``."""


def sizes(tiers: tuple[int, ...], ratios: tuple[str, ...]) -> tuple[str, ...]:
    """The ``WxH`` names of ``ratios`` at ``tiers`` (in that order)."""
    return tuple(
        size
        for tier in tiers
        for ratio in ratios
        for size, (name, res) in SIZES.items()
        if name == ratio and res == f"{tier}p"
    )


@dataclass(frozen=True)
class Family:
    """How one model's input schema spells the gateway's generic fields."""

    duration: DurationFormat = "plain"
    aspect_ratio: bool = True
    resolution: bool = True
    image_field: str | None = "image_url"
    last_frame_field: str | None = None
    audio_field: str | None = None


GENERIC = Family()
"""Unlisted models: ``duration`` as ``"5"``, ``aspect_ratio``, ``resolution``, ``image_url``
(a deployment's ``options`` may change ``duration_format``, ``image_field``,
``last_frame_field``, ``send_aspect_ratio`` and ``send_resolution``)."""

_KLING = ("16:9", "9:16", "1:1")
KLING_MASTER_T2V = "fal-ai/kling-video/v2.1/master/text-to-video"
KLING_MASTER_I2V = "fal-ai/kling-video/v2.1/master/image-to-video"
KLING_STANDARD_I2V = "fal-ai/kling-video/v2.1/standard/image-to-video"
VEO3 = "fal-ai/veo3"
HAILUO_02_STANDARD_T2V = "fal-ai/minimax/hailuo-02/standard/text-to-video"
RAY2_FLASH = "fal-ai/luma-dream-machine/ray-2-flash"


def first_frame_required(request: ResolvedRequest) -> None:
    """Image-to-video models make video only from a first frame."""
    if request.image("first_frame") is None:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' makes video from an image: "
            "'input_reference' is required.",
            param="input_reference",
        )


def _boolean(description: str) -> OptionSpec:
    return OptionSpec("boolean", description=description)


_KLING_OPTIONS = {
    "cfg_scale": OptionSpec(
        "number", minimum=0, maximum=1, description="How closely to follow the prompt (0.5)."
    ),
}


def _kling(tier: int, first_frame: bool, description: str) -> ModelCapabilities:
    """Kling 2.1 on fal: 5 or 10 s, negative prompt, ``cfg_scale``; no seed; the
    image-to-video models need their first frame."""
    found = sizes((tier,), _KLING)
    return ModelCapabilities(
        seconds=(5, 10),
        default_seconds=5,
        sizes=found,
        default_size=found[0],
        image_roles=frozenset({"first_frame"}) if first_frame else frozenset(),
        negative_prompt=True,
        options=_KLING_OPTIONS,
        rules=(first_frame_required,) if first_frame else (),
        max_prompt_chars=2500,
        description=description,
    )


MODELS: Mapping[str, ModelCapabilities] = {
    KLING_MASTER_T2V: _kling(1080, False, "Kling 2.1 Master text-to-video on fal (1080p)."),
    KLING_MASTER_I2V: _kling(
        1080, True, "Kling 2.1 Master image-to-video on fal (1080p): a first frame is required."
    ),
    KLING_STANDARD_I2V: _kling(
        720, True, "Kling 2.1 Standard image-to-video on fal (720p): a first frame is required."
    ),
    VEO3: ModelCapabilities(
        seconds=(4, 6, 8),
        default_seconds=8,
        sizes=sizes((720, 1080), ("16:9", "9:16")),
        default_size="1280x720",
        seed=True,
        negative_prompt=True,
        audio=True,
        options={
            "enhance_prompt": _boolean("Let Veo rewrite the prompt."),
            "auto_fix": _boolean("Rewrite a prompt that fails the content checks and retry."),
        },
        description="Google Veo 3 on fal: text-to-video, 720p/1080p, audio on by default.",
    ),
    HAILUO_02_STANDARD_T2V: ModelCapabilities(
        seconds=(6, 10),
        default_seconds=6,
        sizes=("1366x768",),
        default_size="1366x768",
        options={"prompt_optimizer": _boolean("Let MiniMax rewrite the prompt.")},
        max_prompt_chars=2000,
        description="MiniMax Hailuo-02 Standard text-to-video on fal (768p, 6 or 10 s).",
    ),
    RAY2_FLASH: ModelCapabilities(
        seconds=(5, 9),
        default_seconds=5,
        sizes=sizes((540, 720), ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")),
        default_size="960x540",
        image_roles=frozenset({"first_frame"}),
        options={"loop": _boolean("Make the last frame lead back into the first.")},
        description="Luma Ray 2 Flash on fal: 540p/720p, 5 or 9 s, optional first frame.",
    ),
}

FAMILIES: Mapping[str, Family] = {
    KLING_MASTER_T2V: Family(resolution=False, image_field=None),
    KLING_MASTER_I2V: Family(aspect_ratio=False, resolution=False),
    KLING_STANDARD_I2V: Family(aspect_ratio=False, resolution=False),
    VEO3: Family(duration="suffix", image_field=None, audio_field="generate_audio"),
    HAILUO_02_STANDARD_T2V: Family(aspect_ratio=False, resolution=False, image_field=None),
    RAY2_FLASH: Family(duration="suffix"),
}

ANY_MODEL = ModelCapabilities(
    seconds=tuple(range(1, 21)),
    default_seconds=5,
    sizes=tuple(SIZES),
    default_size="1280x720",
    image_roles=frozenset({"first_frame", "last_frame"}),
    seed=True,
    negative_prompt=True,
    any_options=True,
    description="Any fal video model by its path; metadata keys are forwarded as inputs.",
)

_UNVERIFIED = "fal model page, 2025 (not in the shared reference: unverified, check before use)"

PRICES: Mapping[str, Pricing] = {
    KLING_MASTER_T2V: Pricing(per_second={"*": 0.28}, source=f"$1.40 per 5 s; {_UNVERIFIED}"),
    KLING_MASTER_I2V: Pricing(per_second={"*": 0.28}, source=f"$1.40 per 5 s; {_UNVERIFIED}"),
    KLING_STANDARD_I2V: Pricing(per_second={"*": 0.05}, source=f"$0.25 per 5 s; {_UNVERIFIED}"),
    VEO3: Pricing(per_second={"*": 0.20}, per_second_audio={"*": 0.40}, source=f"{_UNVERIFIED}"),
    HAILUO_02_STANDARD_T2V: Pricing(per_second={"*": 0.045}, source=_UNVERIFIED),
    RAY2_FLASH: Pricing(
        per_second={"540p": 0.04, "720p": 0.08},
        source="fal model page via shared/reference/providers/fal.md (2026): $0.20 per 5 s at "
        "540p, 720p doubles; 9 s is billed as double 5 s ($0.40), here 9 x $0.04 = $0.36",
    ),
}

SPEC = ProviderSpec(
    name="fal",
    description="fal.ai queue API: any fal-hosted video model by its model path.",
    models=MODELS,
    status_map={
        "IN_QUEUE": "queued",
        "IN_PROGRESS": "in_progress",
        "COMPLETED": "completed",
        "FAILED": "failed",
        "CANCELED": "failed",
    },
    any_model=ANY_MODEL,
    idempotent_submit=False,
    poll_interval_s=3.0,
    job_deadline_s=1800.0,  # fal's queue has no size limit: a request may wait, then render
    prices=PRICES,
    env={"api_key": "FAL_KEY"},
    credentials=(Credential("api_key"),),
    auto_models=(KLING_MASTER_T2V, VEO3, HAILUO_02_STANDARD_T2V, RAY2_FLASH),
    default_api_base="https://queue.fal.run",
)
