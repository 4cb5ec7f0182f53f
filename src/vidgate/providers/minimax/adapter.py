"""Builds MiniMax Hailuo requests and parses replies for one deployment; no I/O, no state.

**Protocols per model.** MiniMax-H3 speaks the v2 content-array API; every other model the
v1 API. A submit's reply is read with the request it answers (``CallContext``); v2 upstream
ids are kept as ``v2:<task_id>`` so a poll or delete can never take the wrong path. Requests
were checked against the model (options, 10 s only below 1080P, image-only and subject
models) before the job: the adapter only writes them.

**Errors arrive as HTTP 200** with a non-zero ``base_resp.status_code``; ``parse_state``
raises the mapped ``GatewayError`` for them (dispatch only calls ``parse_error`` for HTTP
>= 400). A v1 query that reports ``Fail``/``Failed`` is a failed job, whatever the code.

**The v1 result is two calls away.** A ``Success`` query carries only a ``file_id``;
``GET /v1/files/retrieve`` turns it into ``file.download_url``. The adapter keeps no state for
it: the poll that sees ``Success`` answers ``in_progress`` (99 %, poll again at once) under the
moved id ``<task_id>|file:<file_id>``, which the poller saves on the job; ``build_poll`` for
such an id is the retrieve call, and its reply completes the job with the download URL. The
retrieve reply names no task, so its state carries the id the poll asked about (the
``CallContext``): the job keeps ``<task_id>|file:<file_id>``.
If the move is not saved the next poll queries again and sees ``Success`` again; a failed
retrieve is a failed poll, retried with the same id — so no task is lost or completed twice.
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
    UpstreamTimeout,
)
from vidgate.providers.base import CallContext, DownloadCall, HttpCall, HttpReply
from vidgate.providers.minimax.spec import H3_SIZES, SPEC, V1_RESOLUTIONS, V2_MODELS
from vidgate.providers.toolkit import (
    completed,
    failed,
    is_int_text,
    no_output,
    put_options,
    retry_after_s,
    scrub,
    signed_download,
    url_or_inline,
)
from vidgate.values import Deployment, ModelCapabilities, ResolvedRequest, UpstreamState, Variant

V2_PREFIX = "v2:"
RATE_LIMIT_RETRY_S = 10.0
"""Retry hint for a ``1002`` inside HTTP 200 (MiniMax sends no header with it)."""
FILE_SEP = "|file:"
"""Joins a v1 task id and the file id of its ``Success``: ``<task_id>|file:<file_id>``."""
SERIES_01 = frozenset(
    {"T2V-01", "T2V-01-Director", "I2V-01", "I2V-01-Director", "I2V-01-live", "S2V-01"}
)
MODERATION_CODES = frozenset({1026, 1027})
_SECRET = (re.compile(r"Bearer\s+\S+|[A-Za-z0-9+/_=-]{40,}", re.IGNORECASE), "<redacted>")
"""Tokens ``errors.client_text`` does not know the shape of (it hides URLs and keys)."""
_V2_ROLES = {
    "first_frame": "first_frame",
    "last_frame": "last_frame",
    "reference": "reference_image",
}


class MinimaxAdapter:
    """``HttpAdapter`` for one MiniMax deployment (v1 and, for MiniMax-H3, v2)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.v2 = deployment.model in V2_MODELS

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        caps = self.deployment.capabilities
        if request.upstream_model in V2_MODELS:
            return HttpCall("POST", "/v2/video_generation", json=_v2_body(request, caps))
        return HttpCall("POST", "/v1/video_generation", json=_v1_body(request, caps))

    def build_poll(self, upstream_id: str) -> HttpCall:
        if upstream_id.startswith(V2_PREFIX):
            return HttpCall("GET", f"/v2/query/video_generation/{upstream_id[len(V2_PREFIX) :]}")
        task_id, file_id = split_file_id(upstream_id)
        if file_id is not None:
            return HttpCall("GET", "/v1/files/retrieve", params={"file_id": file_id})
        return HttpCall("GET", "/v1/query/video_generation", params={"task_id": task_id})

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        return signed_download(variant, location)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        if upstream_id.startswith(V2_PREFIX):
            return HttpCall("DELETE", f"/v2/video_generation/{upstream_id[len(V2_PREFIX) :]}")
        return None  # v1 has no cancel or delete

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict):
            raise UpstreamError("MiniMax returned a malformed reply.")
        if isinstance(body.get("task"), dict):
            _raise_business_error(body, reply.headers)
            return _v2_task(body["task"])
        if "status" in body and "task_id" in body:
            return _v1_query(body, reply.headers)
        _raise_business_error(body, reply.headers)
        if isinstance(body.get("file"), dict):
            return _v1_file(context.upstream_id or "", body["file"])
        task_id = _id(body.get("task_id"))
        if task_id is None:
            raise UpstreamError("MiniMax returned a malformed reply.")
        sent = context.request
        v2 = sent.upstream_model in V2_MODELS if sent is not None else self.v2
        upstream_id = V2_PREFIX + task_id if v2 else task_id
        return UpstreamState(upstream_id, "queued", raw_status="Queueing")

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        code, message = _base_resp(body)
        text = f"{message} ({code})" if message and code else message or ""
        status = reply.status
        if status in (400, 422):
            return InvalidRequest(
                f"MiniMax rejected the request: {text}" if text else "MiniMax rejected it."
            )
        if status in (401, 403):
            return UpstreamAuthError("MiniMax rejected this deployment's API key.")
        if status == 404:
            return NotFound(f"MiniMax: {text}" if text else "MiniMax has no such task.")
        if status == 429:
            return RateLimited(
                f"MiniMax rate limit: {text}" if text else "MiniMax rate limit reached.",
                retry_after_s=retry_after_s(reply.headers),
            )
        return UpstreamError(f"MiniMax failed with HTTP {status}. {text}".strip())


# --- request bodies --------------------------------------------------------------------


def _v1_body(request: ResolvedRequest, caps: ModelCapabilities) -> dict[str, Any]:
    model = request.upstream_model
    body: dict[str, Any] = {"model": model, "prompt": request.prompt}
    if model not in SERIES_01:  # the 01 series has one duration and resolution: send neither
        body["duration"] = request.seconds
        body["resolution"] = V1_RESOLUTIONS[request.size]
    first, last = request.image("first_frame"), request.image("last_frame")
    reference = request.image("reference")
    if first is not None:
        body["first_frame_image"] = url_or_inline(first)
    if last is not None:
        body["last_frame_image"] = url_or_inline(last)
    if reference is not None:
        image = url_or_inline(reference)
        body["subject_reference"] = [{"type": "character", "image": [image]}]
    put_options(body, request, caps)
    return body


def _v2_body(request: ResolvedRequest, caps: ModelCapabilities) -> dict[str, Any]:
    ratio, resolution = H3_SIZES[request.size]
    content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
    for item in request.images:
        url = url_or_inline(item.asset)
        content.append(
            {"type": "image_url", "image_url": {"url": url}, "role": _V2_ROLES[item.role]}
        )
    body: dict[str, Any] = {
        "model": request.upstream_model,
        "content": content,
        "resolution": resolution,
        "duration": request.seconds,
        "ratio": ratio,
    }
    put_options(body, request, caps)
    return body


# --- replies ---------------------------------------------------------------------------


def split_file_id(upstream_id: str) -> tuple[str, str | None]:
    """``(task_id, file_id)`` of a v1 id; ``file_id`` is set once ``Success`` was seen."""
    task_id, sep, file_id = upstream_id.partition(FILE_SEP)
    return (task_id, file_id) if sep and file_id else (task_id, None)


def _v1_query(body: Mapping[str, Any], headers: Mapping[str, str]) -> UpstreamState:
    task_id = _id(body.get("task_id"))
    raw = body.get("status")
    if task_id is None or not isinstance(raw, str):
        raise UpstreamError("MiniMax returned a malformed task.")
    status = SPEC.map_status(raw)
    if status == "failed":
        return _v1_failed(task_id, raw, body)
    _raise_business_error(body, headers)
    if raw != "Success":
        return UpstreamState(task_id, status, raw_status=raw)
    file_id = _id(body.get("file_id"))
    if file_id is None:
        return no_output(task_id, raw, "MiniMax")
    return UpstreamState(
        task_id + FILE_SEP + file_id, "in_progress", progress=99, raw_status=raw, poll_after_s=0
    )


def _v1_file(upstream_id: str, file: Mapping[str, Any]) -> UpstreamState:
    """A ``files/retrieve`` reply; it names no task: the job keeps the id it was polled by."""
    if _id(file.get("file_id")) is None:
        raise UpstreamError("MiniMax returned a malformed file object.")
    url = file.get("download_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return no_output(upstream_id, "Success", "MiniMax")
    return completed(upstream_id, "Success", {"video": url})


def _v1_failed(task_id: str, raw: str, body: Mapping[str, Any]) -> UpstreamState:
    code, message = _base_resp(body)
    reason = f"{message} ({code})" if message and code else ""
    return failed(task_id, raw, "MiniMax", reason, _failure_code(code or None))


def _v2_task(task: Mapping[str, Any]) -> UpstreamState:
    task_id = _id(task.get("id"))
    raw = task.get("status")
    if task_id is None or not isinstance(raw, str):
        raise UpstreamError("MiniMax returned a malformed task.")
    upstream_id = V2_PREFIX + task_id
    status = SPEC.map_status(raw)
    if raw == "succeeded":
        content = task.get("content")
        url = content.get("url") if isinstance(content, Mapping) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return no_output(upstream_id, raw, "MiniMax")
        return completed(upstream_id, raw, {"video": url})
    if status == "failed":
        return _v2_failed(upstream_id, raw, task.get("error"))
    return UpstreamState(upstream_id, status, raw_status=raw)


def _v2_failed(upstream_id: str, raw: str, error: Any) -> UpstreamState:
    if raw in ("cancelled", "expired"):
        return UpstreamState(
            upstream_id,
            "failed",
            raw_status=raw,
            error_code=raw,
            error_message=f"The task was {raw} at MiniMax.",
        )
    error = error if isinstance(error, Mapping) else {}
    code = _int(error.get("code"))
    message = scrub(str(error.get("message") or ""), _SECRET)
    reason = f"{message} ({code})" if message and code else message
    return failed(upstream_id, raw, "MiniMax", reason, _failure_code(code))


def _raise_business_error(body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
    code, message = _base_resp(body)
    if code:
        raise business_error(code, message, headers)


def business_error(code: int, message: str, headers: Mapping[str, str]) -> GatewayError:
    """The gateway error for a non-zero ``base_resp.status_code``."""
    text = f"MiniMax: {message} ({code})" if message else f"MiniMax error {code}."
    if code in (1002, 1039):
        return RateLimited(text, retry_after_s=retry_after_s(headers) or RATE_LIMIT_RETRY_S)
    if code in (1028, 1030):
        return RateLimited(
            text, code="upstream_quota_exhausted", retry_after_s=retry_after_s(headers)
        )
    if code in (1004, 2049):
        return UpstreamAuthError(f"MiniMax rejected this deployment's API key. ({code})")
    if code == 1008:
        return UpstreamError(
            f"The MiniMax account of this deployment has insufficient balance. ({code})",
            code="upstream_insufficient_balance",
        )
    if code == 2061:
        return UpstreamError(
            f"This deployment's MiniMax plan does not include the model. ({code})",
            code="upstream_model_not_in_plan",
        )
    if code in MODERATION_CODES:
        return InvalidRequest(text, code="moderation_blocked")
    if code == 2013:
        return InvalidRequest(text)
    if code == 1001:
        return UpstreamTimeout(text)
    return UpstreamError(text)


def _failure_code(code: int | None) -> str:
    return "moderation_blocked" if code in MODERATION_CODES else "upstream_failed"


def _base_resp(body: Mapping[str, Any]) -> tuple[int, str]:
    """``base_resp``'s code (0 when absent) and its scrubbed message."""
    base = body.get("base_resp")
    if not isinstance(base, Mapping):
        return 0, ""
    return _int(base.get("status_code")) or 0, scrub(str(base.get("status_msg") or ""), _SECRET)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and is_int_text(value.strip().lstrip("-")):
        return int(value)
    return None


def _id(value: Any) -> str | None:
    """An id as a string: the query's ``file_id`` is a string, retrieve's a JSON number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
