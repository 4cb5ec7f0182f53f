"""Request validation and auth of the Kling simulator, as Kling's API documents them.

Written from Kling's API reference, independently of the provider's spec and adapter.
Failures raise :class:`KlingError`, which becomes ``{"code", "message", "request_id"}``
with the HTTP status Kling uses for that code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

HTTP_STATUS = {
    1000: 401, 1001: 401, 1002: 401, 1003: 401, 1004: 401,
    1100: 429, 1101: 429, 1102: 429, 1103: 403,
    1200: 400, 1201: 400, 1202: 404, 1203: 404,
    1300: 400, 1301: 400, 1302: 429, 1303: 429, 1304: 429,
    5000: 500, 5001: 503, 5002: 504,
}  # fmt: skip
MODELS = (
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
    "kling-v3",
)
NO_CFG = ("kling-v2", "kling-v3")  # model-name prefixes without cfg_scale
SOUND_MODELS = ("kling-v2-6", "kling-v3")
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
SHORT_SIDE = {"std": 720, "pro": 1080}
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
MAX_TEXT = 2500
MAX_IMAGE_BYTES = 10 * 1024 * 1024


class KlingError(Exception):
    """An error answer: Kling's ``code`` (its HTTP status follows from it) and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    @property
    def status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)


def invalid(message: str) -> KlingError:
    return KlingError(1201, message)


# --- auth ----------------------------------------------------------------------------


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_jwt(authorization: str | None, keys: dict[str, str] | None, now: float) -> str:
    """The access key of a valid ``Bearer <jwt>``; ``keys`` maps access → secret key
    (``None``: any access key, signature unchecked)."""
    if not authorization:
        raise KlingError(1001, "Authorization is empty")
    scheme, _, token = authorization.partition(" ")
    parts = token.split(".")
    if scheme != "Bearer" or len(parts) != 3:
        raise KlingError(1002, "Authorization is invalid")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, binascii.Error):
        raise KlingError(1002, "Authorization is invalid") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise KlingError(1002, "Authorization is invalid")
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or (keys is not None and issuer not in keys):
        raise KlingError(1000, "Authentication failed: unknown access key")
    if keys is not None:
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        expected = hmac.new(keys[issuer].encode(), signing_input, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            raise KlingError(1000, "Authentication failed: signature mismatch")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
        raise KlingError(1002, "Authorization is invalid: exp and nbf are required")
    if nbf > now:
        raise KlingError(1003, "Authorization is not active yet")
    if exp <= now:
        raise KlingError(1004, "Authorization is expired")
    return issuer


# --- create bodies -------------------------------------------------------------------


@dataclass
class Checked:
    """A validated create body, reduced to what the simulated task needs."""

    model: str
    mode: str
    seconds: int
    width: int
    height: int
    prompt: str
    sound: bool
    external_task_id: str | None


def check_create(body: Any, family: str, now: float | None = None) -> Checked:
    if not isinstance(body, dict):
        raise KlingError(1200, "Invalid request parameters: body must be a JSON object")
    model = body.get("model_name") or "kling-v1"  # only `model` behaves like empty model_name
    if model not in MODELS:
        raise KlingError(1203, f"model_name {model} is not found")
    prompt = _text(body, "prompt", required=family == "text2video")
    _text(body, "negative_prompt", required=False)
    mode = body.get("mode", "std")
    if mode not in SHORT_SIDE:
        raise invalid("mode must be one of std, pro")
    seconds = _duration(body.get("duration", "5"), model)
    _cfg(body, model)
    _sound(body, model)
    _external(body)
    aspect = body.get("aspect_ratio", "16:9")
    if aspect not in ASPECTS:
        raise invalid("aspect_ratio must be one of 16:9, 9:16, 1:1")
    ratio = ASPECTS[aspect][0] / ASPECTS[aspect][1]
    if family == "image2video":
        ratio = _images(body) or ratio
    elif "image" in body or "image_tail" in body:
        raise invalid("image is not supported by text2video")
    _camera(body)
    width, height = frame(SHORT_SIDE[mode], ratio)
    return Checked(
        model,
        mode,
        seconds,
        width,
        height,
        prompt,
        body.get("sound") == "on",
        body.get("external_task_id"),
    )


def frame(short: int, ratio: float) -> tuple[int, int]:
    """The output frame: ``short`` px on the short side, the long side at ``ratio``."""
    long = round(short * max(ratio, 1 / ratio) / 2) * 2
    return (long, short) if ratio >= 1 else (short, long)


def _text(body: dict[str, Any], name: str, *, required: bool) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise invalid(f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string")
    if len(value) > MAX_TEXT:
        raise invalid(f"{name} must be at most {MAX_TEXT} characters")
    return value


def _duration(value: Any, model: str) -> int:
    allowed = [str(s) for s in range(3, 16)] if model == "kling-v3" else ["5", "10"]
    if not isinstance(value, str):
        raise invalid("duration must be a string")
    if value not in allowed:
        raise invalid(f"duration must be one of {', '.join(allowed)}")
    return int(value)


def _cfg(body: dict[str, Any], model: str) -> None:
    if "cfg_scale" not in body:
        return
    if model.startswith(NO_CFG):
        raise invalid(f"cfg_scale is not supported by {model}")
    value = body["cfg_scale"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise invalid("cfg_scale must be a number in [0, 1]")


def _sound(body: dict[str, Any], model: str) -> None:
    if "sound" not in body:
        return
    if model not in SOUND_MODELS:
        raise invalid(f"sound is not supported by {model}")
    if body["sound"] not in ("on", "off"):
        raise invalid("sound must be one of on, off")


def _external(body: dict[str, Any]) -> None:
    value = body.get("external_task_id")
    if value is not None and (not isinstance(value, str) or not value):
        raise invalid("external_task_id must be a non-empty string")


def _camera(body: dict[str, Any]) -> None:
    value = body.get("camera_control")
    if value is None:
        return
    if not isinstance(value, dict) or value.get("type") not in CAMERA_TYPES:
        raise invalid(f"camera_control.type must be one of {', '.join(CAMERA_TYPES)}")
    if body.get("image_tail"):
        raise invalid("camera_control cannot be used with image_tail")
    config = value.get("config")
    if value["type"] != "simple":
        if config is not None:
            raise invalid("camera_control.config must be null unless type is simple")
        return
    if not isinstance(config, dict) or set(config) - set(CAMERA_AXES):
        raise invalid("camera_control.config is invalid")
    numbers = [config.get(axis, 0) for axis in CAMERA_AXES]
    if any(isinstance(n, bool) or not isinstance(n, int | float) for n in numbers):
        raise invalid("camera_control.config values must be numbers")
    if any(not -10 <= n <= 10 for n in numbers) or sum(1 for n in numbers if n) != 1:
        raise invalid("camera_control.config must have exactly one non-zero value in [-10, 10]")


def _images(body: dict[str, Any]) -> float | None:
    """Check ``image`` / ``image_tail``; the first image's aspect ratio, if decodable."""
    if not body.get("image"):
        raise invalid("image is required")
    ratio = _image(body["image"], "image")
    if body.get("image_tail"):
        _image(body["image_tail"], "image_tail")
    return ratio


def _image(value: Any, name: str) -> float | None:
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string")
    if value.startswith(("http://", "https://")):
        return None  # the simulator does not fetch URLs
    if value.startswith("data:"):
        raise invalid(f"{name} must be raw base64 without a data: prefix")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{name} is not valid base64") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise invalid(f"{name} must be at most 10MB")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Exception:
        raise invalid(f"{name} is not a supported image") from None
    if min(width, height) < 300:
        raise invalid(f"{name} must be at least 300px on each side")
    ratio = width / height
    if not 1 / 2.5 <= ratio <= 2.5:
        raise invalid(f"{name} aspect ratio must be between 1:2.5 and 2.5:1")
    return ratio


def units(model: str, mode: str, seconds: int, sound: bool) -> float:
    """What a finished task deducts, in units."""
    if model == "kling-v3":
        rate = {"std": 0.9 if sound else 0.6, "pro": 1.2 if sound else 0.8}[mode]
        return round(rate * seconds, 2)
    if model in ("kling-v2-master", "kling-v2-1-master"):
        return 2.0 * seconds
    per_five = 2.0 if mode == "std" else 3.5
    return round(per_five * seconds / 5, 2)


def now_ms() -> int:
    return int(time.time() * 1000)
