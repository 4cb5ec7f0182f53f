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
follows a DELETE. Errors are ``{"error": "<text>", "issues": [...]}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import DownloadCall, HttpCall, HttpReply, Inline
from vidgate.providers.runway.spec import (
    IMAGE_ONLY,
    MAX_PROMPT_CHARS,
    MAX_SOURCE_SECONDS,
    RUNWAY_VERSION,
    SPEC,
    T2V_SIZES,
)
from vidgate.providers.toolkit import retry_after_s
from vidgate.values import Asset, Deployment, ResolvedRequest, SourceVideo, UpstreamState, Variant

MAX_SEED = 4_294_967_295
THRESHOLDS = ("auto", "low")
TARGET_ASPECT_RATIOS = ("16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "21:9")
_URL = re.compile(r"(?:https?|runway)://\S+|data:[^\s,]*,\S+")
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
    """``HttpAdapter`` for the RunwayML API."""

    def auth_headers(self, deployment: Deployment, token: str | None = None) -> dict[str, str]:
        version = str(deployment.options.get("runway_version") or RUNWAY_VERSION)
        headers = {"X-Runway-Version": version}
        if deployment.api_key:
            headers["Authorization"] = f"Bearer {deployment.api_key}"
        return headers

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        if request.operation == "edit":
            return HttpCall("POST", "/v1/video_to_video", json=_edit_body(request))
        if request.operation != "create":
            raise UnsupportedOperation(
                f"Runway has no {request.operation} for model '{request.upstream_model}'.",
                param="model",
            )
        body = _common(request)
        body["ratio"] = f"{request.width}:{request.height}"
        body["duration"] = request.seconds
        if request.negative_prompt:
            body["negativePrompt"] = request.negative_prompt
        if deployment.capabilities.audio is not None and request.audio is not None:
            body["audio"] = request.audio
        images = _prompt_images(request)
        if images:
            body["promptImage"] = images
            return HttpCall("POST", "/v1/image_to_video", json=body)
        _check_text_to_video(request)
        return HttpCall("POST", "/v1/text_to_video", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/v1/tasks/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if variant != "video" or not location or not location.startswith(("https:", "http:")):
            return None
        return DownloadCall(HttpCall("GET", location), auth=False)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("DELETE", f"/v1/tasks/{upstream_id}")

    def parse_state(self, reply: HttpReply) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
            raise UpstreamError("Runway returned a malformed task object.")
        task_id: str = body["id"]
        raw = body.get("status")
        if raw is None:  # the create reply: {"id", "estimatedCost"}
            return UpstreamState(
                task_id, "queued", raw_status="PENDING", cost_units=_credits(body, "estimatedCost")
            )
        raw = str(raw)
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
            cost_units=_credits(body, "estimatedCost"),
        )

    def parse_error(self, reply: HttpReply) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        error = body.get("error")
        message = _scrub(error) if isinstance(error, str) else ""
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


def _common(request: ResolvedRequest) -> dict[str, Any]:
    units = len(request.prompt.encode("utf-16-le")) // 2
    if units > MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"'prompt' is too long for Runway: {units} UTF-16 code units; at most "
            f"{MAX_PROMPT_CHARS}.",
            param="prompt",
            code="string_above_max_length",
        )
    body: dict[str, Any] = {"model": request.upstream_model, "promptText": request.prompt}
    if request.seed is not None:
        if not 0 <= request.seed <= MAX_SEED:
            raise InvalidRequest(
                f"Invalid value for 'seed': {request.seed}; Runway takes 0 to {MAX_SEED}.",
                param="seed",
            )
        body["seed"] = request.seed
    moderation = request.options.get("content_moderation")
    if moderation is not None:
        body["contentModeration"] = _moderation(moderation)
    return body


def _moderation(value: Any) -> dict[str, str]:
    param = "metadata.content_moderation"
    if not isinstance(value, Mapping) or set(value) - {"public_figure_threshold"}:
        raise InvalidRequest(
            f'\'{param}\' must be an object {{"public_figure_threshold": "auto" | "low"}}.',
            param=param,
        )
    threshold = value.get("public_figure_threshold")
    if threshold is None:
        return {}
    if threshold not in THRESHOLDS:
        raise InvalidRequest(
            f"Invalid value for '{param}.public_figure_threshold': {threshold!r}; "
            f"allowed: {', '.join(THRESHOLDS)}.",
            param=f"{param}.public_figure_threshold",
        )
    return {"publicFigureThreshold": str(threshold)}


def _prompt_images(request: ResolvedRequest) -> list[dict[str, Any]]:
    first, last = request.image("first_frame"), request.image("last_frame")
    if last is not None and first is None:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' needs a first frame ('input_reference') "
            "when a last frame is given.",
            param="input_reference",
        )
    images = []
    if first is not None:
        images.append({"uri": _uri(first, "input_reference"), "position": "first"})
    if last is not None:
        images.append({"uri": _uri(last, "metadata.last_frame"), "position": "last"})
    return images


def _check_text_to_video(request: ResolvedRequest) -> None:
    model = request.upstream_model
    if model in IMAGE_ONLY:
        raise InvalidRequest(
            f"Model '{model}' only makes video from an image: 'input_reference' is required.",
            param="input_reference",
        )
    allowed = T2V_SIZES.get(model)
    if allowed is not None and request.size not in allowed:
        raise InvalidRequest(
            f"Invalid value for 'size': '{request.size}'. Model '{model}' without an input "
            f"image allows: {', '.join(allowed)}.",
            param="size",
            code="invalid_value",
        )


def _edit_body(request: ResolvedRequest) -> dict[str, Any]:
    source = request.source
    if source is None:
        raise InvalidRequest("Missing required parameter: 'video'.", param="video")
    if source.seconds is not None and source.seconds > MAX_SOURCE_SECONDS:
        raise InvalidRequest(
            f"Runway edits videos of at most {MAX_SOURCE_SECONDS} s; this one is "
            f"{source.seconds} s.",
            param="video",
        )
    body = _common(request)
    body["videoUri"] = _video_uri(source)
    target = request.options.get("target_aspect_ratio")
    if target is not None:
        if target not in TARGET_ASPECT_RATIOS:
            raise InvalidRequest(
                f"Invalid value for 'metadata.target_aspect_ratio': {target!r}; allowed: "
                f"{', '.join(TARGET_ASPECT_RATIOS)}.",
                param="metadata.target_aspect_ratio",
            )
        body["targetAspectRatio"] = target
    return body


def _video_uri(source: SourceVideo) -> Any:
    if source.asset is not None:
        return _uri(source.asset, "video")
    if source.location and source.location.startswith("https://"):
        return source.location
    raise InvalidRequest(
        "The source video's bytes are not available to send to Runway.", param="video"
    )


def _uri(asset: Asset, param: str) -> Any:
    """How Runway gets an input: https / data: / runway:// as is, anything else inline."""
    value = asset.value
    if asset.kind == "blob":
        return Inline(asset, "data_uri")
    if asset.kind == "url":
        return value if value.startswith(("https://", "data:")) else Inline(asset, "data_uri")
    if value.startswith("runway://"):
        return value
    raise InvalidRequest(
        f"Runway cannot use a file id for '{param}'; send the file, an https URL or a "
        "runway:// upload URI.",
        param=param,
    )


# --- replies -------------------------------------------------------------------------


def _succeeded(task_id: str, body: Mapping[str, Any]) -> UpstreamState:
    output = body.get("output")
    url = output[0] if isinstance(output, list) and output else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return UpstreamState(
            task_id,
            "failed",
            raw_status="SUCCEEDED",
            error_code="upstream_no_output",
            error_message="Runway reported success but returned no output video.",
        )
    return UpstreamState(
        task_id,
        "completed",
        progress=100,
        raw_status="SUCCEEDED",
        results={"video": url},
        cost_units=_credits(body, "cost"),
    )


def _failed(task_id: str, raw: str, body: Mapping[str, Any]) -> UpstreamState:
    code = body.get("failureCode")
    code = code if isinstance(code, str) and code else None
    failure = body.get("failure")
    message = _scrub(failure) if isinstance(failure, str) and failure else "Runway failed the task."
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


def _scrub(text: str) -> str:
    """An upstream message without URLs or data URIs (they may carry hosts or tokens)."""
    return _URL.sub("<url>", text)[:500]


def _issue_text(issue: Mapping[str, Any]) -> str:
    path = ".".join(str(p) for p in issue.get("path") or [])
    message = _scrub(str(issue.get("message") or issue.get("code") or "invalid"))
    return f"{path}: {message}" if path else message


def _param(issues: list[Any]) -> str | None:
    for issue in issues:
        path = issue.get("path") if isinstance(issue, dict) else None
        if isinstance(path, list) and path and isinstance(path[0], str):
            return _FIELDS.get(path[0], path[0])
    return None
