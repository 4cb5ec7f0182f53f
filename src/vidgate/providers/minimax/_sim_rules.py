"""Request validation of the MiniMax simulator, as the documented API applies it.

Independent of the provider's spec and adapter on purpose. Every rejection is a ``Invalid``
carrying a ``base_resp`` code and message; the simulator answers it inside HTTP 200, as
MiniMax does.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

INVALID_PARAMS = 2013
PROMPT_LIMIT = 2000
V1_SIZES = {"512P": (912, 512), "720P": (1280, 720), "768P": (1366, 768), "1080P": (1920, 1080)}
H3_RESOLUTIONS = {"768P": 768, "2K": 1440}
H3_RATIOS = {
    "21:9": (21, 9),
    "16:9": (16, 9),
    "4:3": (4, 3),
    "1:1": (1, 1),
    "3:4": (3, 4),
    "9:16": (9, 16),
}
_DATA_URL = re.compile(r"^data:image/(jpeg|jpg|png);base64,(.+)$", re.DOTALL)


class Invalid(Exception):
    """A request MiniMax refuses: ``base_resp`` with ``code`` and ``message``."""

    def __init__(self, message: str, code: int = INVALID_PARAMS) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class V1Model:
    """What one v1 model takes."""

    durations: tuple[int, ...]
    resolutions: tuple[str, ...]
    default_resolution: str
    text: bool = True
    first_frame: bool = True
    last_frame: bool = False
    subject: bool = False
    fast_pretreatment: bool = False


_01_TEXT = V1Model((6,), ("720P",), "720P", first_frame=False)
_01_IMAGE = V1Model((6,), ("720P",), "720P", text=False)
V1_MODELS = {
    "MiniMax-Hailuo-2.3": V1Model((6, 10), ("768P", "1080P"), "768P", fast_pretreatment=True),
    "MiniMax-Hailuo-2.3-Fast": V1Model(
        (6, 10), ("768P", "1080P"), "768P", text=False, fast_pretreatment=True
    ),
    "MiniMax-Hailuo-02": V1Model(
        (6, 10), ("512P", "768P", "1080P"), "768P", last_frame=True, fast_pretreatment=True
    ),
    "T2V-01": _01_TEXT,
    "T2V-01-Director": _01_TEXT,
    "I2V-01": _01_IMAGE,
    "I2V-01-Director": _01_IMAGE,
    "I2V-01-live": _01_IMAGE,
    "S2V-01": V1Model((6,), ("720P",), "720P", first_frame=False, subject=True),
}
V1_MODELS["video-01"] = V1_MODELS["T2V-01"]


@dataclass
class Checked:
    """A valid create: what the task will produce."""

    model: str
    prompt: str
    width: int
    height: int
    seconds: int


def check_v1(body: Any) -> Checked:
    """Validate a ``POST /v1/video_generation`` body."""
    if not isinstance(body, dict):
        raise Invalid("invalid params, request body must be a JSON object")
    name = body.get("model")
    model = V1_MODELS.get(name) if isinstance(name, str) else None
    if model is None or not isinstance(name, str):
        raise Invalid(f"invalid params, model {name!r} is not supported")
    prompt = _prompt(body.get("prompt"))
    duration = body.get("duration", 6)
    if not isinstance(duration, int) or isinstance(duration, bool):
        raise Invalid("invalid params, duration must be an integer")
    if duration not in model.durations:
        raise Invalid(f"invalid params, duration {duration} is not supported by {name}")
    resolution = body.get("resolution", model.default_resolution)
    if resolution not in model.resolutions:
        raise Invalid(f"invalid params, resolution {resolution!r} is not supported by {name}")
    if duration == 10 and resolution not in ("512P", "768P"):
        raise Invalid(f"invalid params, 10s videos are not available at {resolution}")
    _frames(body, model, name)
    for key in ("prompt_optimizer", "aigc_watermark", "fast_pretreatment"):
        if key in body and not isinstance(body[key], bool):
            raise Invalid(f"invalid params, {key} must be a boolean")
    if "fast_pretreatment" in body and not model.fast_pretreatment:
        raise Invalid(f"invalid params, fast_pretreatment is not supported by {name}")
    if not prompt and model.text and "first_frame_image" not in body:
        raise Invalid("invalid params, prompt is required")
    width, height = V1_SIZES[resolution]
    return Checked(name, prompt, width, height, duration)


def _frames(body: dict[str, Any], model: V1Model, name: str) -> None:
    first, last = body.get("first_frame_image"), body.get("last_frame_image")
    if first is not None:
        if not model.first_frame:
            raise Invalid(f"invalid params, first_frame_image is not supported by {name}")
        image(first, "first_frame_image")
    elif not model.text:
        raise Invalid(f"invalid params, first_frame_image is required by {name}")
    if last is not None:
        if not model.last_frame:
            raise Invalid(f"invalid params, last_frame_image is not supported by {name}")
        image(last, "last_frame_image")
    subject = body.get("subject_reference")
    if subject is None:
        if model.subject:
            raise Invalid(f"invalid params, subject_reference is required by {name}")
        return
    if not model.subject:
        raise Invalid(f"invalid params, subject_reference is not supported by {name}")
    ok = (
        isinstance(subject, list)
        and len(subject) == 1
        and isinstance(subject[0], dict)
        and subject[0].get("type") == "character"
        and isinstance(subject[0].get("image"), list)
        and len(subject[0]["image"]) == 1
    )
    if not ok:
        raise Invalid('invalid params, subject_reference must be [{"type":"character",...}]')
    image(subject[0]["image"][0], "subject_reference.image")


def check_v2(body: Any) -> Checked:
    """Validate a ``POST /v2/video_generation`` body (MiniMax-H3)."""
    if not isinstance(body, dict):
        raise Invalid("invalid params, request body must be a JSON object")
    if body.get("model") != "MiniMax-H3":
        raise Invalid(f"invalid params, model {body.get('model')!r} is not supported")
    content = body.get("content")
    if not isinstance(content, list) or not content:
        raise Invalid("invalid params, content must be a non-empty array")
    prompt, counts = _content(content)
    if (
        counts["first_frame"] + counts["last_frame"] > 2
        or max(counts["first_frame"], counts["last_frame"]) > 1
    ):
        raise Invalid("invalid params, at most one first_frame and one last_frame")
    limits = {"reference_image": 9, "reference_video": 3, "reference_audio": 3}
    for role, limit in limits.items():
        if counts[role] > limit:
            raise Invalid(f"invalid params, at most {limit} {role} items")
    resolution = body.get("resolution", "768P")
    if resolution not in H3_RESOLUTIONS:
        raise Invalid(f"invalid params, resolution {resolution!r} must be 768P or 2K")
    duration = body.get("duration", 5)
    if not isinstance(duration, int) or isinstance(duration, bool) or not 4 <= duration <= 15:
        raise Invalid("invalid params, duration must be an integer from 4 to 15")
    ratio = body.get("ratio", "adaptive")
    if ratio != "adaptive" and ratio not in H3_RATIOS:
        raise Invalid(f"invalid params, ratio {ratio!r} is not supported")
    media = sum(counts.values())
    if ratio == "adaptive" and not media:
        raise Invalid("invalid params, a text-only request needs a ratio other than adaptive")
    width, height = h3_size(ratio if ratio != "adaptive" else "16:9", resolution)
    return Checked("MiniMax-H3", prompt, width, height, duration)


def h3_size(ratio: str, resolution: str) -> tuple[int, int]:
    """The frame an H3 ``ratio`` at ``resolution`` makes: the short side is the tier."""
    short = H3_RESOLUTIONS[resolution]
    a, b = H3_RATIOS[ratio]
    if a >= b:
        return _even(short * a / b), short
    return short, _even(short * b / a)


def _even(value: float) -> int:
    return int(round(value / 2) * 2)


def _content(content: list[Any]) -> tuple[str, dict[str, int]]:
    prompt = ""
    counts = dict.fromkeys(
        ("first_frame", "last_frame", "reference_image", "reference_video", "reference_audio"), 0
    )
    kinds = {
        "image_url": ("first_frame", "last_frame", "reference_image"),
        "video_url": ("reference_video",),
        "audio_url": ("reference_audio",),
    }
    for item in content:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text" and isinstance(item.get("text"), str):
            prompt = _prompt(item["text"])
            continue
        if kind not in kinds or not isinstance(item, dict):
            raise Invalid(f"invalid params, content item type {kind!r} is not supported")
        role = item.get("role")
        if role not in kinds[kind]:
            raise Invalid(f"invalid params, role {role!r} is not valid for {kind}")
        value = item.get(kind)
        url = value.get("url") if isinstance(value, dict) else None
        if kind == "image_url":
            image(url, f"content.{role}")
        elif not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise Invalid(f"invalid params, {kind}.url must be a URL")
        counts[role] += 1
    return prompt, counts


def _prompt(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid("invalid params, prompt must be a string")
    if len(value) > PROMPT_LIMIT:
        raise Invalid(f"invalid params, prompt exceeds {PROMPT_LIMIT} characters")
    return value


def image(value: Any, field: str) -> None:
    """An image is an http(s) URL or a ``data:image/(jpeg|png);base64,`` URL."""
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return
    match = _DATA_URL.match(value) if isinstance(value, str) else None
    if match is None:
        raise Invalid(f"invalid params, {field} must be a URL or a JPG/PNG data URL")
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"invalid params, {field} is not valid base64") from None
    if not data or len(data) > 20 * 1024 * 1024:
        raise Invalid(f"invalid params, {field} must be 1 byte to 20 MB")
