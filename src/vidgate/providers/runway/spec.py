"""RunwayML API models, as data (``shared/reference/providers/runway.md``, SDK 5.13-5.24).

Sizes are the pixel ``ratio`` values Runway takes, written ``WxH`` (``1280x720`` is sent as
``ratio: "1280:720"``). Where a model's text-to-video takes fewer ratios than its
image-to-video, ``sizes`` lists the image-to-video set and ``T2V_SIZES`` the narrower one
the adapter enforces. ``aleph2`` only edits a video (``video_to_video``); its output keeps
the source's frame size, so its ``sizes`` are only informative.

Prices are in Runway credits per output second (1 credit = $0.01), from runwayml/skills,
2026-04-21; the task's own ``cost.credits`` settles the real amount.
"""

from __future__ import annotations

from collections.abc import Mapping

from vidgate.providers.base import ProviderSpec
from vidgate.values import ForeignName, ModelCapabilities, Pricing, untyped

RUNWAY_VERSION = "2024-11-06"
MAX_PROMPT_CHARS = 1000
GEN4_SIZES = ("1280x720", "720x1280", "1104x832", "832x1104", "960x960", "1584x672")
VEO_SIZES = ("1280x720", "720x1280", "1080x1920", "1920x1080")
_GEN4_SECONDS = tuple(range(2, 11))
_OPTIONS = frozenset({"content_moderation"})
_PRICE_SOURCE = "runwayml/skills API reference, 2026-04-21 (1 credit = $0.01)"

GEN4_TURBO = ModelCapabilities(
    seconds=_GEN4_SECONDS,
    default_seconds=5,
    sizes=GEN4_SIZES,
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    max_prompt_chars=MAX_PROMPT_CHARS,
    seed=True,
    options=untyped(*_OPTIONS),
    description="Runway Gen-4 Turbo: image-to-video only (a first frame is required).",
)
GEN4_5 = ModelCapabilities(
    seconds=_GEN4_SECONDS,
    default_seconds=5,
    sizes=GEN4_SIZES,
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    max_prompt_chars=MAX_PROMPT_CHARS,
    seed=True,
    options=untyped(*_OPTIONS),
    description="Runway Gen-4.5: text-to-video (1280x720, 720x1280) or image-to-video.",
)
VEO3 = ModelCapabilities(
    seconds=(8,),
    default_seconds=8,
    sizes=VEO_SIZES,
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    max_prompt_chars=MAX_PROMPT_CHARS,
    seed=True,
    negative_prompt=True,
    description="Google Veo 3 on Runway: 8 s, text- or image-to-video.",
)
VEO3_1 = ModelCapabilities(
    seconds=(4, 6, 8),
    default_seconds=8,
    sizes=VEO_SIZES,
    default_size="1280x720",
    image_roles=frozenset({"first_frame", "last_frame"}),
    max_prompt_chars=MAX_PROMPT_CHARS,
    seed=True,
    negative_prompt=True,
    audio=True,
    description="Google Veo 3.1 on Runway: first and last frame, audio on or off.",
)
VEO3_1_FAST = ModelCapabilities(
    seconds=(4, 6, 8),
    default_seconds=8,
    sizes=VEO_SIZES,
    default_size="1280x720",
    image_roles=frozenset({"first_frame", "last_frame"}),
    max_prompt_chars=MAX_PROMPT_CHARS,
    seed=True,
    negative_prompt=True,
    audio=True,
    description="Google Veo 3.1 Fast on Runway: first and last frame, audio on or off.",
)
ALEPH2 = ModelCapabilities(
    seconds=tuple(range(1, 31)),
    default_seconds=5,
    sizes=GEN4_SIZES,
    default_size="1280x720",
    operations=frozenset({"edit"}),
    max_prompt_chars=MAX_PROMPT_CHARS,
    seed=True,
    options=untyped(*frozenset({"content_moderation", "target_aspect_ratio"})),
    description="Runway Aleph 2: edits a video (video_to_video); keeps the source's size.",
)

T2V_SIZES: Mapping[str, tuple[str, ...]] = {"gen4.5": ("1280x720", "720x1280")}
"""Models whose text-to-video takes fewer ratios than their image-to-video."""
IMAGE_ONLY = frozenset({"gen4_turbo"})
"""Models with no text-to-video endpoint: a first frame is required."""
MAX_SOURCE_SECONDS = 30
"""Longest input video ``video_to_video`` takes."""


def _credits(rate: float, audio_rate: float | None = None) -> Pricing:
    return Pricing(
        per_second={"*": rate},
        per_second_audio=None if audio_rate is None else {"*": audio_rate},
        unit="credits",
        usd_per_unit=0.01,
        source=_PRICE_SOURCE,
    )


PRICES: Mapping[str, Pricing] = {
    "gen4_turbo": _credits(5),
    "gen4.5": _credits(12),
    "veo3": _credits(40),
    "veo3.1": _credits(20, 40),
    "veo3.1_fast": _credits(10, 15),
    "aleph2": Pricing(
        per_second={"*": 15},
        unit="credits",
        usd_per_unit=0.01,
        source="assumed equal to gen4_aleph: no published aleph2 price (reference, 2026-08)",
    ),
}

FOREIGN_NAMES: Mapping[str, ForeignName] = {
    "runway/gen4_turbo": ForeignName(("gen4_turbo",)),
    "runway/gen4.5": ForeignName(("gen4.5",)),
}
"""aimlapi's model names for these models (its ``/v2`` clients send them)."""

SPEC = ProviderSpec(
    name="runway",
    description="RunwayML API (Gen-4, Gen-4.5, Veo 3/3.1 and Aleph on api.dev.runwayml.com).",
    models={
        "gen4_turbo": GEN4_TURBO,
        "gen4.5": GEN4_5,
        "veo3": VEO3,
        "veo3.1": VEO3_1,
        "veo3.1_fast": VEO3_1_FAST,
        "aleph2": ALEPH2,
    },
    status_map={
        "PENDING": "queued",
        "THROTTLED": "queued",
        "RUNNING": "in_progress",
        "SUCCEEDED": "completed",
        "FAILED": "failed",
        "CANCELLED": "failed",
    },
    idempotent_submit=False,
    poll_interval_s=5.0,
    prices=PRICES,
    env={"api_key": "RUNWAYML_API_SECRET"},
    auto_models=("gen4_turbo", "gen4.5", "veo3", "veo3.1", "veo3.1_fast", "aleph2"),
    default_api_base="https://api.dev.runwayml.com",
    aliases={
        "runway-video": (
            "gen4_turbo",
            "gen4.5",
        )
    },
    foreign_names=FOREIGN_NAMES,
    vendor_paths={"runway": "runway-video"},
)
