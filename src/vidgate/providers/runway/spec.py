"""RunwayML API models, as data (``shared/reference/providers/runway.md``, SDK 5.13-5.24).

Sizes are the pixel ``ratio`` values Runway takes, written ``WxH`` (``1280x720`` is sent as
``ratio: "1280:720"``). Where a model's text-to-video takes fewer ratios than its
image-to-video, ``sizes`` lists the image-to-video set and a rule enforces the narrower one
for text-to-video. ``aleph2`` only edits a video (``video_to_video``); its output keeps
the source's frame size, so its ``sizes`` are only informative. The option table and the
rules (frames, seeds, prompt length in UTF-16 units, edit sources, ``runway://`` file ids)
are checked while the request is resolved, before a job exists.

Prices are in Runway credits per output second (1 credit = $0.01), from runwayml/skills,
2026-04-21; the task's own ``cost.credits`` settles the real amount.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ForeignName, ModelCapabilities, OptionSpec, Pricing, ResolvedRequest

RUNWAY_VERSION = "2024-11-06"
MAX_PROMPT_CHARS = 1000
MAX_SEED = 4_294_967_295
MAX_SOURCE_SECONDS = 30
"""Longest input video ``video_to_video`` takes."""
GEN4_SIZES = ("1280x720", "720x1280", "1104x832", "832x1104", "960x960", "1584x672")
VEO_SIZES = ("1280x720", "720x1280", "1080x1920", "1920x1080")
THRESHOLDS = ("auto", "low")
TARGET_ASPECT_RATIOS = ("16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "21:9")
_GEN4_SECONDS = tuple(range(2, 11))
_PRICE_SOURCE = "runwayml/skills API reference, 2026-04-21 (1 credit = $0.01)"


def content_moderation(value: Mapping[str, Any]) -> dict[str, str]:
    """Runway's ``contentModeration``: ``{"public_figure_threshold": "auto" | "low"}``."""
    param = "metadata.content_moderation"
    if set(value) - {"public_figure_threshold"}:
        raise InvalidRequest(
            f'\'{param}\' must be an object {{"public_figure_threshold": "auto" | "low"}}.',
            param=param,
        )
    threshold = value.get("public_figure_threshold")
    if threshold is None:
        return {}
    if threshold not in THRESHOLDS:
        raise InvalidRequest(
            f"Invalid value for '{param}.public_figure_threshold': {threshold!r}; "
            f"allowed: {', '.join(THRESHOLDS)}.",
            param=f"{param}.public_figure_threshold",
        )
    return {"publicFigureThreshold": str(threshold)}


OPTIONS: Mapping[str, OptionSpec] = {
    "content_moderation": OptionSpec(
        "object",
        upstream="contentModeration",
        transform=content_moderation,
        description='{"public_figure_threshold": "auto" | "low"}',
    )
}
EDIT_OPTIONS: Mapping[str, OptionSpec] = {
    **OPTIONS,
    "target_aspect_ratio": OptionSpec(
        "string", choices=TARGET_ASPECT_RATIOS, upstream="targetAspectRatio"
    ),
}

Rule = Callable[[ResolvedRequest], None]


def _prompt_and_seed(request: ResolvedRequest) -> None:
    units = len(request.prompt.encode("utf-16-le")) // 2  # Runway counts UTF-16 code units
    if units > MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"'prompt' is too long for Runway: {units} UTF-16 code units; at most "
            f"{MAX_PROMPT_CHARS}.",
            param="prompt",
            code="string_above_max_length",
        )
    if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
        raise InvalidRequest(
            f"Invalid value for 'seed': {request.seed}; Runway takes 0 to {MAX_SEED}.",
            param="seed",
        )


def _images(request: ResolvedRequest) -> None:
    if request.image("last_frame") is not None and request.image("first_frame") is None:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' needs a first frame ('input_reference') "
            "when a last frame is given.",
            param="input_reference",
        )
    for image in request.images:
        asset = image.asset
        if asset.kind == "file_id" and not asset.value.startswith("runway://"):
            param = asset.param or "input_reference"
            raise InvalidRequest(
                f"Runway cannot use a file id for '{param}'; send the file, an https URL or "
                "a runway:// upload URI.",
                param=param,
            )


def _text_to_video_sizes(*sizes: str) -> Rule:
    """Text-to-video (no first frame) at fewer ratios than image-to-video."""

    def check(request: ResolvedRequest) -> None:
        if request.image("first_frame") is None and request.size not in sizes:
            raise InvalidRequest(
                f"Invalid value for 'size': '{request.size}'. Model "
                f"'{request.upstream_model}' without an input image allows: "
                f"{', '.join(sizes)}.",
                param="size",
                code="invalid_value",
            )

    return check


def _image_only(request: ResolvedRequest) -> None:
    if request.image("first_frame") is None:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' only makes video from an image: "
            "'input_reference' is required.",
            param="input_reference",
        )


def _edit_source(request: ResolvedRequest) -> None:
    source = request.source
    if source is None:
        raise InvalidRequest("Missing required parameter: 'video'.", param="video")
    if source.seconds is not None and source.seconds > MAX_SOURCE_SECONDS:
        raise InvalidRequest(
            f"Runway edits videos of at most {MAX_SOURCE_SECONDS} s; this one is "
            f"{source.seconds} s.",
            param="video",
        )
    located = source.location is not None and source.location.startswith("https://")
    if source.asset is None and not located:
        raise InvalidRequest(
            "The source video's bytes are not available to send to Runway.", param="video"
        )


RULES: tuple[Rule, ...] = (_prompt_and_seed, _images)

GEN4_TURBO = ModelCapabilities(
    seconds=_GEN4_SECONDS,
    default_seconds=5,
    sizes=GEN4_SIZES,
    default_size="1280x720",
    image_roles=frozenset({"first_frame"}),
    max_prompt_chars=MAX_PROMPT_CHARS,
    seed=True,
    file_ids=True,
    options=OPTIONS,
    rules=(*RULES, _image_only),
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
    file_ids=True,
    options=OPTIONS,
    rules=(*RULES, _text_to_video_sizes("1280x720", "720x1280")),
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
    file_ids=True,
    rules=RULES,
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
    file_ids=True,
    rules=RULES,
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
    file_ids=True,
    rules=RULES,
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
    options=EDIT_OPTIONS,
    rules=(*RULES, _edit_source),
    description="Runway Aleph 2: edits a video (video_to_video); keeps the source's size.",
)


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
    job_deadline_s=900.0,  # Runway's SDK stops waiting at 10 min; THROTTLED tasks queue
    prices=PRICES,
    env={"api_key": "RUNWAYML_API_SECRET"},
    credentials=(Credential("api_key"),),
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
