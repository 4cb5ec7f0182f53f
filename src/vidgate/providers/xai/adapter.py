"""Builds xAI Grok Imagine video REST calls and parses replies; pure functions, no I/O.

xAI's official ``xai-sdk`` speaks gRPC, so this follows the documented REST API directly.
Quirks honoured here (``shared/reference/providers/xai.md``):

- the create answers only ``{"request_id"}``; a poll body without ``status`` means running;
- failures come back as HTTP 200 with ``status: "failed"`` and ``error: {code, message}``;
  ``expired`` is terminal and a failure; ``done`` is a success only with a ``video.url``;
- a bad API key is an HTTP **400** whose message says so: it becomes ``UpstreamAuthError``;
- cost is reported as ``usage.cost_in_usd_ticks`` (1 tick = 1e-10 USD);
- ``output.upload_url`` (xAI PUTs to caller storage) is never sent.
"""

from __future__ import annotations

import re
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
    UUID,
    put_options,
    retry_after_s,
    scrub,
    signed_download,
    url_or_inline,
)
from vidgate.providers.xai.spec import SIZES, SPEC
from vidgate.values import Deployment, ResolvedRequest, UpstreamState, Variant

DEFAULT_RETRY_AFTER_S = 2.0
"""xAI is not known to send rate-limit headers on a 429; back off this long then."""

_BAD_KEY = re.compile(r"\b(incorrect|invalid|missing|no)\b.{0,20}\bapi[ _-]?key\b", re.I)
_HOST = re.compile(r"[a-z0-9.-]+\.x\.ai\b", re.I)
"""An xAI host on its own (``client_text`` hides a URL as a whole)."""


class XAIAdapter:
    """``HttpAdapter`` for one deployment of the xAI video REST API (paths relative to
    ``.../v1``)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        aspect_ratio, resolution = SIZES[request.size]
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "model": request.upstream_model,
            "duration": request.seconds,
            "aspect_ratio": aspect_ratio,
            "resolution": resolution,
        }
        image = request.image("first_frame")
        if image is not None:
            body["image"] = {"url": url_or_inline(image)}
        put_options(body, request, self.deployment.capabilities)
        return HttpCall("POST", "/videos/generations", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/videos/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        return signed_download(variant, location)  # a temporary CDN URL, no credentials

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return None  # no cancel or delete endpoint is documented

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict):
            raise UpstreamError("xAI returned a malformed video status.")
        request_id = body.get("request_id")
        raw = body.get("status")
        if raw is None and not isinstance(request_id, str):
            raise UpstreamError("xAI returned a video status without 'status' or 'request_id'.")
        if raw is not None and not isinstance(raw, str):
            raise UpstreamError("xAI returned a non-string video status.")
        raw = raw or ""
        # a poll's body need not repeat the id: it is the one asked about
        upstream_id = request_id if isinstance(request_id, str) else context.upstream_id or ""
        cost = _ticks(body.get("usage"))
        status = SPEC.map_status(raw)
        if status == "completed":
            return _done(upstream_id, raw, body, cost)
        if status == "failed":
            code, message = _failure(raw, body.get("error"))
            return UpstreamState(upstream_id, "failed", 0, raw, code, message, cost_units=cost)
        return UpstreamState(upstream_id, status, 0, raw, cost_units=cost)

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        message = _error_message(reply.body)
        if reply.status in (401, 403) or (reply.status == 400 and _BAD_KEY.search(message)):
            return UpstreamAuthError("xAI rejected this deployment's API key.")
        text = f"xAI rejected the request: {message}" if message else "xAI rejected the request."
        if reply.status in (400, 422):
            return InvalidRequest(text, code="invalid_request")
        if reply.status == 404:
            return NotFound(text)
        if reply.status == 429:
            wait = retry_after_s(reply.headers)
            return RateLimited(
                f"xAI rate limit: {message}" if message else "xAI rate limit reached.",
                retry_after_s=DEFAULT_RETRY_AFTER_S if wait is None else wait,
            )
        detail = f" {message}" if message else ""
        return UpstreamError(f"xAI failed with HTTP {reply.status}.{detail}")


def _done(upstream_id: str, raw: str, body: dict[str, Any], cost: float | None) -> UpstreamState:
    """``done`` is a success only with a video URL and no error (positive check)."""
    error = body.get("error")
    if isinstance(error, dict) and (error.get("code") or error.get("message")):
        code, message = _failure(raw, error)
        return UpstreamState(upstream_id, "failed", 0, raw, code, message, cost_units=cost)
    video = body.get("video")
    url = video.get("url") if isinstance(video, dict) else None
    if not isinstance(url, str) or not url:
        return UpstreamState(
            upstream_id,
            "failed",
            0,
            raw,
            "no_result",
            "xAI reported the video as done but returned no video URL.",
            cost_units=cost,
        )
    return UpstreamState(
        upstream_id, "completed", 100, raw, results={"video": url}, cost_units=cost
    )


def _failure(raw: str, error: Any) -> tuple[str, str]:
    if raw == "expired":
        return "expired", "The xAI video request expired before it finished."
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    message = _scrub(error.get("message"))
    return (
        code if isinstance(code, str) and code else "upstream_failed",
        message or "xAI reported the video generation as failed.",
    )


def _ticks(usage: Any) -> float | None:
    ticks = usage.get("cost_in_usd_ticks") if isinstance(usage, dict) else None
    if isinstance(ticks, bool) or not isinstance(ticks, int | float) or ticks < 0:
        return None
    return float(ticks)


def _error_message(body: Any) -> str:
    """The message of xAI's ``{"code", "error"}`` envelope (or the OpenAI shape, or text).

    xAI's ``code`` is a gRPC status phrase ("Client specified an invalid argument"), not a
    machine code worth passing on; the gateway's own error codes are used instead.
    """
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # OpenAI-style, as relays answer
            return _scrub(error.get("message"))
        return _scrub(error if isinstance(error, str) else body.get("message"))
    if isinstance(body, str):
        return _scrub(body[:300])
    return ""


def _scrub(message: Any) -> str:
    """A message fit for clients: no upstream hosts or URLs, no upstream ids."""
    return scrub(message, (_HOST, "<url>"), (UUID, "<id>"))
