"""Builds Luma Dream Machine requests and parses its replies; pure functions, no I/O.

Creates go to ``POST /generations/video`` (the official SDK's path) as JSON. Luma reads
keyframe images from URLs, so image inputs are http(s) URLs (the spec's rules refuse
uploads, ``data:`` URLs and file ids before a job exists). An extension starts from the
source's upstream generation (``keyframes.frame0 = {"type": "generation", "id"}``), which
the rules make sure was made on the same deployment. ``callback_url`` is never sent:
vidgate polls. Upstream messages reaching clients have generation ids and URLs masked.
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
from vidgate.providers.luma.spec import LEGACY_MODELS, SIZES, SPEC
from vidgate.providers.toolkit import (
    UUID,
    completed,
    put_options,
    retry_after_s,
    scrub,
    signed_download,
)
from vidgate.values import Deployment, ResolvedRequest, UpstreamState, Variant

_POLICY = re.compile(r"moderat|policy|safety|harmful|nsfw|not allowed|blocked", re.I)
_VARIANT_ASSET = {"video": "video", "thumbnail": "image"}


class LumaAdapter:
    """``HttpAdapter`` for one Luma Dream Machine deployment."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        ratio, resolution = SIZES[request.size]
        body: dict[str, Any] = {
            "generation_type": "video",
            "model": request.upstream_model,
            "prompt": request.prompt,
            "aspect_ratio": ratio,
        }
        if request.upstream_model not in LEGACY_MODELS:
            body["resolution"] = resolution
            body["duration"] = f"{request.seconds}s"
        keyframes = _keyframes(request)
        if keyframes:
            body["keyframes"] = keyframes
        put_options(body, request, self.deployment.capabilities)
        return HttpCall("POST", "/generations/video", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/generations/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        return signed_download(variant, location, _VARIANT_ASSET)  # a CDN URL, unsigned

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("DELETE", f"/generations/{upstream_id}", {"Accept": "*/*"})

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
            raise UpstreamError("Luma returned a malformed generation object.")
        raw = body.get("state")
        if not isinstance(raw, str) or not raw:
            raise UpstreamError("Luma returned a generation without a state.")
        status = SPEC.map_status(raw)
        assets = body["assets"] if isinstance(body.get("assets"), dict) else {}
        results = {
            variant: assets[key]
            for variant, key in _VARIANT_ASSET.items()
            if isinstance(assets.get(key), str) and assets[key]
        }
        if status == "failed":
            reason = _scrub(body.get("failure_reason")) or "Luma reported the generation failed."
            code = "content_policy_violation" if _POLICY.search(reason) else "generation_failed"
            return UpstreamState(body["id"], "failed", 0, raw, code, reason)
        if status == "completed" and "video" not in results:
            message = "Luma reported the generation completed but returned no video."
            return UpstreamState(body["id"], "failed", 0, raw, "upstream_no_result", message)
        if status == "completed":
            return completed(body["id"], raw, results)
        return UpstreamState(body["id"], status, 0, raw)  # Luma reports no progress

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        message, param = _detail(reply.body)
        text = f"Luma rejected the request: {message}" if message else "Luma rejected the request."
        if reply.status in (400, 422):
            return InvalidRequest(text, param=param, code="invalid_request")
        if reply.status in (401, 403):
            return UpstreamAuthError("Luma rejected this deployment's API key.")
        if reply.status == 402:
            return UpstreamError(
                "The Luma account of this deployment has insufficient credits.",
                code="upstream_insufficient_credits",
            )
        if reply.status == 404:
            return NotFound(f"Luma has no such generation. {message}".strip())
        if reply.status == 429:
            return RateLimited(
                f"Luma is rate limiting this deployment. {message}".strip(),
                retry_after_s=retry_after_s(reply.headers),
            )
        return UpstreamError(f"Luma failed with HTTP {reply.status}. {message}".strip())


def _keyframes(request: ResolvedRequest) -> dict[str, Any]:
    """``frame0``/``frame1``: the source generation of an extension, image URLs (the spec's
    rules make sure of both; capabilities admit only first and last frames)."""
    frames: dict[str, Any] = {}
    if request.operation == "extend" and request.source is not None:
        frames["frame0"] = {"type": "generation", "id": request.source.upstream_id}
    for image in request.images:
        slot = "frame0" if image.role == "first_frame" else "frame1"
        frames[slot] = {"type": "image", "url": image.asset.value}
    return frames


def _detail(body: Any) -> tuple[str, str | None]:
    """The message (and the offending field, for validation errors) of a Luma error body:
    ``{"detail": "..."}`` or FastAPI's ``{"detail": [{"loc", "msg", "type"}]}``."""
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, str):
        return _scrub(detail), None
    if isinstance(detail, list):
        messages, param = [], None
        for item in detail:
            if not isinstance(item, dict):
                continue
            loc = [str(p) for p in item.get("loc") or [] if p != "body"]
            if loc and param is None:
                param = ".".join(loc)
            text = _scrub(item.get("msg"))
            messages.append(f"{'.'.join(loc)}: {text}" if loc else text)
        return "; ".join(m for m in messages if m), param
    return "", None


def _scrub(message: Any) -> str:
    """An upstream message without generation ids or URLs (clients only see vidgate's)."""
    return scrub(message, (UUID, "<upstream id>"))
