"""Alibaba Wan video models on DashScope (Model Studio), as data.

Source: ``shared/reference/providers/wan-dashscope.md`` (official DashScope docs, new-api's Ali
adaptor) and the official ``dashscope`` SDK 2.0.2 (``VideoSynthesis``).

Sizes are DashScope's ``W*H`` values written ``WxH``. Text-to-video models send the size as
``parameters.size``; image-to-video and first/last-frame models take only a resolution tier
(``parameters.resolution``: ``480P``/``720P``/``1080P``), picked from the size by ``TIER`` —
their output keeps the input image's aspect ratio at that tier.

Prices, per output second by tier:
- wan2.5 / wan2.6: USD (Singapore), lumenfall and empiriolabs via the reference, 2026-10;
  480P "about $0.05" is unverified.
- wan2.2: CNY (Beijing list price), crazyrouter docs ("official price"), 2026-10; converted
  at 1 CNY = 0.14 USD.
- wan2.1: not in the reference; USD list prices as last published by Model Studio
  international (unverified).

Options (``prompt_extend``, ``watermark``; ``audio_url`` on the audio models) are a table, and
the checks across fields (a first frame for image models, the negative prompt's length, the
seed's range) are ``RULES``: both run while the request is resolved, before a job exists.

``540p`` and ``1440p`` rows alias ``480p`` and ``1080p``: ``624x624`` and ``1440x1440`` are
DashScope's 480P and 1080P squares, but ``resolution_tier`` names them by their short side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ModelCapabilities, OptionSpec, Pricing, ResolvedRequest

Kind = Literal["t2v", "i2v", "kf2v"]

SIZES_480P = ("832x480", "480x832", "624x624")
SIZES_720P = ("1280x720", "720x1280", "960x960", "1088x832", "832x1088")
SIZES_1080P = ("1920x1080", "1080x1920", "1440x1440", "1632x1248", "1248x1632")
TIER: Mapping[str, str] = {
    **dict.fromkeys(SIZES_480P, "480P"),
    **dict.fromkeys(SIZES_720P, "720P"),
    **dict.fromkeys(SIZES_1080P, "1080P"),
}
"""DashScope's resolution tier of every size it takes."""

MAX_SEED = 2_147_483_647
MAX_NEGATIVE_PROMPT_CHARS = 500
T2V_PATH = "/services/aigc/video-generation/video-synthesis"
KF2V_PATH = "/services/aigc/image2video/video-synthesis"
"""First/last-frame models are served on ``image2video`` (the SDK switches on ``kf2v``)."""

_2_6_SECONDS = tuple(range(2, 16))


def audio_url(value: str) -> str:
    """``input.audio_url``: DashScope fetches the soundtrack itself, so only a URL will do."""
    if not value.startswith(("https://", "http://")):
        raise ValueError("expected an http(s) URL of a wav or mp3 file (3-30 s, at most 15 MB)")
    return value


_BASE_OPTIONS: Mapping[str, OptionSpec] = {
    "prompt_extend": OptionSpec(
        "boolean",
        upstream="parameters.prompt_extend",
        description="let DashScope rewrite the prompt (its default: true)",
    ),
    "watermark": OptionSpec(
        "boolean", upstream="parameters.watermark", description="DashScope's watermark"
    ),
}
_AUDIO_OPTIONS: Mapping[str, OptionSpec] = {
    **_BASE_OPTIONS,
    "audio_url": OptionSpec(
        "string",
        upstream="input.audio_url",
        transform=audio_url,
        description="an http(s) URL of a wav or mp3 soundtrack (3-30 s, at most 15 MB)",
    ),
}


def _first_frame(request: ResolvedRequest) -> None:
    if KIND.get(request.upstream_model, "t2v") != "t2v" and request.image("first_frame") is None:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' makes video from an image: "
            "'input_reference' is required.",
            param="input_reference",
        )


def _negative_prompt_length(request: ResolvedRequest) -> None:
    if request.negative_prompt and len(request.negative_prompt) > MAX_NEGATIVE_PROMPT_CHARS:
        raise InvalidRequest(
            f"'metadata.negative_prompt' is too long for DashScope: at most "
            f"{MAX_NEGATIVE_PROMPT_CHARS} characters.",
            param="metadata.negative_prompt",
            code="string_above_max_length",
        )


def _seed_range(request: ResolvedRequest) -> None:
    if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
        raise InvalidRequest(
            f"Invalid value for 'seed': {request.seed}; DashScope takes 0 to {MAX_SEED}.",
            param="seed",
            code="invalid_value",
        )


RULES = (_first_frame, _negative_prompt_length, _seed_range)


def _caps(
    kind: Kind,
    sizes: tuple[str, ...],
    default_size: str,
    seconds: tuple[int, ...],
    *,
    audio: bool,
    prompt_chars: int,
    description: str,
) -> ModelCapabilities:
    roles = {"t2v": (), "i2v": ("first_frame",), "kf2v": ("first_frame", "last_frame")}[kind]
    return ModelCapabilities(
        seconds=seconds,
        default_seconds=5,
        sizes=sizes,
        default_size=default_size,
        image_roles=frozenset(roles),
        max_prompt_chars=prompt_chars,
        seed=True,
        negative_prompt=True,
        audio=True if audio else None,
        options=_AUDIO_OPTIONS if audio else _BASE_OPTIONS,
        rules=RULES,
        description=description,
    )


MODELS: Mapping[str, ModelCapabilities] = {
    "wan2.1-t2v-turbo": _caps(
        "t2v",
        SIZES_480P + SIZES_720P,
        "1280x720",
        (5,),
        audio=False,
        prompt_chars=800,
        description="Wan 2.1 Turbo text-to-video: 480P/720P, 5 s.",
    ),
    "wan2.1-t2v-plus": _caps(
        "t2v",
        SIZES_720P,
        "1280x720",
        (5,),
        audio=False,
        prompt_chars=800,
        description="Wan 2.1 Plus text-to-video: 720P, 5 s.",
    ),
    "wan2.2-t2v-plus": _caps(
        "t2v",
        SIZES_480P + SIZES_1080P,
        "1920x1080",
        (5,),
        audio=False,
        prompt_chars=800,
        description="Wan 2.2 Plus text-to-video: 480P/1080P, 5 s.",
    ),
    "wan2.5-t2v-preview": _caps(
        "t2v",
        SIZES_480P + SIZES_720P + SIZES_1080P,
        "1920x1080",
        (5, 10),
        audio=True,
        prompt_chars=1500,
        description="Wan 2.5 text-to-video with audio: 480P-1080P, 5 or 10 s.",
    ),
    "wan2.6-t2v": _caps(
        "t2v",
        SIZES_720P + SIZES_1080P,
        "1920x1080",
        _2_6_SECONDS,
        audio=True,
        prompt_chars=1500,
        description="Wan 2.6 text-to-video with audio: 720P/1080P, 2-15 s.",
    ),
    "wan2.2-i2v-flash": _caps(
        "i2v",
        SIZES_480P + SIZES_720P + SIZES_1080P,
        "1280x720",
        (5,),
        audio=False,
        prompt_chars=800,
        description="Wan 2.2 Flash image-to-video (first frame required): 480P-1080P, 5 s.",
    ),
    "wan2.2-i2v-plus": _caps(
        "i2v",
        SIZES_480P + SIZES_1080P,
        "1920x1080",
        (5,),
        audio=False,
        prompt_chars=800,
        description="Wan 2.2 Plus image-to-video (first frame required): 480P/1080P, 5 s.",
    ),
    "wan2.5-i2v-preview": _caps(
        "i2v",
        SIZES_480P + SIZES_720P + SIZES_1080P,
        "1920x1080",
        (5, 10),
        audio=True,
        prompt_chars=1500,
        description="Wan 2.5 image-to-video with audio: 480P-1080P, 5 or 10 s.",
    ),
    "wan2.6-i2v": _caps(
        "i2v",
        SIZES_720P + SIZES_1080P,
        "1920x1080",
        _2_6_SECONDS,
        audio=True,
        prompt_chars=1500,
        description="Wan 2.6 image-to-video with audio: 720P/1080P, 2-15 s.",
    ),
    "wan2.1-kf2v-plus": _caps(
        "kf2v",
        SIZES_720P,
        "1280x720",
        (5,),
        audio=False,
        prompt_chars=800,
        description="Wan 2.1 Plus first/last-frame-to-video: 720P, 5 s.",
    ),
    "wan2.2-kf2v-flash": _caps(
        "kf2v",
        SIZES_480P + SIZES_720P + SIZES_1080P,
        "1280x720",
        (5,),
        audio=False,
        prompt_chars=800,
        description="Wan 2.2 Flash first/last-frame-to-video: 480P-1080P, 5 s.",
    ),
}

KIND: Mapping[str, Kind] = {
    name: ("kf2v" if "-kf2v-" in name else "i2v" if "-i2v-" in name else "t2v") for name in MODELS
}
"""Which input shape each model takes: ``size`` (t2v), ``img_url`` (i2v) or frames (kf2v)."""

_USD_SOURCE = "lumenfall; empiriolabs via the reference, 2026-10 (480P about $0.05, unverified)"
_CNY_SOURCE = "crazyrouter docs, Beijing list price, 2026-10; 1 CNY = 0.14 USD"
_OLD_SOURCE = "Model Studio international list price (not in the reference; unverified)"


def _tiers(p480: float | None, p720: float | None, p1080: float | None) -> dict[str, float]:
    rows = {"480p": p480, "540p": p480, "720p": p720, "1080p": p1080, "1440p": p1080}
    return {tier: rate for tier, rate in rows.items() if rate is not None}


def _usd(p480: float | None, p720: float | None, p1080: float | None, source: str) -> Pricing:
    return Pricing(per_second=_tiers(p480, p720, p1080), source=source)


def _cny(p480: float | None, p720: float | None, p1080: float | None) -> Pricing:
    return Pricing(
        per_second=_tiers(p480, p720, p1080), unit="cny", usd_per_unit=0.14, source=_CNY_SOURCE
    )


PRICES: Mapping[str, Pricing] = {
    "wan2.1-t2v-turbo": _usd(0.036, 0.036, None, _OLD_SOURCE),
    "wan2.1-t2v-plus": _usd(None, 0.10, None, _OLD_SOURCE),
    "wan2.1-kf2v-plus": _usd(None, 0.10, None, _OLD_SOURCE),
    "wan2.2-t2v-plus": _cny(0.14, None, 0.70),
    "wan2.2-i2v-plus": _cny(0.14, None, 0.70),
    "wan2.2-i2v-flash": _cny(0.10, 0.20, 0.48),
    "wan2.2-kf2v-flash": _cny(0.10, 0.20, 0.48),
    "wan2.5-t2v-preview": _usd(0.05, 0.10, 0.15, _USD_SOURCE),
    "wan2.5-i2v-preview": _usd(0.05, 0.10, 0.15, _USD_SOURCE),
    "wan2.6-t2v": _usd(None, 0.10, 0.15, _USD_SOURCE),
    "wan2.6-i2v": _usd(None, 0.10, 0.15, _USD_SOURCE),
}

SPEC = ProviderSpec(
    name="wan",
    description="Alibaba Wan video models on DashScope / Model Studio (async video-synthesis).",
    models=MODELS,
    status_map={
        "PENDING": "queued",
        "RUNNING": "in_progress",
        "SUCCEEDED": "completed",
        "FAILED": "failed",
        "CANCELED": "failed",
        "UNKNOWN": "failed",
    },
    idempotent_submit=False,
    poll_interval_s=5.0,
    job_deadline_s=1200.0,  # DashScope's sample took 1 min 44 s; 1080p and queues take more
    prices=PRICES,
    env={"api_key": "DASHSCOPE_API_KEY"},
    credentials=(Credential("api_key"),),
    auto_models=tuple(MODELS),
    default_api_base="https://dashscope-intl.aliyuncs.com/api/v1",
    aliases={
        "wan-video": (
            "wan2.6-t2v",
            "wan2.5-t2v-preview",
            "wan2.2-t2v-plus",
        )
    },
)
