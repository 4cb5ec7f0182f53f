"""Builds DashScope video-synthesis requests and parses replies; pure functions, no I/O.

Every call carries ``Authorization: Bearer <key>``; the create also carries the mandatory
``X-DashScope-Async: enable`` (without it DashScope refuses the call). Bodies are
``{model, input: {...}, parameters: {...}}``:

- text-to-video: ``input.prompt`` (+ ``negative_prompt``), ``parameters.size`` ``"W*H"``;
- image-to-video: ``input.img_url`` and ``parameters.resolution`` (``480P``/``720P``/``1080P``)
  instead of a size;
- first/last frame (``kf2v`` models, on ``/services/aigc/image2video/...``):
  ``input.first_frame_url`` / ``input.last_frame_url`` and ``parameters.resolution``.

Images go as they are when they are http(s) URLs or ``data:`` URIs, and inline as ``data:``
URIs when the gateway holds the bytes. Polls read ``output.task_status``: ``PENDING`` →
queued, ``RUNNING`` → in progress, ``SUCCEEDED`` with an ``output.video_url`` → completed,
``FAILED`` (``output.code``/``message``) and ``CANCELED`` → failed. ``UNKNOWN`` means the
task expired (24 h) or was never issued: it is raised as ``NotFound`` so the poller looks
again a few times and then fails the job — a young task is never failed on one answer.
Errors are ``{"request_id", "code", "message"}`` with the HTTP status.
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
from vidgate.providers.toolkit import retry_after_s
from vidgate.providers.wan.spec import (
    KF2V_PATH,
    KIND,
    MAX_NEGATIVE_PROMPT_CHARS,
    MAX_SEED,
    PRICES,
    SPEC,
    T2V_PATH,
    TIER,
)
from vidgate.values import Asset, Deployment, Pricing, ResolvedRequest, UpstreamState, Variant

DEFAULT_RETRY_AFTER_S = 2.0
"""DashScope sends no ``Retry-After``; quotas are per minute, so back off a little."""
_URL = re.compile(r"(?:https?|oss)://\S+|data:[^\s,]*,\S+")
_PARAMS = (  # upstream field named in a message → the client's parameter
    ("negative_prompt", "metadata.negative_prompt"),
    ("last_frame_url", "metadata.last_frame"),
    ("first_frame_url", "input_reference"),
    ("img_url", "input_reference"),
    ("audio_url", "metadata.audio_url"),
    ("resolution", "size"),
    ("size", "size"),
    ("duration", "seconds"),
    ("seed", "seed"),
    ("prompt_extend", "metadata.prompt_extend"),
    ("watermark", "metadata.watermark"),
    ("prompt", "prompt"),
)


class WanAdapter:
    """``HttpAdapter`` for DashScope's async video synthesis (Wan models)."""

    def __init__(self, model: str | None = None) -> None:
        self.model = model
        """The deployment's upstream model: it prices the usage a finished task reports."""

    @classmethod
    def for_deployment(cls, deployment: Deployment) -> WanAdapter:
        return cls(deployment.model)

    def auth_headers(self, deployment: Deployment, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {deployment.api_key}"} if deployment.api_key else {}

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        if request.operation != "create":
            raise UnsupportedOperation(
                f"DashScope has no {request.operation} for model '{request.upstream_model}'.",
                param="model",
            )
        kind = KIND.get(request.upstream_model, "t2v")
        body = {
            "model": request.upstream_model,
            "input": _input(request, kind),
            "parameters": _parameters(request, deployment, kind),
        }
        path = KF2V_PATH if kind == "kf2v" else T2V_PATH
        return HttpCall("POST", path, headers={"X-DashScope-Async": "enable"}, json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/tasks/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if variant != "video" or not location or not location.startswith(("https:", "http:")):
            return None
        return DownloadCall(HttpCall("GET", location), auth=False)  # a signed OSS URL

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        """DashScope can only cancel a ``PENDING`` task; anything else is refused (and the
        gateway only logs that): finished results expire upstream after 24 h anyway."""
        return HttpCall("POST", f"/tasks/{upstream_id}/cancel")

    def parse_state(self, reply: HttpReply) -> UpstreamState:
        body = reply.body if isinstance(reply.body, dict) else {}
        output = body.get("output")
        task_id = output.get("task_id") if isinstance(output, dict) else None
        raw = output.get("task_status") if isinstance(output, dict) else None
        if not isinstance(task_id, str) or not task_id or not isinstance(raw, str) or not raw:
            raise UpstreamError("DashScope returned a malformed task object.")
        assert isinstance(output, dict)
        if raw == "UNKNOWN":
            raise NotFound(
                "DashScope reports the task as UNKNOWN: it expired (24 h) or was never issued."
            )
        if raw == "SUCCEEDED":
            return self._succeeded(task_id, output, body.get("usage"))
        if raw == "CANCELED":
            return UpstreamState(
                task_id,
                "failed",
                raw_status=raw,
                error_code="cancelled",
                error_message="The task was canceled at DashScope.",
            )
        status = SPEC.map_status(raw)
        if status == "failed":
            return _failed(task_id, raw, output)
        return UpstreamState(task_id, status, progress=0, raw_status=raw)

    def parse_error(self, reply: HttpReply) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        code = str(body.get("code") or "")
        found = body.get("message")
        message = _scrub(found) if isinstance(found, str) else ""
        text = f"{message} ({code})" if code and message else message or code
        status = reply.status
        if code == "Arrearage":
            return UpstreamError(
                "The DashScope account of this deployment is in arrears.",
                code="upstream_insufficient_credits",
            )
        if code == "DataInspectionFailed":
            return InvalidRequest(
                f"DashScope's content moderation rejected the input: {text}",
                code="moderation_blocked",
            )
        if status in (400, 422):
            return InvalidRequest(f"DashScope rejected the request: {text}", param=_param(message))
        if status in (401, 403):
            return UpstreamAuthError(f"DashScope rejected this deployment's API key: {text}")
        if status == 404:
            return NotFound(f"DashScope: {text}" if text else "DashScope has no such task.")
        if status == 429 or code.startswith("Throttling"):
            return RateLimited(
                f"DashScope rate limit: {text}" if text else "DashScope rate limit reached.",
                retry_after_s=retry_after_s(reply.headers) or DEFAULT_RETRY_AFTER_S,
            )
        return UpstreamError(f"DashScope failed with HTTP {status}. {text}".strip())

    def _succeeded(self, task_id: str, output: Mapping[str, Any], usage: Any) -> UpstreamState:
        url = output.get("video_url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return UpstreamState(
                task_id,
                "failed",
                raw_status="SUCCEEDED",
                error_code="upstream_no_output",
                error_message="DashScope reported success but returned no video_url.",
            )
        pricing = PRICES.get(self.model or "")
        return UpstreamState(
            task_id,
            "completed",
            progress=100,
            raw_status="SUCCEEDED",
            results={"video": url},
            cost_units=cost_units(usage, pricing) if pricing else None,
        )


# --- request bodies ------------------------------------------------------------------


def _input(request: ResolvedRequest, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = {"prompt": request.prompt}
    if request.negative_prompt:
        if len(request.negative_prompt) > MAX_NEGATIVE_PROMPT_CHARS:
            raise InvalidRequest(
                f"'metadata.negative_prompt' is too long for DashScope: at most "
                f"{MAX_NEGATIVE_PROMPT_CHARS} characters.",
                param="metadata.negative_prompt",
                code="string_above_max_length",
            )
        data["negative_prompt"] = request.negative_prompt
    first, last = request.image("first_frame"), request.image("last_frame")
    if kind != "t2v" and first is None:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' makes video from an image: "
            "'input_reference' is required.",
            param="input_reference",
        )
    if first is not None:
        key = "img_url" if kind == "i2v" else "first_frame_url"
        data[key] = _image(first, "input_reference")
    if last is not None:
        data["last_frame_url"] = _image(last, "metadata.last_frame")
    audio_url = request.options.get("audio_url")
    if audio_url is not None:
        if not isinstance(audio_url, str) or not audio_url.startswith(("https://", "http://")):
            raise InvalidRequest(
                "'metadata.audio_url' must be an http(s) URL of a wav or mp3 file.",
                param="metadata.audio_url",
            )
        data["audio_url"] = audio_url
    return data


def _parameters(request: ResolvedRequest, deployment: Deployment, kind: str) -> dict[str, Any]:
    params: dict[str, Any] = {"duration": request.seconds}
    if kind == "t2v":
        params["size"] = f"{request.width}*{request.height}"
    else:
        tier = TIER.get(request.size)
        if tier is None:
            raise InvalidRequest(
                f"Invalid value for 'size': '{request.size}' has no DashScope resolution tier.",
                param="size",
            )
        params["resolution"] = tier
    if request.seed is not None:
        if not 0 <= request.seed <= MAX_SEED:
            raise InvalidRequest(
                f"Invalid value for 'seed': {request.seed}; DashScope takes 0 to {MAX_SEED}.",
                param="seed",
            )
        params["seed"] = request.seed
    if deployment.capabilities.audio is not None and request.audio is not None:
        params["audio"] = request.audio
    for key in ("prompt_extend", "watermark"):
        value = request.options.get(key)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise InvalidRequest(
                f"'metadata.{key}' must be true or false.", param=f"metadata.{key}"
            )
        params[key] = value
    return params


def _image(asset: Asset, param: str) -> Any:
    """DashScope fetches public http(s) URLs and takes base64 ``data:`` URIs."""
    if asset.kind == "blob":
        return Inline(asset, "data_uri")
    if asset.kind == "url":
        if asset.value.startswith(("https://", "http://", "data:")):
            return asset.value
        return Inline(asset, "data_uri")
    raise InvalidRequest(
        f"DashScope cannot use a file id for '{param}'; send the image or an http(s) URL.",
        param=param,
    )


# --- replies -------------------------------------------------------------------------


def cost_units(usage: Any, pricing: Pricing) -> float | None:
    """The price of a finished task in ``pricing.unit``, from the usage DashScope reports:
    ``video_duration`` (older models: ``duration``) times ``video_count`` at the tier of ``SR``
    (or of ``video_ratio``)."""
    if not isinstance(usage, Mapping):
        return None
    seconds = _number(usage.get("video_duration"))
    if seconds is None:
        seconds = _number(usage.get("duration"))
    count = _number(usage.get("video_count"))
    tier = _tier(usage)
    if seconds is None or tier is None:
        return None
    rate = pricing.per_second.get(tier, pricing.per_second.get("*"))
    if rate is None:
        return None
    return round(rate * seconds * (1 if count is None else count), 6)


def _tier(usage: Mapping[str, Any]) -> str | None:
    sr = _number(usage.get("SR"))
    if sr is not None:
        return f"{int(sr)}p"
    ratio = usage.get("video_ratio")
    if isinstance(ratio, str):
        tier = TIER.get(ratio.replace("*", "x"))
        return tier.lower() if tier else None
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _failed(task_id: str, raw: str, output: Mapping[str, Any]) -> UpstreamState:
    code = output.get("code")
    code = code if isinstance(code, str) and code else None
    found = output.get("message")
    message = _scrub(found) if isinstance(found, str) and found else "DashScope failed the task."
    return UpstreamState(
        task_id,
        "failed",
        raw_status=raw,
        error_code=_failure_code(code),
        error_message=f"{message} ({code})" if code else message,
    )


def _failure_code(code: str | None) -> str:
    """A gateway error code for a failed task's ``output.code``."""
    if code is None:
        return "upstream_failed"
    if code.startswith("DataInspection") or "Moderation" in code:
        return "moderation_blocked"
    if code.startswith("InvalidParameter") or code.startswith("InvalidFile"):
        return "invalid_input"
    return "upstream_failed"


def _scrub(text: str) -> str:
    """An upstream message without URLs or data URIs (they may carry hosts or signatures)."""
    return _URL.sub("<url>", text)[:500]


def _param(message: str) -> str | None:
    for field, param in _PARAMS:
        if re.search(rf"\b{field}\b", message):
            return param
    return None
