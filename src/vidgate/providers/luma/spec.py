"""Luma Dream Machine API (Ray models), as data.

Follows ``shared/reference/providers/luma.md`` and the official ``lumaai`` SDK (1.21):
``POST /generations/video`` with ``model``, ``prompt``, ``aspect_ratio`` (seven ratios),
``resolution`` (``540p``/``720p``/``1080p``/``4k``), ``duration`` as a string (``"5s"`` or
``"9s"``), ``loop``, ``concepts`` and ``keyframes`` (``frame0``/``frame1``: an image URL or an
earlier generation, which is how Luma extends a video). A vidgate size ``WxH`` stands for
one (aspect ratio, resolution) pair: the short side is the resolution tier and the long side
follows the ratio (1280x720 → 16:9 at 720p, 1680x720 → 21:9 at 720p, 720x720 → 1:1).

Checked before a job exists (``OPTIONS``, ``RULES``): ``loop`` and ``concepts``, keyframe
images as http(s) URLs (Luma fetches them itself), an extension's source made on the same
deployment (it is named by its generation id) and at a size Luma makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ForeignName, ModelCapabilities, OptionSpec, Pricing, ResolvedRequest

ASPECT_RATIOS: Mapping[str, tuple[int, int]] = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
    "9:21": (9, 21),
}
"""Luma's aspect ratios (``16:9`` is its default), as (width, height) proportions."""

RESOLUTIONS: Mapping[str, int] = {"540p": 540, "720p": 720, "1080p": 1080, "4k": 2160}
"""Luma's resolution tiers and the short side of the frame in pixels."""


def frame_size(aspect_ratio: str, resolution: str) -> str:
    """The ``WxH`` that stands for ``aspect_ratio`` at ``resolution``."""
    across, down = ASPECT_RATIOS[aspect_ratio]
    short = RESOLUTIONS[resolution]
    long = 2 * round(short * max(across, down) / min(across, down) / 2)  # even, for H.264
    return f"{long}x{short}" if across >= down else f"{short}x{long}"


def _size_table(resolutions: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    return {
        frame_size(ratio, resolution): (ratio, resolution)
        for resolution in resolutions
        for ratio in ASPECT_RATIOS
    }


SIZES: Mapping[str, tuple[str, str]] = _size_table(tuple(RESOLUTIONS))
"""Every vidgate size Luma can make → (``aspect_ratio``, ``resolution``)."""

LEGACY_MODELS = frozenset({"ray-1-6"})
"""Models from before ``duration`` and ``resolution`` existed: both are left unsent."""


def concepts(value: list[Any]) -> list[dict[str, str]]:
    """Concepts as Luma wants them (``[{"key": ...}]``); plain strings are accepted too."""
    keys = [item.get("key") if isinstance(item, Mapping) else item for item in value]
    if not keys or not all(isinstance(key, str) and key for key in keys):
        raise ValueError("expected a list of concept keys (strings or {'key': ...})")
    return [{"key": str(key)} for key in keys]


_IMAGE_PARAMS = {"first_frame": "input_reference", "last_frame": "metadata.last_frame"}


def keyframe_urls(request: ResolvedRequest) -> None:
    """Luma reads keyframe images from URLs: no uploads, ``data:`` URLs or file ids."""
    for image in request.images:
        asset = image.asset
        if not (asset.kind == "url" and asset.value.lower().startswith(("https://", "http://"))):
            param = asset.param or _IMAGE_PARAMS.get(image.role, "images")
            raise InvalidRequest(
                f"Luma needs an https image URL for '{param}' (it fetches keyframe images "
                "itself); file uploads, data: URLs and file ids cannot be passed to Luma.",
                param=param,
            )


def extension_source(request: ResolvedRequest) -> None:
    """An extension starts from the source's generation (``keyframes.frame0``)."""
    if request.operation != "extend":
        return
    if request.source is None or request.source.upstream_id is None:
        raise InvalidRequest(
            "Luma extends a video by its generation id, so the source video must have "
            "been made by this same Luma deployment; uploads and videos from other "
            "deployments cannot be extended here.",
            param="video",
        )
    if request.size not in SIZES:  # a source video of a size Luma never makes
        raise InvalidRequest(
            f"Luma cannot make a {request.size} video; sizes: {', '.join(SIZES)}.", param="size"
        )


RULES = (keyframe_urls, extension_source)
LOOP = OptionSpec("boolean", description="Make the video loop seamlessly.")
RAY_2_OPTIONS = {
    "loop": LOOP,
    "concepts": OptionSpec(
        "array", transform=concepts, description="Camera concepts by key (dolly_zoom, ...)."
    ),
}

RAY_2 = ModelCapabilities(
    seconds=(5, 9),
    default_seconds=5,
    sizes=tuple(SIZES),
    default_size="1280x720",
    image_roles=frozenset({"first_frame", "last_frame"}),
    operations=frozenset({"create", "extend"}),
    options=RAY_2_OPTIONS,
    rules=RULES,
    description="Luma Ray 2: text/image to video, 5 or 9 s, 540p to 4K, extend by generation.",
)
RAY_FLASH_2 = ModelCapabilities(
    seconds=(5, 9),
    default_seconds=5,
    sizes=tuple(SIZES),
    default_size="1280x720",
    image_roles=frozenset({"first_frame", "last_frame"}),
    operations=frozenset({"create", "extend"}),
    options=RAY_2_OPTIONS,
    rules=RULES,
    description="Luma Ray Flash 2: the faster, cheaper Ray 2.",
)
RAY_1_6 = ModelCapabilities(
    seconds=(5,),
    default_seconds=5,
    sizes=tuple(size for size, (_, tier) in SIZES.items() if tier == "720p"),
    default_size="1280x720",
    image_roles=frozenset({"first_frame", "last_frame"}),
    operations=frozenset({"create", "extend"}),
    options={"loop": LOOP},
    rules=RULES,
    description="Luma Ray 1.6 (Dream Machine 1.6): 5 s at 720p.",
)

FOREIGN_NAMES: Mapping[str, ForeignName] = {
    "luma/ray-2": ForeignName(("ray-2",)),
    "luma/ray-flash-2": ForeignName(("ray-flash-2",)),
    "ray-1-6": ForeignName(("ray-1-6",)),
    "luma/ray-1-6": ForeignName(("ray-1-6",)),
}
"""aimlapi's model names for these models (its ``/v2`` clients send them)."""

SPEC = ProviderSpec(
    name="luma",
    description="Luma Dream Machine API (Ray 2, Ray Flash 2, Ray 1.6).",
    models={"ray-2": RAY_2, "ray-flash-2": RAY_FLASH_2, "ray-1-6": RAY_1_6},
    status_map={
        "queued": "queued",
        "dreaming": "in_progress",
        "completed": "completed",
        "failed": "failed",
    },
    idempotent_submit=False,
    poll_interval_s=3.0,
    job_deadline_s=900.0,  # Ray renders in a few minutes and documents no long queue
    upstream_previews=frozenset({"thumbnail"}),
    prices={
        "ray-2": Pricing(
            per_second={"*": 0.08},
            source="Luma pay-as-you-go Ray-2 ~$0.08/s, apis.io compilation as of 2026-05 "
            "(unverified; no resolution split published)",
        ),
        "ray-flash-2": Pricing(
            per_second={"540p": 0.04, "720p": 0.08},
            source="fal resale of ray-2-flash, $0.20 per 5 s at 540p, x2 at 720p "
            "(unverified; per-second equals the 5 s price, 9 s is billed $0.40 → $0.36 here)",
        ),
    },
    env={"api_key": "LUMAAI_API_KEY"},
    credentials=(Credential("api_key"),),
    auto_models=("ray-2", "ray-flash-2"),
    default_api_base="https://api.lumalabs.ai/dream-machine/v1",
    aliases={"luma-video": ("ray-2",)},
    foreign_names=FOREIGN_NAMES,
    vendor_paths={"luma-ai": "luma-video", "luma": "luma-video"},
)
