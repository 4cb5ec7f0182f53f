"""Wire rules of the Vertex AI Veo simulator: models, request checks, Google error bodies.

Independent of the provider's spec and adapter (a simulator must not share their
constants): this is what Vertex documents for ``predictLongRunning`` bodies, the OAuth
token endpoint's JWT checks and Google's error envelopes.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PIL import Image
from starlette.responses import JSONResponse

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True)
class Model:
    """What one Veo model on Vertex takes."""

    veo3: bool
    tiers: frozenset[str]
    durations: frozenset[int]
    references: bool = False
    style: bool = False
    extension: bool = False


_VEO31 = Model(True, frozenset({"720p", "1080p", "4k"}), frozenset({4, 6, 8}), True, False, True)
MODELS = {
    "veo-3.1-generate-001": _VEO31,
    "veo-3.1-fast-generate-001": _VEO31,
    "veo-3.1-lite-generate-001": Model(True, frozenset({"720p", "1080p"}), frozenset({4, 6, 8})),
    "veo-2.0-generate-001": Model(False, frozenset({"720p"}), frozenset({5, 6, 7, 8})),
    "veo-2.0-generate-exp": Model(
        False, frozenset({"720p"}), frozenset({5, 6, 7, 8}), references=True, style=True
    ),
}
"""Current models; veo-3.0-* were retired 2026-06-30 and preview endpoints sunset."""

FRAME = {
    ("16:9", "720p"): (1280, 720),
    ("9:16", "720p"): (720, 1280),
    ("16:9", "1080p"): (1920, 1080),
    ("9:16", "1080p"): (1080, 1920),
    ("16:9", "4k"): (3840, 2160),
    ("9:16", "4k"): (2160, 3840),
}
PARAMETERS = frozenset(
    {
        "aspectRatio",
        "durationSeconds",
        "resolution",
        "sampleCount",
        "seed",
        "fps",
        "generateAudio",
        "negativePrompt",
        "personGeneration",
        "enhancePrompt",
        "storageUri",
        "compressionQuality",
        "resizeMode",
        "pubsubTopic",
    }
)
INSTANCE_FIELDS = frozenset({"prompt", "image", "lastFrame", "video", "referenceImages", "mask"})
IMAGE_MIME = frozenset({"image/png", "image/jpeg", "image/webp"})


class GoogleError(Exception):
    """An error answered with the Google envelope ``{"error": {code, message, status}}``."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.details, self.headers = details, headers or {}

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "status": RPC_STATUS.get(self.code, "UNKNOWN"),
        }
        if self.details:
            error["details"] = self.details
        return JSONResponse({"error": error}, status_code=self.code, headers=self.headers)


def invalid(message: str) -> GoogleError:
    return GoogleError(400, message)


@dataclass(frozen=True)
class Job:
    """A checked create request: what the operation will produce."""

    model: str
    width: int
    height: int
    seconds: int
    samples: int
    storage_uri: str | None


def check_create(model_name: str, body: Any, *, allow_all_persons: bool) -> Job:
    """Validate a ``predictLongRunning`` body the way Vertex does; 400 on any mistake."""
    model = MODELS[model_name]
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    if "webhookConfig" in body:
        raise invalid("webhookConfig is not supported in Vertex AI.")
    unknown = sorted(set(body) - {"instances", "parameters", "labels"})
    if unknown:
        raise invalid(
            f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
        )
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        raise invalid("instances must hold exactly one instance.")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise invalid("parameters must be an object.")
    _check_labels(body.get("labels"))
    instance = instances[0]
    extra = sorted(set(instance) - INSTANCE_FIELDS) or sorted(set(params) - PARAMETERS)
    if extra:
        raise invalid(
            f'Invalid JSON payload received. Unknown name "{extra[0]}": Cannot find field.'
        )
    aspect, tier, seconds = _shape(model_name, model, params)
    _check_instance(model_name, model, instance, params, aspect, seconds)
    _check_parameters(model_name, model, params, instance, allow_all_persons)
    width, height = FRAME[(aspect, tier)]
    return Job(
        model_name, width, height, seconds, params.get("sampleCount", 1), params.get("storageUri")
    )


def _shape(name: str, model: Model, params: dict[str, Any]) -> tuple[str, str, int]:
    aspect = params.get("aspectRatio", "16:9")
    if aspect not in ("16:9", "9:16"):
        raise invalid(f"Unsupported aspect ratio: {aspect}. Supported values: 16:9, 9:16.")
    if "resolution" in params and not model.veo3:
        raise invalid(f"resolution is not supported by model {name}.")
    tier = params.get("resolution", "720p")
    if tier not in model.tiers:
        raise invalid(f"Unsupported resolution: {tier} for model {name}.")
    seconds = params.get("durationSeconds", 8)
    if not _is_int(seconds) or seconds not in model.durations:
        allowed = ", ".join(str(s) for s in sorted(model.durations))
        raise invalid(f"Unsupported durationSeconds: {seconds}. Supported values: {allowed}.")
    if tier in ("1080p", "4k") and seconds != 8:
        raise invalid(f"durationSeconds must be 8 for {tier} videos.")
    return aspect, tier, seconds


def _check_instance(
    name: str,
    model: Model,
    instance: dict[str, Any],
    params: dict[str, Any],
    aspect: str,
    seconds: int,
) -> None:
    prompt = instance.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise invalid("prompt must be a string.")
    if not prompt and "image" not in instance and "video" not in instance:
        raise invalid("A text prompt is required when no image or video is given.")
    if "mask" in instance:
        raise invalid(f"mask is not supported by model {name}.")
    for key in ("image", "lastFrame"):
        if key in instance:
            check_media(instance[key], key, IMAGE_MIME)
    if "lastFrame" in instance and "image" not in instance:
        raise invalid("lastFrame requires image (the first frame).")
    if "referenceImages" in instance:
        _check_references(name, model, instance, aspect, seconds)
    if "video" in instance:
        if not model.extension:
            raise invalid(f"Video extension is not supported by model {name}.")
        if "image" in instance or "referenceImages" in instance:
            raise invalid("video cannot be combined with image or referenceImages.")
        if params.get("resolution", "720p") != "720p":
            raise invalid("Video extension supports 720p only.")


def _check_references(
    name: str, model: Model, instance: dict[str, Any], aspect: str, seconds: int
) -> None:
    refs = instance["referenceImages"]
    if not model.references:
        raise invalid(f"referenceImages are not supported by model {name}.")
    if not instance.get("prompt"):
        raise invalid("A prompt is required with referenceImages.")
    if "image" in instance or "lastFrame" in instance or "video" in instance:
        raise invalid("referenceImages cannot be combined with image, lastFrame or video.")
    if not isinstance(refs, list) or not 1 <= len(refs) <= 3:
        raise invalid("referenceImages takes 1 to 3 images.")
    kinds = set()
    for ref in refs:
        kind = _lower(ref.get("referenceType")) if isinstance(ref, dict) else None
        if kind not in ("asset", "style"):
            raise invalid("referenceImages[].referenceType must be asset or style.")
        kinds.add(kind)
        check_media(ref.get("image"), "referenceImages.image", IMAGE_MIME)
    if "style" in kinds and (not model.style or len(refs) != 1):
        raise invalid(
            f"A style reference takes exactly one image and is not supported by {name}."
            if not model.style
            else "A style reference takes exactly one image."
        )
    if seconds != 8 or aspect != "16:9":
        raise invalid("Reference-image videos must be 8 seconds at 16:9.")


def _check_parameters(
    name: str, model: Model, params: dict[str, Any], instance: dict[str, Any], allow_all: bool
) -> None:
    if model.veo3 and not isinstance(params.get("generateAudio"), bool):
        raise invalid(f"generateAudio is required for model {name}.")
    if not model.veo3 and "generateAudio" in params:
        raise invalid(f"generateAudio is not supported by model {name}.")
    samples = params.get("sampleCount", 1)
    if not _is_int(samples) or not 1 <= samples <= 4:
        raise invalid("sampleCount must be between 1 and 4.")
    seed = params.get("seed")
    if seed is not None and (not _is_int(seed) or not 0 <= seed <= 0xFFFFFFFF):
        raise invalid("seed must be an unsigned 32-bit integer.")
    if "fps" in params and params["fps"] != 24:
        raise invalid("fps must be 24.")
    _enum(params, "personGeneration", ("allow_adult", "dont_allow", "allow_all"))
    if _lower(params.get("personGeneration")) == "allow_all" and not allow_all:
        raise invalid("allow_all for personGeneration requires your project to be allowlisted.")
    _enum(params, "compressionQuality", ("optimized", "lossless"))
    _enum(params, "resizeMode", ("pad", "crop"))
    if "resizeMode" in params and "image" not in instance:
        raise invalid("resizeMode applies to image-to-video requests only.")
    for key in ("negativePrompt", "pubsubTopic"):
        if key in params and not isinstance(params[key], str):
            raise invalid(f"{key} must be a string.")
    if "enhancePrompt" in params and not isinstance(params["enhancePrompt"], bool):
        raise invalid("enhancePrompt must be a boolean.")
    uri = params.get("storageUri")
    if uri is not None and (
        not isinstance(uri, str) or not uri.startswith("gs://") or len(uri) < 6
    ):
        raise invalid("storageUri must be a Cloud Storage URI (gs://bucket/prefix).")


def _check_labels(labels: Any) -> None:
    if labels is None:
        return
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise invalid("labels must map strings to strings.")


def _enum(params: dict[str, Any], key: str, allowed: tuple[str, ...]) -> None:
    """Enum values as the REST docs write them (``crop``) or as the SDK sends them (``CROP``)."""
    if key in params and _lower(params[key]) not in allowed:
        raise invalid(f"Unsupported {key}: {params[key]}. Supported values: {', '.join(allowed)}.")


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_media(value: Any, field: str, mimes: frozenset[str]) -> bytes | None:
    """A ``{bytesBase64Encoded | gcsUri, mimeType}`` object; returns the decoded bytes."""
    if not isinstance(value, dict):
        raise invalid(f"{field} must be an object with bytesBase64Encoded or gcsUri.")
    given = [k for k in ("bytesBase64Encoded", "gcsUri") if k in value]
    if len(given) != 1:
        raise invalid(f"{field} must set exactly one of bytesBase64Encoded or gcsUri.")
    mime = value.get("mimeType")
    if mime is not None and mime not in mimes:
        raise invalid(f"Unsupported mimeType for {field}: {mime}.")
    if given[0] == "gcsUri":
        if not isinstance(value["gcsUri"], str) or not value["gcsUri"].startswith("gs://"):
            raise invalid(f"{field}.gcsUri must be a gs:// URI.")
        return None
    if mime is None:
        raise invalid(f"{field}.mimeType is required with bytesBase64Encoded.")
    try:
        data = base64.b64decode(value["bytesBase64Encoded"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise invalid(f"{field}.bytesBase64Encoded is not valid base64.") from None
    if mime.startswith("image/") and not _is_image(data):
        raise invalid(f"{field} could not be decoded as an image.")
    return data


def _is_image(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        return True
    except Exception:
        return False


# --- the OAuth token endpoint ----------------------------------------------------------


class OAuthError(Exception):
    """``{"error": code, "error_description": text}`` with HTTP 400 (or 401)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def response(self) -> JSONResponse:
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status)


def verify_assertion(
    jwt: str, key: rsa.RSAPublicKey, client_email: str, audiences: set[str], now: float
) -> dict[str, Any]:
    """The claims of a service-account JWT grant, checked as Google's token endpoint does."""
    parts = jwt.split(".")
    if len(parts) != 3:
        raise OAuthError("invalid_grant", "Invalid JWT: malformed assertion.")
    try:
        header, claims = (json.loads(_unb64(p)) for p in parts[:2])
        signature = _unb64(parts[2])
    except (ValueError, binascii.Error):
        raise OAuthError("invalid_grant", "Invalid JWT: malformed assertion.") from None
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims, dict):
        raise OAuthError("invalid_grant", "Invalid JWT: unsupported signing algorithm.")
    try:
        key.verify(
            signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        raise OAuthError("invalid_grant", "Invalid JWT Signature.") from None
    if claims.get("iss") != client_email:
        raise OAuthError("invalid_grant", "Invalid grant: account not found")
    if claims.get("aud") not in audiences:
        raise OAuthError("invalid_grant", "Invalid JWT: Failed audience check.")
    if not _timely(claims.get("iat"), claims.get("exp"), now):
        raise OAuthError(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
            "timeframe. Check your iat and exp values in the JWT claim.",
        )
    if not claims.get("scope"):
        raise OAuthError("invalid_scope", "Empty or missing scope not allowed.")
    return claims


def _timely(iat: Any, exp: Any, now: float) -> bool:
    """Issued no later than 5 min from now, not expired, valid for at most an hour."""
    if not isinstance(iat, int) or not isinstance(exp, int):
        return False
    return iat <= now + 300 and exp > now and exp - iat <= 3600


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
