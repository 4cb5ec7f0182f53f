"""Vidu (Shengshu) API models, as data (``shared/reference/providers/vidu.md``).

A ``size`` is the pair Vidu takes as ``aspect_ratio`` and ``resolution``: ``1280x720`` is
``16:9`` at ``720p``, ``720x960`` is ``3:4`` at ``720p``, ``640x360`` is ``16:9`` at ``360p``.
Image-to-video and start-end-to-video take no ``aspect_ratio`` (the output follows the input
image), so there only the resolution tier of ``size`` reaches Vidu.

Which endpoint a request uses follows its images (``endpoint``); which models each endpoint
takes is in ``ENDPOINT_MODELS``. The options are a table; the checks that span two fields
(frames or references, the endpoint the model lacks, start-end at most 8 s on the q2 models,
8 s only at 720p on vidu2.0 / vidu1.5, the seed's range, audio where the switch exists,
``style`` on text only) are ``RULES``: all run while the request is resolved, before a job.

Prices are Vidu credits; the reference gives a handful of list prices (302.ai and the CN
platform, where 10 points = 1 credit) and an unverified USD value per credit ($0.05: 302.ai
sells viduq1 5 s 1080p, 8 credits, for about $0.40). The task's own ``credits`` settles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from math import gcd

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ModelCapabilities, OptionSpec, Pricing, ResolvedRequest

TEXT2VIDEO = "text2video"
IMG2VIDEO = "img2video"
START_END2VIDEO = "start-end2video"
REFERENCE2VIDEO = "reference2video"

ALL_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
"""q2 and q3 models; the older ones take only the first three."""
CLASSIC_RATIOS = ALL_RATIOS[:3]
TIER_HEIGHT = {"360p": 360, "540p": 540, "720p": 720, "1080p": 1080}
MOVEMENT_AMPLITUDES = ("auto", "small", "medium", "large")
STYLES = ("general", "anime")
MAX_SEED = 2_147_483_647
MAX_PAYLOAD_CHARS = 1_048_576


def frame_size(ratio: str, tier: str) -> str:
    """``WxH`` of an aspect ratio at a resolution tier (the short side is the tier)."""
    a, b = (int(v) for v in ratio.split(":"))
    short = TIER_HEIGHT[tier]
    long = round(short * max(a, b) / min(a, b) / 2) * 2
    return f"{long}x{short}" if a >= b else f"{short}x{long}"


def ratio_and_tier(width: int, height: int) -> tuple[str, str]:
    """The Vidu ``aspect_ratio`` and ``resolution`` a ``WxH`` stands for."""
    div = gcd(width, height)
    return f"{width // div}:{height // div}", f"{min(width, height)}p"


def _sizes(ratios: tuple[str, ...], tiers: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(frame_size(ratio, tier) for tier in tiers for ratio in ratios)


Q3_SECONDS = tuple(range(1, 17))
Q2_SECONDS = tuple(range(1, 11))
START_END_MAX_SECONDS = 8
"""viduq2-pro / -turbo start-end-to-video takes 1-8 s (image-to-video 1-10 s)."""
EIGHT_SECONDS_TIER = "720p"
"""vidu2.0 and vidu1.5 make 8 s only at 720p."""

ENDPOINT_MODELS: Mapping[str, frozenset[str]] = {
    TEXT2VIDEO: frozenset({"viduq3-pro", "viduq3-turbo", "viduq2", "viduq1", "vidu1.5"}),
    IMG2VIDEO: frozenset(
        {"viduq3-pro", "viduq3-turbo", "viduq2-pro", "viduq2-turbo", "viduq1", "vidu2.0", "vidu1.5"}
    ),
    START_END2VIDEO: frozenset(
        {"viduq3-pro", "viduq3-turbo", "viduq2-pro", "viduq2-turbo", "viduq1", "vidu2.0", "vidu1.5"}
    ),
    REFERENCE2VIDEO: frozenset({"viduq2", "viduq1", "vidu2.0", "vidu1.5"}),
}
"""Which upstream models each endpoint takes."""
AUDIO_ENDPOINTS: Mapping[str, frozenset[str]] = {
    "viduq3-pro": frozenset({TEXT2VIDEO, IMG2VIDEO, START_END2VIDEO}),
    "viduq3-turbo": frozenset({TEXT2VIDEO, IMG2VIDEO, START_END2VIDEO}),
    "viduq2-pro": frozenset({IMG2VIDEO}),
    "viduq2-turbo": frozenset({IMG2VIDEO}),
}
"""Where the ``audio`` switch exists (q3 everywhere; q2 pro / turbo on image-to-video)."""


def endpoint(request: ResolvedRequest) -> str:
    """The endpoint a request's images call for: references, first + last, first, none."""
    if any(image.role == "reference" for image in request.images):
        return REFERENCE2VIDEO
    if request.image("last_frame") is not None:
        return START_END2VIDEO
    return IMG2VIDEO if request.image("first_frame") is not None else TEXT2VIDEO


_ENDPOINT_IMAGES = {
    IMG2VIDEO: "input_reference",
    START_END2VIDEO: "metadata.last_frame",
    REFERENCE2VIDEO: "metadata.reference_images",
}


def _images_fit(request: ResolvedRequest) -> None:
    """Frames or references (not both), a first frame with a last one, and an endpoint the
    model has (some models only make video from an image)."""
    first, last = request.image("first_frame"), request.image("last_frame")
    if any(image.role == "reference" for image in request.images) and (first or last):
        raise InvalidRequest(
            "Vidu takes reference images or frames, not both: drop 'input_reference' / "
            "'metadata.last_frame' or 'metadata.reference_images'.",
            param="metadata.reference_images",
        )
    if last is not None and first is None:
        raise InvalidRequest(
            "Vidu needs a first frame ('input_reference') when a last frame is given.",
            param="input_reference",
        )
    model, used = request.upstream_model, endpoint(request)
    if model in ENDPOINT_MODELS[used]:
        return
    if used == TEXT2VIDEO:
        raise InvalidRequest(
            f"Model '{model}' only makes video from an image: 'input_reference' is required.",
            param="input_reference",
        )
    param = _ENDPOINT_IMAGES[used]
    raise InvalidRequest(f"Model '{model}' does not take '{param}'.", param=param)


def _seconds_fit(request: ResolvedRequest) -> None:
    """Start-end on the q2 models is at most 8 s; vidu2.0 / vidu1.5 make 8 s only at 720p."""
    model = request.upstream_model
    start_end_q2 = endpoint(request) == START_END2VIDEO and model.startswith("viduq2")
    if start_end_q2 and request.seconds > START_END_MAX_SECONDS:
        raise InvalidRequest(
            f"Invalid value for 'seconds': {request.seconds}. Model '{model}' with a first "
            f"and last frame allows 1-{START_END_MAX_SECONDS}.",
            param="seconds",
            code="invalid_value",
        )
    tier = ratio_and_tier(request.width, request.height)[1]
    if model in ("vidu2.0", "vidu1.5") and request.seconds == 8 and tier != EIGHT_SECONDS_TIER:
        raise InvalidRequest(
            f"Invalid value for 'size': '{request.size}'. Model '{model}' makes 8 s only at "
            "720p (1280x720, 720x1280, 720x720).",
            param="size",
            code="invalid_value",
        )


def _seed_fits(request: ResolvedRequest) -> None:
    if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
        raise InvalidRequest(
            f"Invalid value for 'seed': {request.seed}; Vidu takes 0 to {MAX_SEED} "
            "(0 means random).",
            param="seed",
            code="invalid_value",
        )


def _audio_fits(request: ResolvedRequest) -> None:
    used, model = endpoint(request), request.upstream_model
    if request.audio and used not in AUDIO_ENDPOINTS.get(model, frozenset()):
        raise InvalidRequest(f"Model '{model}' makes no audio on {used}.", param="metadata.audio")


def _style_on_text_only(request: ResolvedRequest) -> None:
    if "style" in request.options and endpoint(request) != TEXT2VIDEO:
        raise InvalidRequest(
            "'metadata.style' applies only to text-to-video (no images).", param="metadata.style"
        )


RULES = (_images_fit, _seconds_fit, _seed_fits, _audio_fits, _style_on_text_only)
OPTIONS: Mapping[str, OptionSpec] = {
    "movement_amplitude": OptionSpec(
        "string", choices=MOVEMENT_AMPLITUDES, description="how much the camera and subject move"
    ),
    "bgm": OptionSpec("boolean", description="add background music"),
    "off_peak": OptionSpec("boolean", description="cheaper; the task runs within 48 h"),
    "watermark": OptionSpec("boolean", description="also make a watermarked copy"),
    "payload": OptionSpec(
        "string", max_length=MAX_PAYLOAD_CHARS, description="passed through to Vidu untouched"
    ),
}
CLASSIC_OPTIONS: Mapping[str, OptionSpec] = {
    **OPTIONS,
    "style": OptionSpec("string", choices=STYLES, description="text-to-video only"),
}
"""viduq1, vidu2.0 and vidu1.5 also take ``style`` (q2 and q3 ignore it, so it is not theirs)."""


VIDUQ3_PRO = ModelCapabilities(
    seconds=Q3_SECONDS,
    default_seconds=5,
    sizes=_sizes(ALL_RATIOS, ("540p", "720p", "1080p")),
    default_size="1280x720",
    image_roles=frozenset({"first_frame", "last_frame"}),
    max_prompt_chars=5000,
    seed=True,
    audio=True,
    options=OPTIONS,
    rules=RULES,
    description="Vidu Q3 Pro: 1-16 s with audio, text, first frame or first + last frame.",
)
VIDUQ3_TURBO = replace(
    VIDUQ3_PRO, description="Vidu Q3 Turbo: faster Q3; 1-16 s with audio, text or frames."
)
VIDUQ2 = ModelCapabilities(
    seconds=Q2_SECONDS,
    default_seconds=5,
    sizes=_sizes(ALL_RATIOS, ("540p", "720p", "1080p")),
    default_size="1280x720",
    image_roles=frozenset({"reference"}),
    max_reference_images=7,
    max_prompt_chars=1500,
    seed=True,
    options=OPTIONS,
    rules=RULES,
    description="Vidu Q2: text-to-video and reference-to-video (1-7 reference images).",
)
VIDUQ2_PRO = ModelCapabilities(
    seconds=Q2_SECONDS,
    default_seconds=5,
    sizes=_sizes(ALL_RATIOS, ("540p", "720p", "1080p")),
    default_size="1280x720",
    image_roles=frozenset({"first_frame", "last_frame"}),
    max_prompt_chars=1500,
    seed=True,
    audio=False,
    options=OPTIONS,
    rules=RULES,
    description="Vidu Q2 Pro: image-to-video (1-10 s, optional audio) or first + last frame "
    "(1-8 s); an input image is required.",
)
VIDUQ2_TURBO = replace(
    VIDUQ2_PRO,
    description="Vidu Q2 Turbo: faster Q2 image-to-video or first + last frame; an input image "
    "is required.",
)
VIDUQ1 = ModelCapabilities(
    seconds=(5,),
    default_seconds=5,
    sizes=_sizes(CLASSIC_RATIOS, ("1080p",)),
    default_size="1920x1080",
    image_roles=frozenset({"first_frame", "last_frame", "reference"}),
    max_reference_images=7,
    max_prompt_chars=1500,
    seed=True,
    options=CLASSIC_OPTIONS,
    rules=RULES,
    description="Vidu Q1: 5 s at 1080p; text, first frame, first + last frame or 1-7 references.",
)
VIDU2_0 = ModelCapabilities(
    seconds=(4, 8),
    default_seconds=4,
    sizes=_sizes(CLASSIC_RATIOS, ("360p", "720p", "1080p")),
    default_size="640x360",
    image_roles=frozenset({"first_frame", "last_frame", "reference"}),
    max_reference_images=3,
    max_prompt_chars=1500,
    seed=True,
    options=CLASSIC_OPTIONS,
    rules=RULES,
    description="Vidu 2.0: 4 or 8 s (8 s at 720p only) from a first frame, first + last frame "
    "or 1-3 references; an input image is required.",
)
VIDU1_5 = replace(
    VIDU2_0,
    description="Vidu 1.5: 4 or 8 s (8 s at 720p only); text, frames or 1-3 references.",
)

USD_PER_CREDIT = 0.05


def _credits(rate: float, source: str) -> Pricing:
    return Pricing(
        per_second={"*": rate},
        unit="credits",
        usd_per_unit=USD_PER_CREDIT,
        source=f"{source}; 1 credit = ${USD_PER_CREDIT} (302.ai rate, unverified)",
    )


PRICES: Mapping[str, Pricing] = {
    "viduq3-pro": _credits(
        3.2, "CN platform: 32 points/s at 1080p (16 off-peak), 10 points = 1 credit, 2026-05"
    ),
    "viduq3-turbo": _credits(
        3.2, "assumed equal to viduq3-pro: no published viduq3-turbo price (reference, 2026-05)"
    ),
    "viduq2-pro": _credits(2.0, "302.ai: viduq2-pro 720p 2 credits/s, 2026-05"),
    "viduq2-turbo": _credits(
        2.0, "assumed equal to viduq2-pro: no published viduq2-turbo price (reference, 2026-05)"
    ),
    "viduq2": _credits(
        2.0, "assumed equal to viduq2-pro: no published viduq2 price (reference, 2026-05)"
    ),
    "viduq1": _credits(1.6, "302.ai: viduq1 5 s 1080p 8 credits (CN: 80 points), 2026-05"),
    "vidu2.0": _credits(1.0, "302.ai: vidu2.0 4 s 720p 4 credits, 2026-05"),
    "vidu1.5": _credits(
        1.0, "assumed equal to vidu2.0: no published vidu1.5 price (reference, 2026-05)"
    ),
}

SPEC = ProviderSpec(
    name="vidu",
    description="Vidu (Shengshu) enterprise API v2: Q3, Q2, Q1, 2.0 and 1.5 on api.vidu.com.",
    models={
        "viduq3-pro": VIDUQ3_PRO,
        "viduq3-turbo": VIDUQ3_TURBO,
        "viduq2": VIDUQ2,
        "viduq2-pro": VIDUQ2_PRO,
        "viduq2-turbo": VIDUQ2_TURBO,
        "viduq1": VIDUQ1,
        "vidu2.0": VIDU2_0,
        "vidu1.5": VIDU1_5,
    },
    status_map={
        "created": "queued",
        "queueing": "queued",
        "processing": "in_progress",
        "success": "completed",
        "failed": "failed",
    },
    idempotent_submit=False,
    poll_interval_s=5.0,
    job_deadline_s=1800.0,  # minutes; off-peak takes up to 48 h: give those job_deadline_s
    upstream_previews=frozenset({"thumbnail"}),
    prices=PRICES,
    env={"api_key": "VIDU_API_KEY"},
    credentials=(Credential("api_key"),),
    auto_models=(
        "viduq3-pro",
        "viduq3-turbo",
        "viduq2",
        "viduq2-pro",
        "viduq2-turbo",
        "viduq1",
        "vidu2.0",
        "vidu1.5",
    ),
    default_api_base="https://api.vidu.com/ent/v2",
    aliases={
        "vidu-video": (
            "viduq3-pro",
            "viduq2",
        )
    },
)
