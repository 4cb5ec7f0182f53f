"""Builds Gemini API Veo requests and parses operations; pure functions, no I/O.

A create is ``POST /models/{model}:predictLongRunning`` with one instance (prompt, first
frame ``image``, ``lastFrame``, ``referenceImages`` or, for an extension, the source's file
``video.uri``) and ``parameters``; images are inlined as ``{bytesBase64Encoded, mimeType}``.
The upstream id is the operation name (``models/{model}/operations/{id}``), polled as a path
of its own. ``done`` is not success: an ``error`` or RAI-filtered response is a failure, and
only a sample with a video URI completes the job. The result is fetched from that URI with
the same key (the API answers with a redirect to storage, which dispatch follows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import DownloadCall, HttpCall, HttpReply, Inline
from vidgate.providers.gemini.spec import PERSON_GENERATION, SPEC
from vidgate.providers.toolkit import GRPC_CODE_NAMES, retry_after_s
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

UPSTREAM_PARAMS = {
    "durationSeconds": "seconds",
    "aspectRatio": "size",
    "resolution": "size",
    "personGeneration": "metadata.person_generation",
    "enhancePrompt": "metadata.enhance_prompt",
    "negativePrompt": "metadata.negative_prompt",
    "lastFrame": "metadata.last_frame",
    "referenceImages": "metadata.reference_images",
    "image": "input_reference",
    "video": "video",
    "prompt": "prompt",
}
"""Gemini field names that upstream messages mention, and the gateway parameter each is."""
EIGHT_SECONDS_ONLY = ("1080p", "4k")
_FIELD = re.compile(r"\b(" + "|".join(UPSTREAM_PARAMS) + r")\b")
_URL = re.compile(r"https?://\S+")
_OPERATION = re.compile(r"\bmodels/[\w.-]+/operations/[\w-]+")
_FILE = re.compile(r"\bfiles/[a-z0-9]+")


class GeminiAdapter:
    """``HttpAdapter`` for Veo on the Gemini Developer API."""

    def auth_headers(self, deployment: Deployment, token: str | None = None) -> dict[str, str]:
        return {"x-goog-api-key": deployment.api_key} if deployment.api_key else {}

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        body = {"instances": [_instance(request)], "parameters": _parameters(request)}
        return HttpCall("POST", f"/models/{request.upstream_model}:predictLongRunning", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if variant != "video" or not location:
            return None
        return DownloadCall(HttpCall("GET", location), auth=True)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return None  # Veo operations cannot be cancelled or deleted on the Gemini API

    def parse_state(self, reply: HttpReply) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise UpstreamError("The upstream returned a malformed operation.")
        name: str = body["name"]
        if body.get("done") is not True:
            return UpstreamState(name, SPEC.map_status("pending"), raw_status="pending")
        error = body.get("error")
        if isinstance(error, dict):
            return _failed(name, "error", _rpc_code(error.get("code")), error.get("message"))
        response = _dict(_dict(body.get("response")).get("generateVideoResponse"))
        uri = _first_video_uri(response.get("generatedSamples"))
        if uri is not None:
            return UpstreamState(
                name, SPEC.map_status("succeeded"), 100, "succeeded", results={"video": uri}
            )
        if response.get("raiMediaFilteredCount") or response.get("raiMediaFilteredReasons"):
            reasons = response.get("raiMediaFilteredReasons")
            text = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else ""
            message = text or "The video was blocked by the upstream's safety filters."
            return _failed(name, "filtered", "content_filtered", message)
        return _failed(name, "empty", "no_result", "The upstream finished without a video.")

    def parse_error(self, reply: HttpReply) -> GatewayError:
        error = _dict(reply.body.get("error")) if isinstance(reply.body, dict) else {}
        message = scrub(error.get("message"))
        text = f"Upstream rejected the request: {message}" if message else "Upstream error."
        if _reason(error) == "API_KEY_INVALID" or reply.status in (401, 403):
            return UpstreamAuthError("The upstream rejected this deployment's credentials.")
        if reply.status == 404:
            return NotFound(text)
        if reply.status == 429:
            delay = _retry_delay(error)
            return RateLimited(text, retry_after_s=retry_after_s(reply.headers) or delay)
        if 400 <= reply.status < 500:
            field = _FIELD.search(message)
            return InvalidRequest(text, param=UPSTREAM_PARAMS[field[1]] if field else None)
        return UpstreamError(f"Upstream failed with HTTP {reply.status}. {message}".strip())


# --- request building -----------------------------------------------------------------


def _image(asset: Asset) -> dict[str, Inline]:
    return {"bytesBase64Encoded": Inline(asset, "base64"), "mimeType": Inline(asset, "mime_type")}


def _instance(request: ResolvedRequest) -> dict[str, Any]:
    first = request.image("first_frame")
    last = request.image("last_frame")
    references = [i.asset for i in request.images if i.role == "reference"]
    instance: dict[str, Any] = {"prompt": request.prompt}
    if last is not None and first is None:
        raise InvalidRequest(
            "'metadata.last_frame' needs a first frame ('input_reference') as well.",
            param="metadata.last_frame",
        )
    if references and (first is not None or request.operation == "extend"):
        raise InvalidRequest(
            "'metadata.reference_images' cannot be combined with a first or last frame "
            "or an extension.",
            param="metadata.reference_images",
        )
    if request.operation == "extend":
        instance["video"] = {"uri": _extension_source(request)}
    elif first is not None:
        instance["image"] = _image(first)
        if last is not None:
            instance["lastFrame"] = _image(last)
    elif references:
        instance["referenceImages"] = [
            {"image": _image(asset), "referenceType": "asset"} for asset in references
        ]
    return instance


def _extension_source(request: ResolvedRequest) -> str:
    source = request.source
    if source is None or not source.location:
        raise InvalidRequest(
            "Veo extends only videos it made: 'video' must be a completed job of this "
            "deployment (uploaded videos cannot be extended).",
            param="video",
        )
    if request.image("first_frame") or request.image("last_frame"):
        raise InvalidRequest(
            "An extension cannot take a first or last frame.", param="metadata.last_frame"
        )
    if _resolution(request) != "720p":
        raise InvalidRequest(
            f"Veo extends only 720p videos; the source video is {request.size}.", param="video"
        )
    return source.location


def _resolution(request: ResolvedRequest) -> str:
    short = min(request.width, request.height)
    return "4k" if short >= 2160 else "1080p" if short >= 1080 else "720p"


def _parameters(request: ResolvedRequest) -> dict[str, Any]:
    resolution = _resolution(request)
    _check_seconds(request, resolution)
    if request.audio is False:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' always generates audio on the Gemini API; "
            "'metadata.audio' cannot be false.",
            param="metadata.audio",
        )
    params: dict[str, Any] = {
        "aspectRatio": "16:9" if request.width >= request.height else "9:16",
        "durationSeconds": request.seconds,
        "sampleCount": 1,
    }
    if not request.upstream_model.startswith("veo-2"):
        params["resolution"] = resolution
    if request.negative_prompt:
        params["negativePrompt"] = request.negative_prompt
    params |= _options(request.options)
    return params


def _check_seconds(request: ResolvedRequest, resolution: str) -> None:
    if request.upstream_model.startswith("veo-2") or request.seconds == 8:
        return
    reason = None
    if resolution in EIGHT_SECONDS_ONLY:
        reason = f"{resolution} output"
    elif any(i.role == "reference" for i in request.images):
        reason = "reference images"
    elif request.operation == "extend":
        reason = "an extension"
    if reason:
        raise InvalidRequest(
            f"Invalid value for 'seconds': {request.seconds}. Veo needs 8 seconds for "
            f"{reason}; allowed: 8.",
            param="seconds",
            code="invalid_value",
        )


def _options(options: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "person_generation" in options:
        value = options["person_generation"]
        if value not in PERSON_GENERATION:
            raise InvalidRequest(
                f"Invalid value for 'metadata.person_generation': {value!r}. "
                f"Allowed: {', '.join(PERSON_GENERATION)}.",
                param="metadata.person_generation",
                code="invalid_value",
            )
        out["personGeneration"] = value
    if "enhance_prompt" in options:
        value = options["enhance_prompt"]
        if not isinstance(value, bool):
            raise InvalidRequest(
                f"Invalid value for 'metadata.enhance_prompt': {value!r}. Allowed: true, false.",
                param="metadata.enhance_prompt",
                code="invalid_value",
            )
        out["enhancePrompt"] = value
    return out


# --- reply parsing --------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_video_uri(samples: Any) -> str | None:
    if not isinstance(samples, list) or not samples:
        return None
    uri = _dict(_dict(samples[0]).get("video")).get("uri")
    return uri if isinstance(uri, str) and uri else None


def _failed(name: str, raw: str, code: str, message: Any) -> UpstreamState:
    text = scrub(message) or "The upstream reported the operation as failed."
    return UpstreamState(
        name, SPEC.map_status(raw), raw_status=raw, error_code=code, error_message=text
    )


def _rpc_code(code: Any) -> str:
    return (
        GRPC_CODE_NAMES.get(code, "upstream_failed") if isinstance(code, int) else "upstream_failed"
    )


def _details(error: Mapping[str, Any]) -> list[dict[str, Any]]:
    details = error.get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _reason(error: Mapping[str, Any]) -> str | None:
    for detail in _details(error):
        if str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            return str(detail.get("reason"))
    return None


def _retry_delay(error: Mapping[str, Any]) -> float | None:
    """``google.rpc.RetryInfo.retryDelay`` (a Duration string such as ``"23s"``)."""
    for detail in _details(error):
        delay = detail.get("retryDelay")
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo") and isinstance(delay, str):
            try:
                return max(0.0, float(delay.removesuffix("s")))
            except ValueError:
                return None
    return None


def scrub(message: Any) -> str:
    """An upstream message without URLs, operation names or file ids (never shown to clients)."""
    if not message:
        return ""
    text = _URL.sub("<url>", str(message))
    text = _OPERATION.sub("<operation>", text)
    return _FILE.sub("<file>", text)
