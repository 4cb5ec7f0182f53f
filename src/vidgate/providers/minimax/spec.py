"""MiniMax Hailuo models, as data (``shared/reference/providers/minimax.md``).

Two protocols, chosen per model: the v1 API (``/v1/video_generation``: Hailuo-02, Hailuo-2.3,
Hailuo-2.3-Fast and the 01 series) and the v2 content-array API (``/v2/video_generation``:
MiniMax-H3). A ``size`` is the pixel frame a ``resolution`` tier produces: v1 has no aspect
ratio parameter (text-to-video is 16:9; image-to-video follows the image), so its sizes are
the 16:9 frames of ``512P`` / ``720P`` / ``768P`` / ``1080P``; H3 takes a ``ratio`` and a
``resolution`` (``768P`` / ``2K``), so its sizes are every ratio at both tiers. Options are
typed (``OptionSpec``: all three are true or false) and the rules that span two parameters
(10 s only at 512P/768P, image-only and subject models) are ``rules``: both are checked while
the request is resolved, before a job exists.

Prices are per video by duration and resolution upstream; here they are per-second
equivalents of the 6-second price of each tier (see README). The 01 series has no published
price in the reference: give one per deployment before billing on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ForeignName, ModelCapabilities, OptionSpec, Pricing, ResolvedRequest

MAX_PROMPT_CHARS = 2000
V2_MODELS = frozenset({"MiniMax-H3"})
"""Models served by the v2 content-array API; every other model uses v1."""

V1_RESOLUTIONS: Mapping[str, str] = {
    "912x512": "512P",
    "1280x720": "720P",
    "1366x768": "768P",
    "1920x1080": "1080P",
}
"""v1 frame size → ``resolution``."""

H3_SIZES: Mapping[str, tuple[str, str]] = {
    "1366x768": ("16:9", "768P"),
    "768x1366": ("9:16", "768P"),
    "768x768": ("1:1", "768P"),
    "1024x768": ("4:3", "768P"),
    "768x1024": ("3:4", "768P"),
    "1792x768": ("21:9", "768P"),
    "2560x1440": ("16:9", "2K"),
    "1440x2560": ("9:16", "2K"),
    "1440x1440": ("1:1", "2K"),
    "1920x1440": ("4:3", "2K"),
    "1440x1920": ("3:4", "2K"),
    "3360x1440": ("21:9", "2K"),
}
"""H3 frame size → (``ratio``, ``resolution``)."""

TEN_SECOND_RESOLUTIONS = frozenset({"512P", "768P"})
"""10 s videos exist only at these resolutions (Hailuo-02 and 2.3)."""
Rule = Callable[[ResolvedRequest], None]


def ten_seconds_below_1080p(request: ResolvedRequest) -> None:
    """Hailuo-02 and 2.3 make 10 s videos only at ``TEN_SECOND_RESOLUTIONS``."""
    resolution = V1_RESOLUTIONS.get(request.size)
    if request.seconds == 10 and resolution not in TEN_SECOND_RESOLUTIONS:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' makes 10 s videos only at 512P or 768P (size "
            f"912x512 or 1366x768); {request.size} is {resolution}, which allows 6 s.",
            param="seconds",
            code="invalid_value",
        )


def first_frame_required(request: ResolvedRequest) -> None:
    """Models without text-to-video."""
    if request.image("first_frame") is None:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' only makes video from an image: "
            "'input_reference' is required.",
            param="input_reference",
        )


def subject_required(request: ResolvedRequest) -> None:
    """S2V-01 makes video of the character in its subject reference image."""
    if request.image("reference") is None:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' needs a subject image in "
            "'metadata.reference_images'.",
            param="metadata.reference_images",
        )


def _boolean(description: str) -> OptionSpec:
    return OptionSpec("boolean", description=description)


_WATERMARK = {"aigc_watermark": _boolean("Mark the video as AI-generated.")}
_V1_OPTIONS = _WATERMARK | {"prompt_optimizer": _boolean("Let MiniMax rewrite the prompt.")}
_HAILUO_OPTIONS = _V1_OPTIONS | {
    "fast_pretreatment": _boolean("A faster prompt rewrite (with prompt_optimizer).")
}
_FRAMES = frozenset({"first_frame", "last_frame"})

HAILUO_02 = ModelCapabilities(
    seconds=(6, 10),
    default_seconds=6,
    sizes=("912x512", "1366x768", "1920x1080"),
    default_size="1366x768",
    image_roles=_FRAMES,
    max_prompt_chars=MAX_PROMPT_CHARS,
    options=_HAILUO_OPTIONS,
    rules=(ten_seconds_below_1080p,),
    description="Hailuo-02: 512P/768P/1080P, 6 or 10 s (10 s below 1080P), first+last frame.",
)
HAILUO_2_3 = ModelCapabilities(
    seconds=(6, 10),
    default_seconds=6,
    sizes=("1366x768", "1920x1080"),
    default_size="1366x768",
    image_roles=frozenset({"first_frame"}),
    max_prompt_chars=MAX_PROMPT_CHARS,
    options=_HAILUO_OPTIONS,
    rules=(ten_seconds_below_1080p,),
    description="Hailuo-2.3: 768P/1080P, 6 or 10 s (1080P 6 s only), text or first frame.",
)
HAILUO_2_3_FAST = ModelCapabilities(
    seconds=(6, 10),
    default_seconds=6,
    sizes=("1366x768", "1920x1080"),
    default_size="1366x768",
    image_roles=frozenset({"first_frame"}),
    max_prompt_chars=MAX_PROMPT_CHARS,
    options=_HAILUO_OPTIONS,
    rules=(ten_seconds_below_1080p, first_frame_required),
    description="Hailuo-2.3-Fast: image-to-video only (first frame required), 768P/1080P.",
)


def _series01(
    image_roles: frozenset[str], description: str, refs: int = 0, rules: tuple[Rule, ...] = ()
) -> ModelCapabilities:
    """The 01 series: one length and size each (neither is sent)."""
    return ModelCapabilities(
        seconds=(6,),
        default_seconds=6,
        sizes=("1280x720",),
        default_size="1280x720",
        image_roles=image_roles,
        max_prompt_chars=MAX_PROMPT_CHARS,
        max_reference_images=refs,
        options=_V1_OPTIONS,
        rules=rules,
        description=description,
    )


MINIMAX_H3 = ModelCapabilities(
    seconds=tuple(range(4, 16)),
    default_seconds=5,
    sizes=tuple(H3_SIZES),
    default_size="1366x768",
    image_roles=_FRAMES | {"reference"},
    max_reference_images=9,
    options=_WATERMARK,
    description="MiniMax-H3 (v2 API): 4-15 s, 768P/2K in 6 ratios, frames, 9 reference images.",
)

_FIRST = frozenset({"first_frame"})
_IMAGE_ONLY = (first_frame_required,)

MODELS: Mapping[str, ModelCapabilities] = {
    "MiniMax-Hailuo-2.3": HAILUO_2_3,
    "MiniMax-Hailuo-2.3-Fast": HAILUO_2_3_FAST,
    "MiniMax-Hailuo-02": HAILUO_02,
    "T2V-01": _series01(frozenset(), "T2V-01: text-to-video, 720P, 6 s."),
    "T2V-01-Director": _series01(frozenset(), "T2V-01-Director: camera commands, 720P, 6 s."),
    "I2V-01": _series01(_FIRST, "I2V-01: image-to-video, 720P, 6 s.", rules=_IMAGE_ONLY),
    "I2V-01-Director": _series01(
        _FIRST, "I2V-01-Director: image-to-video with camera commands.", rules=_IMAGE_ONLY
    ),
    "I2V-01-live": _series01(
        _FIRST, "I2V-01-live: image-to-video for illustrations.", rules=_IMAGE_ONLY
    ),
    "S2V-01": _series01(
        frozenset({"reference"}),
        "S2V-01: subject reference (one character image).",
        refs=1,
        rules=(subject_required,),
    ),
    "MiniMax-H3": MINIMAX_H3,
}

_HAILUO_SOURCE = "reference minimax.md, pay-as-you-go (unverified), 6 s price / 6"


def _per_video_6s(tiers: Mapping[str, float], source: str = _HAILUO_SOURCE) -> Pricing:
    """Per-second equivalents of each tier's 6-second per-video price."""
    return Pricing(per_second={tier: price / 6 for tier, price in tiers.items()}, source=source)


PRICES: Mapping[str, Pricing] = {
    "MiniMax-Hailuo-02": _per_video_6s({"480p": 0.10, "720p": 0.28, "1080p": 0.49}),
    "MiniMax-Hailuo-2.3": _per_video_6s({"720p": 0.28, "1080p": 0.49}),
    "MiniMax-Hailuo-2.3-Fast": _per_video_6s(
        {"720p": 0.19, "1080p": 0.33},
        "reference minimax.md: 2.3-Fast $0.19-0.33 (unverified), read as 768P / 1080P 6 s",
    ),
    "MiniMax-H3": Pricing(
        per_second={"720p": 0.08, "1440p": 0.13},
        source="reference minimax.md: official H3 prices as checked 2026-10-24 (768P, 2K)",
    ),
}

FOREIGN_NAMES: Mapping[str, ForeignName] = {
    "video-01": ForeignName(("T2V-01",), ("I2V-01",)),
    "minimax/video-01": ForeignName(("T2V-01",), ("I2V-01",)),
    "video-01-live2d": ForeignName(("I2V-01-live",)),
    "minimax/video-01-live2d": ForeignName(("I2V-01-live",)),
    "minimax/hailuo-02": ForeignName(("MiniMax-Hailuo-02",)),
    "minimax/hailuo-2.3": ForeignName(("MiniMax-Hailuo-2.3",)),
    "minimax/hailuo-2.3-fast": ForeignName(("MiniMax-Hailuo-2.3-Fast",)),
}
"""aimlapi's model names for these models (its ``/v2`` clients send them)."""

SPEC = ProviderSpec(
    name="minimax",
    description="MiniMax Hailuo video generation (v1 Hailuo/01 series, v2 MiniMax-H3).",
    models=MODELS,
    status_map={
        # v1 (Capitalised); both spellings of the failure are in use.
        "Preparing": "queued",
        "Queueing": "queued",
        "Processing": "in_progress",
        "Success": "completed",
        "Fail": "failed",
        "Failed": "failed",
        # v2 (lower case).
        "queued": "queued",
        "running": "in_progress",
        "succeeded": "completed",
        "failed": "failed",
        "cancelled": "failed",
        "expired": "failed",
    },
    idempotent_submit=False,
    poll_interval_s=10.0,
    job_deadline_s=1200.0,  # 6 s takes 4-5 min, 10 s 8-9 min (aimlapi.md): twice that
    prices=PRICES,
    env={"api_key": "MINIMAX_API_KEY"},
    credentials=(Credential("api_key"),),
    auto_models=(
        "MiniMax-Hailuo-2.3",
        "MiniMax-Hailuo-2.3-Fast",
        "MiniMax-Hailuo-02",
        "MiniMax-H3",
    ),
    default_api_base="https://api.minimax.io",
    aliases={
        "hailuo-video": (
            "MiniMax-Hailuo-2.3",
            "MiniMax-Hailuo-02",
        )
    },
    foreign_names=FOREIGN_NAMES,
    vendor_paths={"minimax": "video-01"},
)
