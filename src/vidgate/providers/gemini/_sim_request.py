"""Request checking for the Gemini Veo simulator: what ``predictLongRunning`` accepts.

An independent reading of the Gemini API's documented rules (it imports nothing from the
provider's spec or adapter): per-model durations and resolutions, the 8-second rule for
1080p, 4k, reference images and extensions, the personGeneration value per mode, and the
Vertex-only fields the Gemini API refuses. Every rejection is a :class:`SimError` that the
simulator answers with Google's error envelope.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class SimModel:
    """What one Veo model takes on the Gemini API."""

    durations: tuple[int, ...]
    resolutions: tuple[str, ...]
    last_frame: bool = False
    reference_images: bool = False
    extension: bool = False
    veo3: bool = True


_VEO31 = SimModel((4, 6, 8), ("720p", "1080p", "4k"), True, True, True)
_VEO31_FAST = SimModel((4, 6, 8), ("720p", "1080p"), True, True, True)
_VEO31_LITE = SimModel((4, 6, 8), ("720p", "1080p"), last_frame=True)
_VEO3 = SimModel((4, 6, 8), ("720p", "1080p"))
MODELS = {
    "veo-3.1-generate-preview": _VEO31,
    "veo-3.1-fast-generate-preview": _VEO31_FAST,
    "veo-3.1-lite-generate-preview": _VEO31_LITE,
    "veo-3.1-lite-generate-001": _VEO31_LITE,
    "veo-3.0-generate-001": _VEO3,
    "veo-3.0-fast-generate-001": _VEO3,
    "veo-2.0-generate-001": SimModel((5, 6, 7, 8), ("720p",), veo3=False),
}
DIMENSIONS = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
EXTENSION_SECONDS = 7
PARAMETERS = frozenset(
    {
        "aspectRatio",
        "durationSeconds",
        "resolution",
        "negativePrompt",
        "personGeneration",
        "sampleCount",
        "enhancePrompt",
    }
)
INSTANCE_FIELDS = frozenset({"prompt", "image", "lastFrame", "video", "referenceImages"})
TOP_LEVEL = frozenset({"instances", "parameters", "webhookConfig"})
PERSON_GENERATION = ("allow_all", "allow_adult", "dont_allow")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


class SimError(Exception):
    """An error answered with ``{"error": {"code", "message", "status", "details"?}}``."""

    def __init__(
        self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid(message: str) -> SimError:
    return SimError(400, "INVALID_ARGUMENT", message)


def unsupported(name: str) -> SimError:
    """The Gemini API's answer to a field it does not take (Vertex-only ones included)."""
    return invalid(
        f"`{name}` isn't supported by this model. Please remove it or refer to the Gemini "
        "API documentation for supported usage."
    )


@dataclass(frozen=True)
class Plan:
    """A request that passed every check: what the job will make."""

    mode: str
    """``text``, ``image`` (first frame, maybe a last frame), ``reference`` or ``extend``."""
    width: int
    height: int
    seconds: int
    samples: int
    source_file: str | None = None


SourceLookup = Callable[[str], tuple[int, int, int]]
"""``uri`` of a video to extend → its ``(width, height, seconds)``; raises SimError."""


def check(model_name: str, body: Any, source_of: SourceLookup) -> Plan:
    """Validate a ``predictLongRunning`` body for ``model_name``; the job's plan."""
    model = MODELS[model_name]
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    for key in body:
        if key not in TOP_LEVEL:
            raise invalid(
                f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            )
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        raise invalid("`instances` must hold exactly one instance.")
    params = body.get("parameters", {})
    if not isinstance(params, dict):
        raise invalid("`parameters` must be an object.")
    instance: dict[str, Any] = instances[0]
    for key in instance:
        if key not in INSTANCE_FIELDS:
            raise unsupported(key)
    for key in params:
        if key not in PARAMETERS:
            raise unsupported(key)
    mode = _mode(model, instance)
    _prompt(instance, mode)
    return _plan(model, mode, instance, params, source_of)


def _mode(model: SimModel, instance: dict[str, Any]) -> str:
    if "video" in instance:
        if not model.extension:
            raise unsupported("video")
        if any(k in instance for k in ("image", "lastFrame", "referenceImages")):
            raise invalid("`video` cannot be combined with `image`, `lastFrame` or references.")
        return "extend"
    if "referenceImages" in instance:
        if not model.reference_images:
            raise unsupported("referenceImages")
        if "image" in instance or "lastFrame" in instance:
            raise invalid("`referenceImages` cannot be combined with `image` or `lastFrame`.")
        _references(instance["referenceImages"])
        return "reference"
    if "lastFrame" in instance:
        if not model.last_frame:
            raise unsupported("lastFrame")
        if "image" not in instance:
            raise invalid("`lastFrame` requires `image` (the first frame).")
        check_image(instance["lastFrame"], "lastFrame")
    if "image" in instance:
        check_image(instance["image"], "image")
        return "image"
    return "text"


def _prompt(instance: dict[str, Any], mode: str) -> None:
    prompt = instance.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise invalid("`prompt` must be a string.")
    if not prompt and mode in ("text", "reference"):
        raise invalid("A `prompt` is required for this request.")


def check_image(value: Any, name: str) -> None:
    """``{bytesBase64Encoded, mimeType}`` holding a real JPEG, PNG or WebP image."""
    if not isinstance(value, dict):
        raise invalid(f"`{name}` must be an object.")
    if "gcsUri" in value:
        raise unsupported(f"{name}.gcsUri")
    data, mime = value.get("bytesBase64Encoded"), value.get("mimeType")
    if not isinstance(data, str) or not data:
        raise invalid(f"`{name}.bytesBase64Encoded` is required.")
    if mime not in IMAGE_TYPES:
        raise invalid(f"`{name}.mimeType` {mime!r} is not supported; use {', '.join(IMAGE_TYPES)}.")
    try:
        raw = base64.b64decode(data, validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            image.verify()
    except (binascii.Error, ValueError, OSError) as exc:
        raise invalid(f"`{name}` is not a valid image.") from exc


def _references(value: Any) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= 3:
        raise invalid("`referenceImages` takes 1 to 3 images.")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid(f"`referenceImages[{index}]` must be an object.")
        kind = item.get("referenceType")
        if kind != "asset":
            raise invalid(f'`referenceType` {kind!r} isn\'t supported; use "asset".')
        check_image(item.get("image"), f"referenceImages[{index}].image")


def _plan(
    model: SimModel,
    mode: str,
    instance: dict[str, Any],
    params: dict[str, Any],
    source_of: SourceLookup,
) -> Plan:
    aspect = params.get("aspectRatio", "16:9")
    if aspect not in ("16:9", "9:16"):
        raise invalid(f"aspectRatio {aspect!r} is not supported; use 16:9 or 9:16.")
    resolution = params.get("resolution", "720p")
    if resolution not in model.resolutions:
        raise invalid(
            f"resolution {resolution!r} is not supported by this model; "
            f"use one of {', '.join(model.resolutions)}."
        )
    seconds = _duration(model, params.get("durationSeconds", 8))
    eight_only = resolution in ("1080p", "4k") or mode in ("reference", "extend")
    if model.veo3 and eight_only and seconds != 8:
        raise invalid(
            f"durationSeconds {seconds} is not supported with {resolution} / {mode}; use 8."
        )
    _person_generation(model, mode, params.get("personGeneration"))
    _scalars(model, params)
    samples = params.get("sampleCount", 1)
    width, height = DIMENSIONS[resolution]
    if aspect == "9:16":
        width, height = height, width
    if mode != "extend":
        return Plan(mode, width, height, seconds, samples)
    if resolution != "720p":
        raise invalid("Video extension produces 720p videos only.")
    uri = instance["video"].get("uri") if isinstance(instance["video"], dict) else None
    if not isinstance(uri, str) or not uri:
        raise invalid("`video.uri` is required: only videos generated by Veo can be extended.")
    src_width, src_height, src_seconds = source_of(uri)
    if min(src_width, src_height) != 720:
        raise invalid("Only 720p videos can be extended.")
    return Plan(mode, src_width, src_height, src_seconds + EXTENSION_SECONDS, samples, uri)


def _duration(model: SimModel, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in model.durations:
        allowed = ", ".join(str(d) for d in model.durations)
        raise invalid(f"durationSeconds {value!r} is out of range; supported values: {allowed}.")
    return value


def _person_generation(model: SimModel, mode: str, value: Any) -> None:
    """Documented: Veo 3 takes allow_all for text and extension, allow_adult with images."""
    if value is None:
        return
    if value not in PERSON_GENERATION:
        raise invalid(
            f"personGeneration {value!r} is not valid; use {', '.join(PERSON_GENERATION)}."
        )
    if not model.veo3:
        return
    allowed = "allow_all" if mode in ("text", "extend") else "allow_adult"
    if value != allowed:
        raise invalid(f"{value} for personGeneration is currently not supported.")


def _scalars(model: SimModel, params: dict[str, Any]) -> None:
    samples = params.get("sampleCount", 1)
    most = 1 if model.veo3 else 2
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= most:
        raise invalid(f"sampleCount must be between 1 and {most}.")
    if "negativePrompt" in params and not isinstance(params["negativePrompt"], str):
        raise invalid("`negativePrompt` must be a string.")
    if "enhancePrompt" in params and not isinstance(params["enhancePrompt"], bool):
        raise invalid("`enhancePrompt` must be a boolean.")
