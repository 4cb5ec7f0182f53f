"""Builds Gemini API Veo requests and parses operations; pure functions, no I/O.

A create is ``POST /models/{model}:predictLongRunning`` with one instance (prompt, first
frame ``image``, ``lastFrame``, ``referenceImages`` or, for an extension, the source's file
``video.uri``) and ``parameters``; images are inlined as ``{bytesBase64Encoded, mimeType}``.
The upstream id is the operation name (``models/{model}/operations/{id}``), polled as a path
of its own. ``done`` is not success: an ``error`` or RAI-filtered response is a failure, and
only a sample with a video URI completes the job. The result is fetched from that URI with
the same key (the API answers with a redirect to storage, which dispatch follows). The
request was checked against the spec's option table and rules before the job existed.
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
from vidgate.providers.base import CallContext, DownloadCall, HttpCall, HttpReply, Inline
from vidgate.providers.gemini.spec import SPEC, resolution
from vidgate.providers.toolkit import GRPC_CODE_NAMES, completed, put_options, retry_after_s
from vidgate.providers.toolkit import scrub as scrub_text
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
_FIELD = re.compile(r"\b(" + "|".join(UPSTREAM_PARAMS) + r")\b")
# not inside a URL (``.../v1beta/files/x``): the whole URL is hidden by errors.client_text
_OPERATION = re.compile(r"\bmodels/[\w.-]+/operations/[\w-]+")
_FILE = re.compile(r"\bfiles/[a-z0-9]+")


class GeminiAdapter:
    """``HttpAdapter`` for one deployment of Veo on the Gemini Developer API."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"x-goog-api-key": key} if key else {}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        body = {"instances": [_instance(request)], "parameters": _parameters(request)}
        put_options(body, request, self.deployment.capabilities)
        return HttpCall("POST", f"/models/{request.upstream_model}:predictLongRunning", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if variant != "video" or not location:
            return None
        return DownloadCall(HttpCall("GET", location), auth=True)  # the key, then a redirect

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return None  # Veo operations cannot be cancelled or deleted on the Gemini API

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
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
            return completed(name, "succeeded", {"video": uri})
        if response.get("raiMediaFilteredCount") or response.get("raiMediaFilteredReasons"):
            reasons = response.get("raiMediaFilteredReasons")
            text = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else ""
            message = text or "The video was blocked by the upstream's safety filters."
            return _failed(name, "filtered", "content_filtered", message)
        return _failed(name, "empty", "no_result", "The upstream finished without a video.")

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
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
    if request.operation == "extend" and request.source and request.source.location:
        instance["video"] = {"uri": request.source.location}
    elif first is not None:
        instance["image"] = _image(first)
        if last is not None:
            instance["lastFrame"] = _image(last)
    elif references:
        instance["referenceImages"] = [
            {"image": _image(asset), "referenceType": "asset"} for asset in references
        ]
    return instance


def _parameters(request: ResolvedRequest) -> dict[str, Any]:
    params: dict[str, Any] = {
        "aspectRatio": "16:9" if request.width >= request.height else "9:16",
        "durationSeconds": request.seconds,
        "sampleCount": 1,
    }
    if not request.upstream_model.startswith("veo-2"):
        params["resolution"] = resolution(request)
    if request.negative_prompt:
        params["negativePrompt"] = request.negative_prompt
    return params


# --- reply parsing --------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_video_uri(samples: Any) -> str | None:
    if not isinstance(samples, list) or not samples:
        return None
    uri = _dict(_dict(samples[0]).get("video")).get("uri")
    return uri if isinstance(uri, str) and uri else None


def _failed(name: str, raw: str, code: str, message: Any) -> UpstreamState:
    """A failure keeping Veo's own words (no provider prefix) and code."""
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
    """An upstream message fit for clients: no URLs (``errors.client_text``), operation
    names or file ids."""
    return scrub_text(message, (_OPERATION, "<operation>"), (_FILE, "<file>"))
