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
from typing import Any

from vidgate.errors import InvalidRequest
from vidgate.providers.base import Credential, ProviderSpec
from vidgate.values import ForeignName, ModelCapabilities, OptionSpec, Pricing, ResolvedRequest

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
MODES = ("std", "pro")
_ROLES = frozenset({"first_frame", "last_frame"})


def camera_control(value: Any) -> dict[str, Any]:
    """Kling's ``camera_control``: a movement ``type``; ``simple`` takes a ``config`` with
    exactly one axis set to a non-zero number in [-10, 10] (the others are sent as 0)."""
    param = "metadata.camera_control"
    if set(value) - {"type", "config"}:
        raise InvalidRequest(f"'{param}' must be an object {{type, config}}.", param=param)
    kind = value.get("type")
    if kind not in CAMERA_TYPES:
        raise InvalidRequest(
            f"Invalid value for '{param}.type': {kind!r}; allowed: {', '.join(CAMERA_TYPES)}.",
            param=f"{param}.type",
        )
    config = value.get("config")
    if kind != "simple":
        if config is not None:
            raise InvalidRequest(
                f"'{param}.config' must be null unless type is 'simple'.", param=f"{param}.config"
            )
        return {"type": kind}
    return {"type": kind, "config": _camera_config(config, f"{param}.config")}


def _camera_config(config: Any, param: str) -> dict[str, float]:
    message = (
        f"'{param}' must set exactly one of {', '.join(CAMERA_AXES)} to a non-zero number "
        "in [-10, 10]."
    )
    if not isinstance(config, Mapping) or set(config) - set(CAMERA_AXES):
        raise InvalidRequest(message, param=param)
    out: dict[str, float] = {}
    for axis in CAMERA_AXES:
        raw = config.get(axis, 0)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not -10 <= raw <= 10:
            raise InvalidRequest(message, param=param)
        out[axis] = float(raw)
    if sum(1 for v in out.values() if v != 0) != 1:
        raise InvalidRequest(message, param=param)
    return out


def _mode_matches_size(request: ResolvedRequest) -> None:
    asked, mode = request.options.get("mode"), ASPECT_RATIOS[request.size][1]
    if asked is not None and asked != mode:
        tier = "1080p (1920x1080, 1080x1920, 1080x1080)" if asked == "pro" else "720p"
        raise InvalidRequest(
            f"'metadata.mode' {asked!r} renders {tier}, but 'size' {request.size} is "
            f"Kling's {mode!r} mode; choose a size of that tier or drop 'metadata.mode'.",
            param="metadata.mode",
        )


def _frames(request: ResolvedRequest) -> None:
    if request.image("last_frame") is not None and request.image("first_frame") is None:
        raise InvalidRequest(
            "Kling needs a first frame ('input_reference') when a last frame is given.",
            param="input_reference",
        )
    if request.image("last_frame") is not None and "camera_control" in request.options:
        raise InvalidRequest(
            "Kling cannot combine 'metadata.camera_control' with a last frame.",
            param="metadata.camera_control",
        )


def _negative_prompt_length(request: ResolvedRequest) -> None:
    if request.negative_prompt and len(request.negative_prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"'metadata.negative_prompt' is too long for Kling: at most {MAX_PROMPT_CHARS} "
            "characters.",
            param="metadata.negative_prompt",
        )


_BASE_OPTIONS = {
    "mode": OptionSpec("string", choices=MODES, upstream="", description="std 720p, pro 1080p"),
    "camera_control": OptionSpec("object", transform=camera_control),
}
_V1_OPTIONS = _BASE_OPTIONS | {"cfg_scale": OptionSpec("number", minimum=0, maximum=1)}
RULES = (_mode_matches_size, _frames, _negative_prompt_length)


def _caps(
    description: str,
    *,
    seconds: tuple[int, ...] = (5, 10),
    options: Mapping[str, OptionSpec] = _BASE_OPTIONS,
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
        options=options,
        rules=RULES,
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

FOREIGN_NAMES: Mapping[str, ForeignName] = {
    "klingai/v2-master-text-to-video": ForeignName(("kling-v2-master",)),
    "klingai/v2-master-image-to-video": ForeignName(("kling-v2-master",)),
    "klingai/v2.1-master-text-to-video": ForeignName(("kling-v2-1-master",)),
    "klingai/v2.1-master-image-to-video": ForeignName(("kling-v2-1-master",)),
    "kling-video/v1/standard/text-to-video": ForeignName(("kling-v1",)),
    "kling-video/v1/standard/image-to-video": ForeignName(("kling-v1",)),
    "kling-video/v1/pro/text-to-video": ForeignName(("kling-v1",), resolution="1080p"),
    "kling-video/v1/pro/image-to-video": ForeignName(("kling-v1",), resolution="1080p"),
    "kling-video/v1.6/standard/text-to-video": ForeignName(("kling-v1-6",)),
    "kling-video/v1.6/standard/image-to-video": ForeignName(("kling-v1-6",)),
    "kling-video/v1.6/pro/text-to-video": ForeignName(("kling-v1-6",), resolution="1080p"),
    "kling-video/v1.6/pro/image-to-video": ForeignName(("kling-v1-6",), resolution="1080p"),
}
"""aimlapi's model names for these models (its ``/v2`` clients send them)."""

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
    job_deadline_s=1800.0,  # renders in minutes, queues long at busy times (no bound documented)
    prices=PRICES,
    env={"api_key": "KLING_ACCESS_KEY", "options.secret_key": "KLING_SECRET_KEY"},
    credentials=(
        Credential("api_key", required=True),
        Credential("options.secret_key", required=True),
    ),
    auto_models=tuple(MODELS),
    default_api_base=GLOBAL_API_BASE,
    aliases={
        "kling-video": (
            "kling-v2-6",
            "kling-v2-1",
            "kling-v3",
        )
    },
    foreign_names=FOREIGN_NAMES,
    vendor_paths={"kling": "kling-video"},
)
