"""Request validation of the DashScope simulator, per endpoint and model, as the API does it.

Written from the DashScope video-synthesis docs and the ``dashscope`` SDK, independently of
the provider's spec and adapter. Failures raise :class:`Invalid`, which the simulator turns
into DashScope's ``{"request_id", "code", "message"}`` body with HTTP 400.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

SIZES = {
    "480P": ("832*480", "480*832", "624*624"),
    "720P": ("1280*720", "720*1280", "960*960", "1088*832", "832*1088"),
    "1080P": ("1920*1080", "1080*1920", "1440*1440", "1632*1248", "1248*1632"),
}
SR = {"480P": 480, "720P": 720, "1080P": 1080}
MAX_SEED = 2_147_483_647
MAX_NEGATIVE_PROMPT = 500
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/webp", "image/bmp")


class Invalid(Exception):
    """A 400 ``InvalidParameter`` (or another ``code``)."""

    def __init__(self, message: str, code: str = "InvalidParameter") -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Model:
    """What one model takes."""

    endpoint: str
    """``video-generation`` or ``image2video`` (first/last-frame models)."""
    kind: str
    """``t2v`` (``size``), ``i2v`` (``img_url`` + ``resolution``), ``kf2v`` (frames)."""
    tiers: tuple[str, ...]
    default_tier: str
    durations: tuple[int, ...]
    prompt_max: int
    audio: bool = False
    usage_v2: bool = False
    """Reports ``usage.video_duration`` and ``SR`` (2.5+); older ones ``usage.duration``."""

    @property
    def sizes(self) -> tuple[str, ...]:
        return tuple(s for tier in self.tiers for s in SIZES[tier])


_ALL = ("480P", "720P", "1080P")
_V26 = tuple(range(2, 16))
MODELS: dict[str, Model] = {
    "wan2.1-t2v-turbo": Model("video-generation", "t2v", ("480P", "720P"), "720P", (5,), 800),
    "wan2.1-t2v-plus": Model("video-generation", "t2v", ("720P",), "720P", (5,), 800),
    "wan2.2-t2v-plus": Model("video-generation", "t2v", ("480P", "1080P"), "1080P", (5,), 800),
    "wan2.5-t2v-preview": Model(
        "video-generation", "t2v", _ALL, "1080P", (5, 10), 1500, audio=True, usage_v2=True
    ),
    "wan2.6-t2v": Model(
        "video-generation", "t2v", ("720P", "1080P"), "1080P", _V26, 1500, True, True
    ),
    "wan2.2-i2v-flash": Model("video-generation", "i2v", _ALL, "720P", (5,), 800),
    "wan2.2-i2v-plus": Model("video-generation", "i2v", ("480P", "1080P"), "1080P", (5,), 800),
    "wan2.5-i2v-preview": Model(
        "video-generation", "i2v", _ALL, "1080P", (5, 10), 1500, audio=True, usage_v2=True
    ),
    "wan2.6-i2v": Model(
        "video-generation", "i2v", ("720P", "1080P"), "1080P", _V26, 1500, True, True
    ),
    "wan2.1-kf2v-plus": Model("image2video", "kf2v", ("720P",), "720P", (5,), 800),
    "wan2.2-kf2v-flash": Model("image2video", "kf2v", _ALL, "720P", (5,), 800),
}


@dataclass
class Checked:
    """A validated create body, reduced to what the simulated task needs."""

    name: str
    model: Model
    prompt: str
    width: int
    height: int
    seconds: int
    tier: str
    audio: bool
    prompt_extend: bool
    images: dict[str, str] = field(default_factory=dict)


def check(body: Any, endpoint: str) -> Checked:
    """Validate a create body posted to ``endpoint``."""
    if not isinstance(body, dict):
        raise Invalid("The request body is not valid JSON.")
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise Invalid("Field required: model")
    model = MODELS.get(name)
    if model is None or model.endpoint != endpoint:
        raise Invalid("Model not exist.")
    data = body.get("input")
    params = body.get("parameters") or {}
    if not isinstance(data, dict):
        raise Invalid("Field required: input")
    if not isinstance(params, dict):
        raise Invalid("parameters must be an object")
    prompt = _prompt(data, model)
    images = _images(data, model)
    seconds = _choice(params, "duration", model.durations, 5)
    tier, width, height = _frame(params, model, images)
    _seed(params.get("seed"))
    for key in ("prompt_extend", "watermark", "audio"):
        if key in params and not isinstance(params[key], bool):
            raise Invalid(f"parameters.{key} must be a boolean")
    audio_url = data.get("audio_url")
    if audio_url is not None and (not model.audio or not _is_url(audio_url)):
        raise Invalid("input.audio_url is not supported by this model or is not a valid URL")
    return Checked(
        name=name,
        model=model,
        prompt=prompt,
        width=width,
        height=height,
        seconds=seconds,
        tier=tier,
        audio=model.audio and params.get("audio", True) is not False,
        prompt_extend=params.get("prompt_extend", True) is not False,
        images=images,
    )


def _prompt(data: dict[str, Any], model: Model) -> str:
    prompt = data.get("prompt")
    if prompt is None and model.kind != "t2v":
        return ""
    if not isinstance(prompt, str) or not prompt:
        raise Invalid("Field required: input.prompt")
    if len(prompt) > model.prompt_max:
        raise Invalid(f"input.prompt exceeds the maximum length of {model.prompt_max}")
    negative = data.get("negative_prompt")
    if negative is not None and (
        not isinstance(negative, str) or len(negative) > MAX_NEGATIVE_PROMPT
    ):
        raise Invalid(f"input.negative_prompt exceeds the maximum length of {MAX_NEGATIVE_PROMPT}")
    return prompt


def _images(data: dict[str, Any], model: Model) -> dict[str, str]:
    keys = {"t2v": (), "i2v": ("img_url",), "kf2v": ("first_frame_url", "last_frame_url")}
    found: dict[str, str] = {}
    for key in keys[model.kind]:
        value = data.get(key)
        if value is None:
            if key != "last_frame_url":
                raise Invalid(f"Field required: input.{key}")
            continue
        image_ref(value, f"input.{key}")
        found[key] = value
    return found


def _choice(params: dict[str, Any], key: str, allowed: tuple[int, ...], default: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        listed = ", ".join(str(v) for v in allowed)
        raise Invalid(f"parameters.{key} {value!r} is invalid; allowed: {listed}")
    return value


def _frame(params: dict[str, Any], model: Model, images: dict[str, str]) -> tuple[str, int, int]:
    if model.kind == "t2v":
        size = params.get("size", SIZES[model.default_tier][0])
        if size not in model.sizes:
            raise Invalid(f"parameters.size {size!r} is invalid; allowed: {', '.join(model.sizes)}")
        width, height = (int(v) for v in str(size).split("*"))
        tier = next(t for t in model.tiers if size in SIZES[t])
        return tier, width, height
    tier = params.get("resolution", model.default_tier)
    if tier not in model.tiers:
        raise Invalid(
            f"parameters.resolution {tier!r} is invalid; allowed: {', '.join(model.tiers)}"
        )
    image = images.get("img_url") or images.get("first_frame_url") or ""
    width, height = _closest(SIZES[tier], _aspect(image))
    return tier, width, height


def _seed(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise Invalid(f"parameters.seed must be an integer from 0 to {MAX_SEED}")


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def image_ref(value: Any, path: str) -> None:
    """An http(s) URL, or a ``data:image/...;base64,...`` URI of at most 10 MB."""
    if _is_url(value):
        return
    if not isinstance(value, str) or not value.startswith("data:"):
        raise Invalid(f"{path} must be a public http(s) URL or a base64 data URI")
    _decode(value, path)


def _decode(value: str, path: str) -> bytes:
    header, comma, payload = value.partition(",")
    ctype = header[5:].split(";")[0].lower()
    if not comma or not header.endswith(";base64") or ctype not in IMAGE_TYPES:
        raise Invalid(f"{path} is not a valid base64 image data URI")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"{path} is not valid base64") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise Invalid(f"{path} is larger than 10MB")
    return data


def _aspect(image: str) -> float:
    """The width/height ratio of a data-URI image (the API fetches URLs; we assume 16:9)."""
    if not image.startswith("data:"):
        return 16 / 9
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(_decode(image, "image"))) as opened:
            width, height = opened.size
    except (UnidentifiedImageError, OSError):
        raise Invalid("The image could not be decoded.") from None
    return width / max(height, 1)


def _closest(sizes: tuple[str, ...], aspect: float) -> tuple[int, int]:
    def distance(size: str) -> float:
        width, height = (int(v) for v in size.split("*"))
        return abs(math.log(width / height) - math.log(aspect))

    width, height = (int(v) for v in min(sizes, key=distance).split("*"))
    return width, height
