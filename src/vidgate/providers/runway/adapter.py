"""Builds RunwayML API requests and parses replies; pure functions, no I/O.

The endpoint follows the operation and inputs: ``text_to_video`` without an image,
``image_to_video`` with a first (and, for Veo 3.1, last) frame as ``promptImage``
``[{uri, position}]``, ``video_to_video`` for edits (``videoUri``). Bodies are camelCase
JSON; every call carries ``Authorization: Bearer`` and ``X-Runway-Version``. Images and
archived source videos go inline as ``data:`` URIs (Runway takes at most 5 MB per image
and 16 MB per video that way and answers 400 above that); https URLs and ``runway://``
upload URIs are passed as they are.

Tasks are a union on ``status``: ``PENDING`` and ``THROTTLED`` are queued, ``RUNNING``
carries ``progress`` as a fraction 0-1, ``SUCCEEDED`` carries signed ``output`` URLs and
``cost.credits``, ``FAILED`` carries ``failure`` and ``failureCode``, ``CANCELLED`` only
follows a DELETE. Errors are ``{"error": "<text>", "issues": [...]}``. The request was
checked against the spec's option table and rules before the job existed.
"""

from __future__ import annotations

import math
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
from vidgate.providers.runway.spec import RUNWAY_VERSION, SPEC
from vidgate.providers.toolkit import (
    completed,
    no_output,
    put_options,
    retry_after_s,
    scrub,
    signed_download,
)
from vidgate.values import Asset, Deployment, ResolvedRequest, SourceVideo, UpstreamState, Variant

_FIELDS = {
    "promptText": "prompt",
    "promptImage": "input_reference",
    "ratio": "size",
    "duration": "seconds",
    "seed": "seed",
    "videoUri": "video",
    "model": "model",
    "negativePrompt": "metadata.negative_prompt",
    "audio": "metadata.audio",
    "contentModeration": "metadata.content_moderation",
    "targetAspectRatio": "metadata.target_aspect_ratio",
}


class RunwayAdapter:
    """``HttpAdapter`` for one RunwayML API deployment."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        version = str(deployment.options.get("runway_version") or RUNWAY_VERSION)
        self.headers = {"X-Runway-Version": version}
        if deployment.api_key:
            self.headers["Authorization"] = f"Bearer {deployment.api_key}"

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        return dict(self.headers)

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        body: dict[str, Any] = {"model": request.upstream_model, "promptText": request.prompt}
        if request.seed is not None:
            body["seed"] = request.seed
        put_options(body, request, self.deployment.capabilities)
        if request.operation == "edit":
            body["videoUri"] = _video_uri(request.source)
            return HttpCall("POST", "/v1/video_to_video", json=body)
        body["ratio"] = f"{request.width}:{request.height}"
        body["duration"] = request.seconds
        if request.negative_prompt:
            body["negativePrompt"] = request.negative_prompt
        if self.deployment.capabilities.audio is not None and request.audio is not None:
            body["audio"] = request.audio
        images = _prompt_images(request)
        if images:
            body["promptImage"] = images
            return HttpCall("POST", "/v1/image_to_video", json=body)
        return HttpCall("POST", "/v1/text_to_video", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/v1/tasks/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        return signed_download(variant, location)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("DELETE", f"/v1/tasks/{upstream_id}")

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
            raise UpstreamError("Runway returned a malformed task object.")
        task_id: str = body["id"]
        estimate = _credits(body, "estimatedCost")
        if context.kind == "submit":  # the create reply: {"id", "estimatedCost"}
            return UpstreamState(task_id, "queued", raw_status="PENDING", cost_units=estimate)
        raw = body.get("status")
        if not isinstance(raw, str) or not raw:
            raise UpstreamError("Runway returned a task without a status.")
        status = SPEC.map_status(raw)
        if raw == "SUCCEEDED":
            return _succeeded(task_id, body)
        if raw == "CANCELLED":
            return UpstreamState(
                task_id,
                "failed",
                raw_status=raw,
                error_code="cancelled",
                error_message="The task was cancelled at Runway.",
            )
        if status == "failed":
            return _failed(task_id, raw, body)
        return UpstreamState(
            task_id,
            status,
            progress=_progress(body.get("progress")) if raw == "RUNNING" else 0,
            raw_status=raw,
            cost_units=estimate,
        )

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        message = scrub(body.get("error"))
        found = body.get("issues")
        issues: list[Any] = found if isinstance(found, list) else []
        detail = "; ".join(_issue_text(issue) for issue in issues[:3] if isinstance(issue, dict))
        text = " ".join(part for part in (message, f"({detail})" if detail else "") if part)
        status = reply.status
        if status in (400, 422):
            if "enough credits" in message:
                return UpstreamError(
                    "The Runway organisation of this deployment is out of credits.",
                    code="upstream_insufficient_credits",
                )
            reason = f"Runway rejected the request: {text}" if text else "Runway rejected it."
            return InvalidRequest(reason, param=_param(issues))
        if status in (401, 403):
            return UpstreamAuthError("Runway rejected this deployment's API secret.")
        if status == 404:
            return NotFound(f"Runway: {text}" if text else "Runway has no such task.")
        if status == 429:
            return RateLimited(
                f"Runway rate limit: {text}" if text else "Runway rate limit reached.",
                retry_after_s=retry_after_s(reply.headers),
            )
        return UpstreamError(f"Runway failed with HTTP {status}. {text}".strip())


# --- request bodies ------------------------------------------------------------------


def _prompt_images(request: ResolvedRequest) -> list[dict[str, Any]]:
    images = []
    first, last = request.image("first_frame"), request.image("last_frame")
    if first is not None:
        images.append({"uri": _uri(first), "position": "first"})
    if last is not None:
        images.append({"uri": _uri(last), "position": "last"})
    return images


def _video_uri(source: SourceVideo | None) -> Any:
    """The video to edit: its archived bytes, else Runway's own https URL of it (the rules
    made sure one of them is there)."""
    if source is not None and source.asset is not None:
        return _uri(source.asset)
    if source is not None and source.location and source.location.startswith("https://"):
        return source.location
    raise GatewayError("The source video of the edit is not available.")


def _uri(asset: Asset) -> str | Inline:
    """How Runway gets an input: https and data: URLs as they are, a file id as the
    runway:// upload URI it is (the rules refused others); uploads and plain-http URLs
    inline, as a data: URI (Runway fetches https only)."""
    if asset.kind == "file_id":
        return asset.value
    if asset.kind == "url" and asset.value.startswith(("https://", "data:")):
        return asset.value
    return Inline(asset, "data_uri")


# --- replies -------------------------------------------------------------------------


def _succeeded(task_id: str, body: Mapping[str, Any]) -> UpstreamState:
    output = body.get("output")
    url = output[0] if isinstance(output, list) and output else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return no_output(task_id, "SUCCEEDED", "Runway")
    return completed(task_id, "SUCCEEDED", {"video": url}, _credits(body, "cost"))


def _failed(task_id: str, raw: str, body: Mapping[str, Any]) -> UpstreamState:
    code = body.get("failureCode")
    code = code if isinstance(code, str) and code else None
    failure = body.get("failure")
    message = scrub(failure) or "Runway failed the task."
    return UpstreamState(
        task_id,
        "failed",
        raw_status=raw,
        error_code=_failure_code(code),
        error_message=f"{message} ({code})" if code else message,
    )


def _failure_code(code: str | None) -> str:
    """A gateway error code for a Runway ``failureCode``."""
    if code is None:
        return "upstream_failed"
    if code.startswith("SAFETY"):
        return "moderation_blocked"
    if code.startswith("ASSET"):
        return "invalid_input"
    return "upstream_failed"


def _credits(body: Mapping[str, Any], key: str) -> float | None:
    cost = body.get(key)
    value = cost.get("credits") if isinstance(cost, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _progress(value: Any) -> int:
    """Runway's ``progress`` is a fraction 0-1; the gateway's is a whole percent."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return max(0, min(100, int(round(value * 100, 6))))


def _issue_text(issue: Mapping[str, Any]) -> str:
    path = ".".join(str(p) for p in issue.get("path") or [])
    message = scrub(str(issue.get("message") or issue.get("code") or "invalid"))
    return f"{path}: {message}" if path else message


def _param(issues: list[Any]) -> str | None:
    for issue in issues:
        path = issue.get("path") if isinstance(issue, dict) else None
        if isinstance(path, list) and path and isinstance(path[0], str):
            return _FIELDS.get(path[0], path[0])
    return None
