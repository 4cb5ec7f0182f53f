"""Builds Luma Dream Machine requests and parses its replies; pure functions, no I/O.

Creates go to ``POST /generations/video`` (the official SDK's path) as JSON. Luma reads
keyframe images from URLs, so image inputs must be http(s) URLs: uploads, ``data:`` URLs
and file ids are refused before any upstream call. An extension starts from the source's
upstream generation (``keyframes.frame0 = {"type": "generation", "id"}``), so it needs a
source made on the same deployment. ``callback_url`` is never sent: vidgate polls.
Upstream messages reaching clients have generation ids and URLs masked.
"""

from __future__ import annotations

import re
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
from vidgate.providers.base import DownloadCall, HttpCall, HttpReply
from vidgate.providers.luma.spec import LEGACY_MODELS, SIZES, SPEC
from vidgate.providers.toolkit import retry_after_s
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_URL = re.compile(r"\b(?:https?|data):\S+", re.I)
_POLICY = re.compile(r"moderat|policy|safety|harmful|nsfw|not allowed|blocked", re.I)
_IMAGE_PARAMS = {"first_frame": "input_reference", "last_frame": "metadata.last_frame"}
_VARIANT_ASSET = {"video": "video", "thumbnail": "image"}


class LumaAdapter:
    """``HttpAdapter`` for the Luma Dream Machine API."""

    def auth_headers(self, deployment: Deployment, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {deployment.api_key}"} if deployment.api_key else {}

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        if request.operation not in ("create", "extend"):
            raise UnsupportedOperation(
                f"Luma has no {request.operation}; it can create and extend.", param="model"
            )
        body: dict[str, Any] = {
            "generation_type": "video",
            "model": request.upstream_model,
            "prompt": request.prompt,
        }
        ratio, resolution = _ratio_and_resolution(request)
        body["aspect_ratio"] = ratio
        if request.upstream_model not in LEGACY_MODELS:
            body["resolution"] = resolution
            body["duration"] = f"{request.seconds}s"
        keyframes = _keyframes(request)
        if keyframes:
            body["keyframes"] = keyframes
        body |= _options(request.options)
        return HttpCall("POST", "/generations/video", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/generations/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if variant not in _VARIANT_ASSET or not location:
            return None
        return DownloadCall(HttpCall("GET", location), auth=False)  # a CDN URL, unsigned

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("DELETE", f"/generations/{upstream_id}", {"Accept": "*/*"})

    def parse_state(self, reply: HttpReply) -> UpstreamState:
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
        progress = 100 if status == "completed" else 0  # Luma reports no progress
        return UpstreamState(body["id"], status, progress, raw, results=results)

    def parse_error(self, reply: HttpReply) -> GatewayError:
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


def _ratio_and_resolution(request: ResolvedRequest) -> tuple[str, str]:
    pair = SIZES.get(request.size)
    if pair is None:  # only reachable with a source video of a size Luma never makes
        raise InvalidRequest(
            f"Luma cannot make a {request.size} video; sizes: {', '.join(SIZES)}.", param="size"
        )
    return pair


def _keyframes(request: ResolvedRequest) -> dict[str, Any]:
    frames: dict[str, Any] = {}
    if request.operation == "extend":
        source = request.source
        if source is None or source.upstream_id is None:
            raise InvalidRequest(
                "Luma extends a video by its generation id, so the source video must have "
                "been made by this same Luma deployment; uploads and videos from other "
                "deployments cannot be extended here.",
                param="video",
            )
        frames["frame0"] = {"type": "generation", "id": source.upstream_id}
    for image in request.images:  # capabilities admit only first and last frames
        slot = "frame0" if image.role == "first_frame" else "frame1"
        param = _IMAGE_PARAMS.get(image.role, "metadata.reference_images")
        frames[slot] = {"type": "image", "url": _image_url(image.asset, param)}
    return frames


def _image_url(asset: Asset, param: str) -> str:
    if asset.kind == "url" and asset.value.lower().startswith(("https://", "http://")):
        return asset.value
    raise InvalidRequest(
        f"Luma needs an https image URL for '{param}' (it fetches keyframe images itself); "
        "file uploads, data: URLs and file ids cannot be passed to Luma.",
        param=param,
    )


def _options(options: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "loop" in options:
        if not isinstance(options["loop"], bool):
            raise InvalidRequest("'metadata.loop' must be true or false.", param="metadata.loop")
        out["loop"] = options["loop"]
    if "concepts" in options:
        out["concepts"] = _concepts(options["concepts"])
    return out


def _concepts(value: Any) -> list[dict[str, str]]:
    """Concepts as Luma wants them (``[{"key": ...}]``); plain strings are accepted too."""
    items = value if isinstance(value, list) else None
    concepts = []
    for item in items or [None]:
        key = item.get("key") if isinstance(item, dict) else item
        if not isinstance(key, str) or not key:
            raise InvalidRequest(
                "'metadata.concepts' must be a list of concept keys (strings or {'key': ...}).",
                param="metadata.concepts",
            )
        concepts.append({"key": key})
    return concepts


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
    if not isinstance(message, str):
        return ""
    return _URL.sub("<url>", _UUID.sub("<upstream id>", message)).strip()
