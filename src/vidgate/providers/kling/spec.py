"""Kling AI models, as data (``shared/reference/providers/kling.md``).

Kling renders 16:9, 9:16 or 1:1 in two modes: ``std`` is 720p and ``pro`` is 1080p, so a
size names both (``1280x720`` → ``aspect_ratio: "16:9"``, ``mode: "std"``; ``1080x1920`` →
``9:16``, ``pro``). ``duration`` is ``"5"`` or ``"10"`` (``kling-v3``: ``"3"``…``"15"``).
Every model takes a first frame (``image``) and a last frame (``image_tail``) through
``image2video``; image-to-video output follows the input image's aspect ratio. Kling has no
seed; it has a negative prompt everywhere, ``cfg_scale`` on the v1 family only and ``sound``
(audio) from v2.6 on. Kling's API has no remix or edit, and its video-extend body is not in
the reference, so only ``create`` is offered.

Prices are in Kling units (resource packs, about $0.14 per unit); the task's own
``final_unit_deduction`` settles the real amount.
"""

from __future__ import annotations

from collections.abc import Mapping

from vidgate.providers.base import ProviderSpec
from vidgate.values import ModelCapabilities, Pricing

MAX_PROMPT_CHARS = 2500
USD_PER_UNIT = 0.14
ASPECT_RATIOS: Mapping[str, tuple[str, str]] = {
    # size → (aspect_ratio, mode)
    "1280x720": ("16:9", "std"),
    "720x1280": ("9:16", "std"),
    "720x720": ("1:1", "std"),
    "1920x1080": ("16:9", "pro"),
    "1080x1920": ("9:16", "pro"),
    "1080x1080": ("1:1", "pro"),
}
SIZES = tuple(ASPECT_RATIOS)
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
_BASE_OPTIONS = frozenset({"mode", "camera_control"})
_V1_OPTIONS = _BASE_OPTIONS | {"cfg_scale"}
_ROLES = frozenset({"first_frame", "last_frame"})


def _caps(
    description: str,
    *,
    seconds: tuple[int, ...] = (5, 10),
    options: frozenset[str] = _BASE_OPTIONS,
    audio: bool | None = None,
) -> ModelCapabilities:
    return ModelCapabilities(
        seconds=seconds,
        default_seconds=5,
        sizes=SIZES,
        default_size="1280x720",
        image_roles=_ROLES,
        max_prompt_chars=MAX_PROMPT_CHARS,
        negative_prompt=True,
        audio=audio,
        option_keys=options,
        description=description,
    )


MODELS: Mapping[str, ModelCapabilities] = {
    "kling-v1": _caps("Kling 1.0: 5 or 10 s, std 720p / pro 1080p.", options=_V1_OPTIONS),
    "kling-v1-5": _caps("Kling 1.5: 5 or 10 s, std / pro, cfg_scale.", options=_V1_OPTIONS),
    "kling-v1-6": _caps("Kling 1.6: 5 or 10 s, std / pro, cfg_scale.", options=_V1_OPTIONS),
    "kling-v2-master": _caps("Kling 2.0 Master: 5 or 10 s, std / pro."),
    "kling-v2-1": _caps("Kling 2.1: 5 or 10 s, std / pro."),
    "kling-v2-1-master": _caps("Kling 2.1 Master: 5 or 10 s, std / pro."),
    "kling-v2-5-turbo": _caps("Kling 2.5 Turbo: 5 or 10 s, std / pro."),
    "kling-v2-6": _caps("Kling 2.6: 5 or 10 s, std / pro, sound on or off.", audio=False),
    "kling-v3": _caps(
        "Kling 3.0: 3 to 15 s, std / pro, sound on or off.",
        seconds=tuple(range(3, 16)),
        audio=False,
    ),
}

_LEGACY_SOURCE = "new-api Kling plugin comment, verified 2026-08 (std 5 s = 2, pro 5 s = 3.5 units)"
_ASSUMED = "assumed equal to the v1.6 / v2.1 family: no published price in the reference"
_V3_SOURCE = "compilation from 2026-02 (std 0.6, pro 0.8 units/s; audio 0.9 / 1.2)"
_UNIT_NOTE = "; $0.14 per unit (resource-pack page mirror)"


def _units(
    std: float, pro: float, source: str, audio: tuple[float, float] | None = None
) -> Pricing:
    return Pricing(
        per_second={"720p": std, "1080p": pro},
        per_second_audio=None if audio is None else {"720p": audio[0], "1080p": audio[1]},
        unit="units",
        usd_per_unit=USD_PER_UNIT,
        source=source + _UNIT_NOTE,
    )


PRICES: Mapping[str, Pricing] = {
    "kling-v1": _units(0.4, 0.7, _ASSUMED),
    "kling-v1-5": _units(0.4, 0.7, _ASSUMED),
    "kling-v1-6": _units(0.4, 0.7, _LEGACY_SOURCE),
    "kling-v2-1": _units(0.4, 0.7, _LEGACY_SOURCE),
    "kling-v2-master": _units(2.0, 2.0, "about 10 units per 5 s (reference, unverified)"),
    "kling-v2-1-master": _units(2.0, 2.0, "about 10 units per 5 s (reference, unverified)"),
    "kling-v2-5-turbo": _units(0.4, 0.7, _ASSUMED),
    "kling-v2-6": _units(
        0.4, 0.7, _ASSUMED + "; audio assumed at kling-v3's audio rate", audio=(0.9, 1.2)
    ),
    "kling-v3": _units(0.6, 0.8, _V3_SOURCE, audio=(0.9, 1.2)),
}

GLOBAL_API_BASE = "https://api-singapore.klingai.com"
LEGACY_API_BASE = "https://api.klingai.com"

SPEC = ProviderSpec(
    name="kling",
    description="Kling AI video API (text2video and image2video, JWT-signed access keys).",
    models=MODELS,
    status_map={
        "submitted": "queued",
        "processing": "in_progress",
        "succeed": "completed",
        "failed": "failed",
    },
    idempotent_submit=False,
    poll_interval_s=5.0,
    prices=PRICES,
    env={"api_key": "KLING_ACCESS_KEY", "options.secret_key": "KLING_SECRET_KEY"},
    auto_models=tuple(MODELS),
    default_api_base=GLOBAL_API_BASE,
)
