"""Builds Vidu API requests and parses replies for one deployment; pure, no I/O.

The endpoint follows the images (``spec.endpoint``): none → ``text2video``, a first frame →
``img2video``, a first and a last frame → ``start-end2video`` (``images: [first, last]``),
reference images → ``reference2video`` (``images: [...]``). ``size`` becomes ``resolution``
(its tier) and, for text and reference, ``aspect_ratio``; ``seconds`` → ``duration``. Images
go as https URLs or ``data:`` URIs (uploads and ``data:`` URLs are inlined as
``data:<type>;base64,...``, the form Vidu names). Every call carries
``Authorization: Token <key>`` (the word ``Token``, not ``Bearer``). What Vidu cannot take
is refused by the spec's option table and rules before the job exists.

Tasks: the create reply has ``task_id`` and ``state`` (a ``failed`` state there is an
error, although the HTTP status is 200); the query ``GET /tasks/{id}/creations`` has
``id``, ``state`` (created, queueing, processing, success, failed), ``err_code``,
``credits`` and ``creations: [{url, cover_url, watermarked_url}]``. Errors are
``{"code", "reason", "message", "metadata": {"trace_id"}}`` with string codes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from vidgate.errors import (
    Conflict,
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
from vidgate.providers.vidu.spec import (
    AUDIO_ENDPOINTS,
    REFERENCE2VIDEO,
    SPEC,
    TEXT2VIDEO,
    endpoint,
    ratio_and_tier,
)
from vidgate.values import Deployment, ResolvedRequest, UpstreamState, Variant

OFF_PEAK_POLL_S = 300.0
"""Off-peak tasks may sit queued for up to 48 h: poll them every five minutes."""
_PARAMS = (
    ("movement_amplitude", "metadata.movement_amplitude"),
    ("aspect_ratio", "size"),
    ("resolution", "size"),
    ("duration", "seconds"),
    ("off_peak", "metadata.off_peak"),
    ("payload", "metadata.payload"),
    ("style", "metadata.style"),
    ("images", "input_reference"),
    ("prompt", "prompt"),
    ("model", "model"),
    ("seed", "seed"),
    ("audio", "metadata.audio"),
    ("bgm", "metadata.bgm"),
)
"""Vidu field names (as they appear in its messages) → gateway parameters, longest first."""
MODERATION = frozenset(
    {"TaskPromptPolicyViolation", "CreationPolicyViolation", "AuditSubmitIllegal"}
)
CANCELLED = frozenset({"UserCancelled", "Canceled", "Cancelled"})


class ViduAdapter:
    """``HttpAdapter`` for one Vidu enterprise API v2 deployment (``api_base`` ends in
    ``/ent/v2``)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Token {key}"} if key else {}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        used = endpoint(request)
        model = request.upstream_model
        ratio, tier = ratio_and_tier(request.width, request.height)
        body: dict[str, Any] = {"model": model, "prompt": request.prompt}
        if used in (TEXT2VIDEO, REFERENCE2VIDEO):
            body["aspect_ratio"] = ratio
        body["resolution"] = tier
        body["duration"] = request.seconds
        if request.seed is not None:
            body["seed"] = request.seed
        if request.audio is not None and used in AUDIO_ENDPOINTS.get(model, frozenset()):
            body["audio"] = request.audio
        put_options(body, request, self.deployment.capabilities)
        images = _images(request)
        if images:
            body["images"] = images
        return HttpCall("POST", f"/{used}", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/tasks/{upstream_id}/creations")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        return signed_download(variant, location, ("video", "thumbnail"))

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("POST", f"/tasks/{upstream_id}/cancel", json={"id": upstream_id})

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict):
            raise UpstreamError("Vidu returned a malformed task object.")
        created = context.kind == "submit"  # the create names the task task_id, a query id
        task_id = body.get("task_id" if created else "id")
        raw = body.get("state")
        if isinstance(task_id, int) and not isinstance(task_id, bool):
            task_id = str(task_id)
        if not isinstance(task_id, str) or not task_id or not isinstance(raw, str) or not raw:
            raise UpstreamError("Vidu returned a malformed task object.")
        if raw == "success":
            return _succeeded(task_id, body)
        if raw == "failed":
            if created:  # HTTP 200 with a failed task: the create itself was refused
                raise _create_failed(body)
            return _failed(task_id, body)
        return UpstreamState(
            task_id,
            SPEC.map_status(raw),
            raw_status=raw,
            poll_after_s=OFF_PEAK_POLL_S if body.get("off_peak") is True else None,
            cost_units=_credits(body),
        )

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        code = _text(body.get("code")) or _text(body.get("reason"))
        message = scrub(_text(body.get("message")))
        detail = f"{message} ({code})" if code and message else message or code
        status = reply.status
        if code == "CreditInsufficient" or status == 402:
            return UpstreamError(
                "The Vidu account of this deployment is out of credits.",
                code="upstream_insufficient_credits",
            )
        if status in (401, 403):
            return UpstreamAuthError("Vidu rejected this deployment's API key.")
        if status == 404:
            return NotFound(f"Vidu: {detail}" if detail else "Vidu has no such task.")
        if status == 409:
            return Conflict(f"Vidu: {detail}" if detail else "Vidu reported a conflict.")
        if status == 429:
            return RateLimited(
                f"Vidu rate limit: {detail}" if detail else "Vidu rate limit reached.",
                retry_after_s=retry_after_s(reply.headers),
            )
        if status in (400, 422):
            return _invalid(code, message, detail)
        return UpstreamError(f"Vidu failed with HTTP {status}. {detail}".strip())


def _images(request: ResolvedRequest) -> list[Any]:
    """The ``images`` list of the endpoint: the references, or the first (and last) frame."""
    refs = [i.asset for i in request.images if i.role == "reference"]
    if refs:
        return [url_or_inline(a) for a in refs]
    first, last = request.image("first_frame"), request.image("last_frame")
    images = [] if first is None else [url_or_inline(first)]
    if last is not None:
        images.append(url_or_inline(last))
    return images


# --- replies -------------------------------------------------------------------------


def _succeeded(task_id: str, body: Mapping[str, Any]) -> UpstreamState:
    creations = body.get("creations")
    found = creations[0] if isinstance(creations, list) and creations else None
    first: Mapping[str, Any] = found if isinstance(found, dict) else {}
    url = first.get("url")
    if not _is_http(url):
        return no_output(task_id, "success", "Vidu")
    results = {"video": str(url)}
    cover = first.get("cover_url")
    if _is_http(cover):
        results["thumbnail"] = str(cover)
    return completed(task_id, "success", results, _credits(body))


def _failed(task_id: str, body: Mapping[str, Any]) -> UpstreamState:
    err = _text(body.get("err_code"))
    code, message = _failure(err)
    return UpstreamState(
        task_id,
        "failed",
        raw_status="failed",
        error_code=code,
        error_message=f"{message} ({err})" if err else message,
    )


def _failure(err: str | None) -> tuple[str, str]:
    """A gateway error code and message for a Vidu ``err_code``."""
    if err is None:
        return "upstream_failed", "Vidu failed the task."
    if err in MODERATION:
        return "moderation_blocked", "Vidu's content moderation blocked the task."
    if err in CANCELLED:
        return "cancelled", "The task was cancelled at Vidu."
    if err == "CreditInsufficient":
        return "upstream_insufficient_credits", "The Vidu account is out of credits."
    if err.startswith("Image") or err in ("FieldInvalid", "FieldLacking", "FieldUnwanted"):
        return "invalid_input", "Vidu could not use the inputs."
    return "upstream_failed", "Vidu failed the task."


def _create_failed(body: Mapping[str, Any]) -> GatewayError:
    """The error a create answered with ``state: failed`` (HTTP 200) stands for."""
    err = _text(body.get("err_code"))
    code, message = _failure(err)
    text = f"{message} ({err})" if err else message
    if code == "moderation_blocked":
        return InvalidRequest(text, param="prompt", code=code)
    if code == "invalid_input":
        return InvalidRequest(text, param="input_reference", code=code)
    return UpstreamError(text, code=code)


def _invalid(code: str | None, message: str, detail: str | None) -> GatewayError:
    text = f"Vidu rejected the request: {detail}" if detail else "Vidu rejected the request."
    if code in MODERATION:
        return InvalidRequest(text, param="prompt", code="moderation_blocked")
    if code == "ModelUnavailable":
        return InvalidRequest(text, param="model")
    if code and code.startswith("Image"):
        return InvalidRequest(text, param="input_reference")
    if code == "OperationInProcess":
        return Conflict(text)
    return InvalidRequest(text, param=_param(message))


def _param(message: str) -> str | None:
    lowered = message.lower()
    for field, param in _PARAMS:
        if re.search(rf"\b{field}\b", lowered):
            return param
    return None


def _credits(body: Mapping[str, Any]) -> float | None:
    value = body.get("credits")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _is_http(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
