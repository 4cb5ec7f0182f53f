"""Google Veo on the Gemini Developer API, as data.

Capabilities and prices follow ``shared/reference/providers/gemini-veo.md``. A ``size`` is
the pair the API takes as ``aspectRatio`` (``16:9`` / ``9:16``) and ``resolution``
(``720p`` / ``1080p`` / ``4k``); ``seconds`` is ``durationSeconds``. Veo 3.x makes audio with
every video and the Gemini API has no switch for it (``generateAudio`` is Vertex-only), so
``audio`` is always on. Rules that span two parameters (8 s for 1080p, 4k, reference images
and extensions) are enforced by the adapter, because capabilities list each one alone.

The API reports no status strings, only ``done`` plus ``error`` / ``generatedSamples`` /
RAI fields; the adapter names those outcomes and this map turns them into gateway statuses.
"""

from __future__ import annotations

from collections.abc import Mapping

from vidgate.providers.base import ProviderSpec
from vidgate.values import ForeignName, ModelCapabilities, Pricing, untyped

SIZES_720P = ("1280x720", "720x1280")
SIZES_1080P = ("1920x1080", "1080x1920")
SIZES_4K = ("3840x2160", "2160x3840")
OPTION_KEYS = frozenset({"person_generation", "enhance_prompt"})
"""``metadata`` keys passed through; Vertex-only fields (seed, fps, generateAudio,
storageUri, ...) are not among them because the Gemini API rejects them."""
PERSON_GENERATION = ("allow_all", "allow_adult", "dont_allow")
_VEO3_SECONDS = (4, 6, 8)
_FRAMES = frozenset({"first_frame", "last_frame"})

VEO_3_1 = ModelCapabilities(
    seconds=_VEO3_SECONDS,
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P + SIZES_4K,
    default_size="1280x720",
    image_roles=_FRAMES | {"reference"},
    operations=frozenset({"create", "extend"}),
    negative_prompt=True,
    audio=True,
    max_reference_images=3,
    options=untyped(*OPTION_KEYS),
    description="Veo 3.1: 720p/1080p/4k, 4-8 s with audio, frames, reference images, extension.",
)
VEO_3_1_FAST = ModelCapabilities(
    seconds=_VEO3_SECONDS,
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P,
    default_size="1280x720",
    image_roles=_FRAMES | {"reference"},
    operations=frozenset({"create", "extend"}),
    negative_prompt=True,
    audio=True,
    max_reference_images=3,
    options=untyped(*OPTION_KEYS),
    description="Veo 3.1 Fast: 720p/1080p, 4-8 s with audio, frames, reference images, extension.",
)
VEO_3_1_LITE = ModelCapabilities(
    seconds=_VEO3_SECONDS,
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P,
    default_size="1280x720",
    image_roles=_FRAMES,
    negative_prompt=True,
    audio=True,
    options=untyped(*OPTION_KEYS),
    description="Veo 3.1 Lite: 720p/1080p, 4-8 s with audio, first and last frame.",
)
VEO_3 = ModelCapabilities(
    seconds=_VEO3_SECONDS,
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P,
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    negative_prompt=True,
    audio=True,
    options=untyped(*OPTION_KEYS),
    description="Veo 3: 720p/1080p, 4-8 s with audio, image-to-video.",
)
VEO_3_FAST = ModelCapabilities(
    seconds=_VEO3_SECONDS,
    default_seconds=8,
    sizes=SIZES_720P + SIZES_1080P,
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    negative_prompt=True,
    audio=True,
    options=untyped(*OPTION_KEYS),
    description="Veo 3 Fast: 720p/1080p, 4-8 s with audio, image-to-video.",
)
VEO_2 = ModelCapabilities(
    seconds=(5, 6, 7, 8),
    default_seconds=8,
    sizes=SIZES_720P,
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    negative_prompt=True,
    audio=None,
    options=untyped(*OPTION_KEYS),
    description="Veo 2: 720p, 5-8 s, silent, image-to-video.",
)

_PRICE_PAGE = "Gemini API pricing page, transcribed 2026-09-20"
PRICES = {
    "veo-3.1-generate-preview": Pricing(
        {"720p": 0.40, "1080p": 0.40, "4k": 0.60}, source=_PRICE_PAGE
    ),
    "veo-3.1-fast-generate-preview": Pricing(
        {"720p": 0.15, "1080p": 0.15},
        source="Gemini pricing 2025; a 2026-04-07 cut to 0.12 at 1080p is unverified",
    ),
    "veo-3.1-lite-generate-preview": Pricing(
        {"720p": 0.05, "1080p": 0.08}, source="third-party listing, 2026-04"
    ),
    "veo-3.0-generate-001": Pricing({"*": 0.40}, source="Gemini pricing after the 2025-09 cut"),
    "veo-3.0-fast-generate-001": Pricing(
        {"*": 0.15}, source="Gemini pricing after the 2025-09 cut"
    ),
    "veo-2.0-generate-001": Pricing({"720p": 0.35}, source="Gemini pricing (unverified)"),
}

FOREIGN_NAMES: Mapping[str, ForeignName] = {
    "veo2": ForeignName(("veo-2.0-generate-001",)),
    "google/veo2": ForeignName(("veo-2.0-generate-001",)),
    "veo2/image-to-video": ForeignName(("veo-2.0-generate-001",)),
    "veo3": ForeignName(("veo-3.0-generate-001",)),
    "google/veo3": ForeignName(("veo-3.0-generate-001",)),
    "google/veo-3.0-i2v": ForeignName(("veo-3.0-generate-001",)),
    "google/veo-3.0-fast": ForeignName(("veo-3.0-fast-generate-001",)),
    "google/veo-3.0-i2v-fast": ForeignName(("veo-3.0-fast-generate-001",)),
    "google/veo-3.1-t2v": ForeignName(("veo-3.1-generate-preview",)),
    "google/veo-3.1-i2v": ForeignName(("veo-3.1-generate-preview",)),
    "google/veo-3.1-t2v-fast": ForeignName(("veo-3.1-fast-generate-preview",)),
    "google/veo-3.1-i2v-fast": ForeignName(("veo-3.1-fast-generate-preview",)),
}
"""aimlapi's model names for these models (its ``/v2`` clients send them)."""

SPEC = ProviderSpec(
    name="gemini",
    description="Google Veo on the Gemini Developer API (generativelanguage.googleapis.com).",
    models={
        "veo-3.1-generate-preview": VEO_3_1,
        "veo-3.1-fast-generate-preview": VEO_3_1_FAST,
        "veo-3.1-lite-generate-preview": VEO_3_1_LITE,
        "veo-3.0-generate-001": VEO_3,
        "veo-3.0-fast-generate-001": VEO_3_FAST,
        "veo-2.0-generate-001": VEO_2,
    },
    status_map={
        "pending": "in_progress",  # `done` absent or false (no progress is reported)
        "succeeded": "completed",  # done + generatedSamples with a video uri
        "error": "failed",  # done + error (a google.rpc.Status)
        "filtered": "failed",  # done, no samples, raiMediaFilteredCount/Reasons
        "empty": "failed",  # done with neither samples, error nor RAI fields
    },
    idempotent_submit=False,
    poll_interval_s=10.0,
    prices=PRICES,
    env={"api_key": "GEMINI_API_KEY"},
    auto_models=(
        "veo-3.1-generate-preview",
        "veo-3.1-fast-generate-preview",
        "veo-3.1-lite-generate-preview",
    ),
    default_api_base="https://generativelanguage.googleapis.com/v1beta",
    aliases={"veo3": ("veo-3.1-generate-preview",), "veo-3": ("veo-3.1-generate-preview",)},
    foreign_names=FOREIGN_NAMES,
    vendor_paths={"google": "veo3"},
)
