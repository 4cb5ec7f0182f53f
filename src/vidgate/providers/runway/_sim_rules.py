"""Request validation of the Runway simulator: per endpoint and model, as Runway's API does it.

Written from the SDK's request types and Runway's API reference, independently of the
provider's spec and adapter. Failures raise :class:`Invalid` with zod-style ``issues`` like
the real ``{"error": "Validation of body failed", "issues": [...]}`` answer.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

GEN4_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
TARGET_ASPECT_RATIOS = ("16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "21:9")
MAX_PROMPT_UNITS = 1000
MAX_SEED = 4_294_967_295
MAX_IMAGE_DATA_URI = 5 * 1024 * 1024
MAX_VIDEO_DATA_URI = 16 * 1024 * 1024
MAX_VIDEO_SECONDS = 30
MAX_URL_CHARS = 2048
DOC_URL = "https://docs.dev.runwayml.com/api"


class Invalid(Exception):
    """A 400 with Runway's validation body."""

    def __init__(self, issues: list[dict[str, Any]], error: str = "Validation of body failed"):
        super().__init__(error)
        self.error, self.issues = error, issues

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "issues": self.issues, "docUrl": DOC_URL}


def issue(path: str, message: str, code: str = "custom", **extra: Any) -> Invalid:
    return Invalid(
        [{"code": code, **extra, "path": path.split(".") if path else [], "message": message}]
    )


@dataclass(frozen=True)
class Model:
    """What one model takes on one endpoint."""

    ratios: tuple[str, ...]
    durations: tuple[int, ...]
    default_duration: int | None
    required: frozenset[str]
    optional: frozenset[str]
    positions: tuple[str, ...] = ("first",)
    credits_per_second: float = 0.0
    audio_credits_per_second: float | None = None


_GEN4 = frozenset({"promptText", "seed", "contentModeration", "duration"})
_VEO = frozenset({"promptText", "seed", "negativePrompt", "duration"})
_VEO31 = _VEO | {"audio"}
_I2V = frozenset({"model", "promptImage", "ratio"})
_T2V = frozenset({"model", "promptText", "ratio"})

IMAGE_TO_VIDEO: dict[str, Model] = {
    "gen4_turbo": Model(GEN4_RATIOS, tuple(range(2, 11)), 10, _I2V, _GEN4, credits_per_second=5),
    "gen4.5": Model(
        GEN4_RATIOS,
        tuple(range(2, 11)),
        None,
        _I2V | {"duration", "promptText"},
        _GEN4,
        credits_per_second=12,
    ),
    "veo3": Model(VEO_RATIOS, (8,), None, _I2V | {"duration"}, _VEO, credits_per_second=40),
    "veo3.1": Model(VEO_RATIOS, (4, 6, 8), 8, _I2V, _VEO31, ("first", "last"), 20, 40),
    "veo3.1_fast": Model(VEO_RATIOS, (4, 6, 8), 8, _I2V, _VEO31, ("first", "last"), 10, 15),
}
TEXT_TO_VIDEO: dict[str, Model] = {
    "gen4.5": Model(
        ("1280:720", "720:1280"),
        tuple(range(2, 11)),
        None,
        _T2V | {"duration"},
        _GEN4,
        credits_per_second=12,
    ),
    "veo3": Model(VEO_RATIOS, (8,), None, _T2V | {"duration"}, _VEO, credits_per_second=40),
    "veo3.1": Model(
        VEO_RATIOS, (4, 6, 8), 8, _T2V, _VEO31, credits_per_second=20, audio_credits_per_second=40
    ),
    "veo3.1_fast": Model(
        VEO_RATIOS, (4, 6, 8), 8, _T2V, _VEO31, credits_per_second=10, audio_credits_per_second=15
    ),
}
VIDEO_TO_VIDEO: dict[str, Model] = {
    "aleph2": Model(
        (),
        (),
        None,
        frozenset({"model", "videoUri"}),
        frozenset(
            {"promptText", "seed", "contentModeration", "ratio", "keyframes", "targetAspectRatio"}
        ),
        credits_per_second=15,
    ),
}


@dataclass
class Checked:
    """A validated create body, reduced to what the simulated task needs."""

    model: Model
    name: str
    width: int = 1280
    height: int = 720
    seconds: int = 5
    audio: bool = False
    prompt: str = ""
    video_uri: str | None = None
    images: list[str] = field(default_factory=list)


def check(body: Any, table: dict[str, Model]) -> Checked:
    """Validate a create body against ``table`` (one endpoint's models)."""
    if not isinstance(body, dict):
        raise issue("", "Invalid input: expected object", "invalid_type", expected="object")
    name = body.get("model")
    model = table.get(name) if isinstance(name, str) else None
    if model is None:
        raise issue(
            "model",
            "Invalid input",
            "invalid_union",
            note="No matching discriminator",
            discriminator="model",
        )
    for key in model.required:
        if body.get(key) is None:
            raise issue(key, "Invalid input: expected a value, received undefined", "invalid_type")
    unknown = sorted(set(body) - model.required - model.optional)
    if unknown:
        raise Invalid(
            [
                {
                    "code": "unrecognized_keys",
                    "keys": unknown,
                    "path": [],
                    "message": f"Unrecognized key(s) in object: {', '.join(unknown)}",
                }
            ]
        )
    out = Checked(model, str(name))
    out.prompt = _prompt(body.get("promptText"))
    _seed(body.get("seed"))
    _moderation(body.get("contentModeration"))
    if model.ratios:
        out.width, out.height = _ratio(body["ratio"], model.ratios)
        out.seconds = _duration(body.get("duration"), model)
    if "negativePrompt" in body and not isinstance(body["negativePrompt"], str):
        raise issue("negativePrompt", "Invalid input: expected string", "invalid_type")
    if "audio" in body and not isinstance(body["audio"], bool):
        raise issue("audio", "Invalid input: expected boolean", "invalid_type")
    out.audio = bool(body.get("audio", True)) if "audio" in model.optional else False
    if "promptImage" in body:
        out.images = _prompt_images(body["promptImage"], model.positions)
    if "targetAspectRatio" in body and body["targetAspectRatio"] not in TARGET_ASPECT_RATIOS:
        raise _enum("targetAspectRatio", TARGET_ASPECT_RATIOS)
    return out


def _enum(path: str, values: tuple[Any, ...]) -> Invalid:
    listed = "|".join(f"'{v}'" if isinstance(v, str) else str(v) for v in values)
    return issue(
        path, f"Invalid option: expected one of {listed}", "invalid_value", values=list(values)
    )


def _prompt(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not value:
        raise issue("promptText", "Invalid input: expected a non-empty string", "invalid_type")
    units = len(value.encode("utf-16-le")) // 2
    if units > MAX_PROMPT_UNITS:
        raise issue(
            "promptText",
            f"Too big: expected string to have <={MAX_PROMPT_UNITS} characters",
            "too_big",
            maximum=MAX_PROMPT_UNITS,
        )
    return value


def _seed(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise issue("seed", "Invalid input: expected int", "invalid_type")
    if not 0 <= value <= MAX_SEED:
        raise issue(
            "seed",
            f"Too big: expected number to be <={MAX_SEED}",
            "too_big" if value > 0 else "too_small",
        )


def _moderation(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or set(value) - {"publicFigureThreshold"}:
        raise issue("contentModeration", "Invalid input", "invalid_type")
    threshold = value.get("publicFigureThreshold")
    if threshold is not None and threshold not in ("auto", "low"):
        raise _enum("contentModeration.publicFigureThreshold", ("auto", "low"))


def _ratio(value: Any, allowed: tuple[str, ...]) -> tuple[int, int]:
    if value not in allowed:
        raise _enum("ratio", allowed)
    width, height = str(value).split(":")
    return int(width), int(height)


def _duration(value: Any, model: Model) -> int:
    if value is None:
        if model.default_duration is None:
            raise issue(
                "duration", "Invalid input: expected int, received undefined", "invalid_type"
            )
        return model.default_duration
    if isinstance(value, bool) or not isinstance(value, int):
        raise issue("duration", "Invalid input: expected int", "invalid_type")
    if value not in model.durations:
        if len(model.durations) > 3:
            low, high = model.durations[0], model.durations[-1]
            code = "too_small" if value < low else "too_big"
            raise issue("duration", f"Duration must be from {low} to {high}", code)
        raise _enum("duration", model.durations)
    return value


def _prompt_images(value: Any, positions: tuple[str, ...]) -> list[str]:
    if isinstance(value, str):
        image_uri(value, "promptImage")
        return [value]
    if not isinstance(value, list) or not value:
        raise issue("promptImage", "Invalid input: expected string or array", "invalid_type")
    seen: list[str] = []
    for index, item in enumerate(value):
        path = f"promptImage.{index}"
        if not isinstance(item, dict) or set(item) != {"uri", "position"}:
            raise issue(path, "Invalid input: expected {uri, position}", "invalid_type")
        if item["position"] not in positions or item["position"] in seen:
            raise _enum(f"{path}.position", positions)
        image_uri(item["uri"], f"{path}.uri")
        seen.append(item["position"])
    if "first" not in seen:
        raise issue("promptImage", "This model does not support generating with only a last frame.")
    return [str(item["uri"]) for item in value]


def data_uri(value: str, path: str, kind: str, limit: int) -> tuple[str, bytes]:
    """The media type and bytes of a ``data:`` URI, checked against Runway's limits."""
    header, comma, payload = value.partition(",")
    ctype = header[5:].split(";")[0]
    if not comma or not header.endswith(";base64"):
        raise issue(path, "Invalid data URI.")
    if not ctype.startswith(f"{kind}/"):
        raise issue(
            path,
            "Unsupported asset type. Data URIs must include the content type "
            f"of the {kind} they encode.",
        )
    if len(payload) * 3 // 4 > limit + 2:
        raise issue(
            path,
            f"Data URIs must be at most {limit // (1024 * 1024)}MB; upload larger "
            "files with /v1/uploads.",
            "too_big",
            maximum=limit,
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise issue(path, "Invalid data URI.") from None
    if len(data) > limit:
        raise issue(
            path, f"Data URIs must be at most {limit // (1024 * 1024)}MB.", "too_big", maximum=limit
        )
    return ctype, data


def https_url(value: str, path: str) -> None:
    """Runway fetches https URLs on a domain name, at most 2048 characters."""
    if len(value) > MAX_URL_CHARS:
        raise issue(path, "URLs must be at most 2048 characters.", "too_big")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise issue(path, "Only HTTPS URLs are allowed.")
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    raise issue(path, "URLs must be hosted on a domain.")


def image_uri(value: Any, path: str) -> None:
    if not isinstance(value, str) or not value:
        raise issue(path, "Invalid input: expected string", "invalid_type")
    if value.startswith("data:"):
        data_uri(value, path, "image", MAX_IMAGE_DATA_URI)
    elif not value.startswith("runway://"):
        https_url(value, path)
