"""Builds DashScope video-synthesis requests and parses replies for one deployment; pure,
no I/O.

Every call carries ``Authorization: Bearer <key>``; the create also carries the mandatory
``X-DashScope-Async: enable`` (without it DashScope refuses the call). Bodies are
``{model, input: {...}, parameters: {...}}``:

- text-to-video: ``input.prompt`` (+ ``negative_prompt``), ``parameters.size`` ``"W*H"``;
- image-to-video: ``input.img_url`` and ``parameters.resolution`` (``480P``/``720P``/``1080P``)
  instead of a size;
- first/last frame (``kf2v`` models, on ``/services/aigc/image2video/...``):
  ``input.first_frame_url`` / ``input.last_frame_url`` and ``parameters.resolution``.

The options go where the spec's table says (``parameters.prompt_extend``,
``parameters.watermark``, ``input.audio_url``); everything the table and the spec's rules
say was checked before the job existed. Images go as they are when they are http(s) URLs,
and inline as ``data:`` URIs otherwise (uploads, ``data:`` URLs). Polls read
``output.task_status``: ``PENDING`` → queued, ``RUNNING`` → in progress, ``SUCCEEDED`` with
an ``output.video_url`` → completed (its ``usage`` priced at the deployment's price),
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
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, DownloadCall, HttpCall, HttpReply
from vidgate.providers.toolkit import (
    completed,
    no_output,
    put_options,
    retry_after_s,
    scrub,
    signed_download,
    url_or_inline,
)
from vidgate.providers.wan.spec import KF2V_PATH, KIND, PRICES, SPEC, T2V_PATH, TIER
from vidgate.values import Deployment, Pricing, ResolvedRequest, UpstreamState, Variant

DEFAULT_RETRY_AFTER_S = 2.0
"""DashScope sends no ``Retry-After``; quotas are per minute, so back off a little."""
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


def deployment_pricing(deployment: Deployment) -> Pricing | None:
    """The price a deployment settles at, as the ledger reads it: its configured ``pricing``,
    else its model's (or its ``base_model``'s) list price."""
    base = deployment.options.get("base_model")
    listed = PRICES.get(deployment.model) or (PRICES.get(base) if isinstance(base, str) else None)
    return deployment.pricing or listed


class WanAdapter:
    """``HttpAdapter`` for one deployment of DashScope's async video synthesis (Wan models)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.pricing = deployment_pricing(deployment)
        """Prices the usage a finished task reports (``cost_units`` in its ``unit``)."""

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        kind = KIND.get(request.upstream_model, "t2v")
        body = {
            "model": request.upstream_model,
            "input": _input(request, kind),
            "parameters": self._parameters(request, kind),
        }
        put_options(body, request, self.deployment.capabilities)
        path = KF2V_PATH if kind == "kf2v" else T2V_PATH
        return HttpCall("POST", path, headers={"X-DashScope-Async": "enable"}, json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/tasks/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        return signed_download(variant, location)  # a signed OSS URL

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        """DashScope can only cancel a ``PENDING`` task; anything else is refused (and the
        gateway only logs that): finished results expire upstream after 24 h anyway."""
        return HttpCall("POST", f"/tasks/{upstream_id}/cancel")

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
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

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        code = str(body.get("code") or "")
        message = scrub(body.get("message"))
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

    def _parameters(self, request: ResolvedRequest, kind: str) -> dict[str, Any]:
        params: dict[str, Any] = {"duration": request.seconds}
        if kind == "t2v":
            params["size"] = f"{request.width}*{request.height}"
        else:  # every size of the spec has a tier
            params["resolution"] = TIER[request.size]
        if request.seed is not None:
            params["seed"] = request.seed
        if self.deployment.capabilities.audio is not None and request.audio is not None:
            params["audio"] = request.audio
        return params

    def _succeeded(self, task_id: str, output: Mapping[str, Any], usage: Any) -> UpstreamState:
        url = output.get("video_url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return no_output(task_id, "SUCCEEDED", "DashScope")
        units = cost_units(usage, self.pricing) if self.pricing else None
        return completed(task_id, "SUCCEEDED", {"video": url}, units)


# --- request bodies ------------------------------------------------------------------


def _input(request: ResolvedRequest, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = {"prompt": request.prompt}
    if request.negative_prompt:
        data["negative_prompt"] = request.negative_prompt
    first, last = request.image("first_frame"), request.image("last_frame")
    if first is not None:
        key = "img_url" if kind == "i2v" else "first_frame_url"
        data[key] = url_or_inline(first)
    if last is not None:
        data["last_frame_url"] = url_or_inline(last)
    return data


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
    message = scrub(output.get("message")) or "DashScope failed the task."
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


def _param(message: str) -> str | None:
    for field, param in _PARAMS:
        if re.search(rf"\b{field}\b", message):
            return param
    return None
