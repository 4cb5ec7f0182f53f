"""What the Vidu simulator accepts: models per endpoint and their documented limits.

Written from the Vidu docs independently of ``spec.py`` and ``adapter.py`` (shared constants
would hide shared mistakes). ``check`` raises ``Invalid`` with Vidu's string error codes.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass
from typing import Any

from PIL import Image

ALL_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
OLD_RATIOS = ("16:9", "9:16", "1:1")
AMPLITUDES = ("auto", "small", "medium", "large")
SHORT_SIDE = {"360p": 360, "540p": 540, "720p": 720, "1080p": 1080}
_DATA_URI = re.compile(r"data:image/(png|jpeg|jpg|webp);base64,(.*)", re.S)


@dataclass(frozen=True)
class Model:
    durations: tuple[int, ...]
    default_duration: int
    resolutions: tuple[str, ...]
    default_resolution: str
    ratios: tuple[str, ...]
    prompt_max: int
    credits_per_second: float
    max_references: int = 0
    audio_default: bool | None = None
    """``None``: the model has no ``audio`` switch."""


def _q3(rate: float) -> Model:
    return Model(tuple(range(1, 17)), 5, ("540p", "720p", "1080p"), "720p", ALL_RATIOS, 5000,
                 rate, audio_default=True)  # fmt: skip


_Q2 = Model(tuple(range(1, 11)), 5, ("540p", "720p", "1080p"), "720p", ALL_RATIOS, 1500, 2.0, 7)
_Q2_FRAMES = Model(
    tuple(range(1, 11)), 5, ("540p", "720p", "1080p"), "720p", ALL_RATIOS, 1500, 2.0,
    audio_default=False,
)  # fmt: skip
_Q1 = Model((5,), 5, ("1080p",), "1080p", OLD_RATIOS, 1500, 1.6, 7)
_OLD = Model((4, 8), 4, ("360p", "720p", "1080p"), "360p", OLD_RATIOS, 1500, 1.0, 3)

MODELS: dict[str, Model] = {
    "viduq3-pro": _q3(3.2),
    "viduq3-turbo": _q3(3.2),
    "viduq2": _Q2,
    "viduq2-pro": _Q2_FRAMES,
    "viduq2-turbo": _Q2_FRAMES,
    "viduq1": _Q1,
    "vidu2.0": _OLD,
    "vidu1.5": _OLD,
}
ENDPOINTS: dict[str, frozenset[str]] = {
    "text2video": frozenset({"viduq3-pro", "viduq3-turbo", "viduq2", "viduq1", "vidu1.5"}),
    "img2video": frozenset(MODELS) - {"viduq2"},
    "start-end2video": frozenset(MODELS) - {"viduq2"},
    "reference2video": frozenset({"viduq2", "viduq1", "vidu2.0", "vidu1.5"}),
}
AUDIO = {
    "text2video": frozenset({"viduq3-pro", "viduq3-turbo"}),
    "img2video": frozenset({"viduq3-pro", "viduq3-turbo", "viduq2-pro", "viduq2-turbo"}),
    "start-end2video": frozenset({"viduq3-pro", "viduq3-turbo"}),
    "reference2video": frozenset(),
}


class Invalid(Exception):
    """A request Vidu refuses: HTTP status, string code and message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Checked:
    """A valid create request, with every default filled as Vidu fills it."""

    endpoint: str
    model: str
    prompt: str
    duration: int
    resolution: str
    aspect_ratio: str
    seed: int
    movement_amplitude: str
    bgm: bool
    audio: bool | None
    off_peak: bool
    watermark: bool
    payload: str
    images: list[str]
    width: int
    height: int
    credits: int


def check(endpoint: str, body: Any) -> Checked:
    if not isinstance(body, dict):
        raise Invalid("BadRequest", "request body must be a JSON object")
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise Invalid("FieldLacking", "field model is required")
    if name not in MODELS or name not in ENDPOINTS[endpoint]:
        raise Invalid("ModelUnavailable", f"model {name} is not available for {endpoint}")
    model = MODELS[name]
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        raise Invalid("FieldInvalid", "field prompt must be a string")
    if endpoint in ("text2video", "reference2video") and not prompt:
        raise Invalid("FieldLacking", "field prompt is required")
    if len(prompt) > model.prompt_max:
        raise Invalid("FieldInvalid", f"prompt exceeds {model.prompt_max} characters")
    duration = _int(body, "duration", model.default_duration)
    if duration not in model.durations:
        raise Invalid("FieldInvalid", f"duration {duration} is not supported by model {name}")
    if endpoint == "start-end2video" and name.startswith("viduq2") and duration > 8:
        raise Invalid("FieldInvalid", f"duration {duration} is not supported by {endpoint}")
    resolution = _str(body, "resolution", model.default_resolution)
    if duration == 8 and name in ("vidu2.0", "vidu1.5"):
        resolution = _str(body, "resolution", "720p")
        if resolution != "720p":
            raise Invalid("FieldInvalid", f"resolution {resolution} is not supported for 8s")
    if resolution not in model.resolutions:
        raise Invalid("FieldInvalid", f"resolution {resolution} is not supported by model {name}")
    takes_ratio = endpoint in ("text2video", "reference2video")
    if not takes_ratio and "aspect_ratio" in body:
        raise Invalid("FieldUnwanted", f"field aspect_ratio is not supported by {endpoint}")
    ratio = _str(body, "aspect_ratio", "16:9")
    if ratio not in model.ratios:
        raise Invalid("FieldInvalid", f"aspect_ratio {ratio} is not supported by model {name}")
    amplitude = _str(body, "movement_amplitude", "auto")
    if amplitude not in AMPLITUDES:
        raise Invalid("FieldInvalid", f"movement_amplitude {amplitude} is invalid")
    seed = _int(body, "seed", 0)
    if not 0 <= seed <= 2_147_483_647:
        raise Invalid("FieldInvalid", "seed must be between 0 and 2147483647")
    audio: bool | None = None
    if "audio" in body:
        if name not in AUDIO[endpoint]:
            raise Invalid("FieldUnwanted", f"field audio is not supported by model {name}")
        audio = _bool(body, "audio")
    elif name in AUDIO[endpoint]:
        audio = model.audio_default
    payload = _str(body, "payload", "")
    if len(payload) > 1_048_576:
        raise Invalid("FieldInvalid", "payload exceeds 1048576 characters")
    images = _images(endpoint, body.get("images"), model)
    width, height = _frame(endpoint, ratio, resolution, images, model)
    off_peak = _bool(body, "off_peak")
    rate = model.credits_per_second / (2 if off_peak else 1)
    return Checked(
        endpoint=endpoint,
        model=name,
        prompt=prompt,
        duration=duration,
        resolution=resolution,
        aspect_ratio=ratio,
        seed=seed,
        movement_amplitude=amplitude,
        bgm=_bool(body, "bgm"),
        audio=audio,
        off_peak=off_peak,
        watermark=_bool(body, "watermark"),
        payload=payload,
        images=images,
        width=width,
        height=height,
        credits=max(1, round(rate * duration)),
    )


def _images(endpoint: str, value: Any, model: Model) -> list[str]:
    if endpoint == "text2video":
        if value is not None:
            raise Invalid("FieldUnwanted", "field images is not supported by text2video")
        return []
    if value is None:
        raise Invalid("FieldLacking", "field images is required")
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Invalid("FieldInvalid", "field images must be an array of strings")
    low, high = {"img2video": (1, 1), "start-end2video": (2, 2)}.get(
        endpoint, (1, model.max_references)
    )
    if not low <= len(value) <= high:
        raise Invalid(
            "FieldItemCountOutOfRange",
            f"images must contain {low}" + (f" to {high}" if high != low else "") + " items",
        )
    for item in value:
        if not item.startswith(("https://", "http://", "data:")):
            raise Invalid("ImageFormatInvalid", "image must be a URL or a base64 data URI")
        if item.startswith("data:"):
            _decode(item)
    return list(value)


def _decode(uri: str) -> Image.Image:
    match = _DATA_URI.fullmatch(uri)
    if match is None:
        raise Invalid(
            "ImageFormatInvalid", "image must be png, jpeg or webp: data:image/png;base64,..."
        )
    try:
        image = Image.open(io.BytesIO(base64.b64decode(match.group(2), validate=True)))
        image.load()
    except (binascii.Error, ValueError, OSError):
        raise Invalid("ImageFormatInvalid", "image could not be decoded") from None
    if max(image.size) > 4 * min(image.size):
        raise Invalid("ImageCheckRatioFailed", "image aspect ratio must be within 1:4")
    return image


def _frame(
    endpoint: str, ratio: str, resolution: str, images: list[str], model: Model
) -> tuple[int, int]:
    """The output size: ``aspect_ratio`` for text and reference, else the first image's."""
    if endpoint in ("img2video", "start-end2video") and images[0].startswith("data:"):
        width, height = _decode(images[0]).size
        ratio = min(model.ratios, key=lambda r: abs(_value(r) - width / height))
    elif endpoint in ("img2video", "start-end2video"):
        ratio = "16:9"  # a URL the simulator does not fetch stands for a landscape image
    a, b = (int(v) for v in ratio.split(":"))
    short = SHORT_SIDE[resolution]
    long = round(short * max(a, b) / min(a, b) / 2) * 2
    return (long, short) if a >= b else (short, long)


def _value(ratio: str) -> float:
    a, b = (int(v) for v in ratio.split(":"))
    return a / b


def _int(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("FieldInvalid", f"field {key} must be an integer")
    return value


def _str(body: dict[str, Any], key: str, default: str) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise Invalid("FieldInvalid", f"field {key} must be a string")
    return value


def _bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise Invalid("FieldInvalid", f"field {key} must be a boolean")
    return value
