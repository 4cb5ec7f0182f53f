"""Builds Vidu API requests and parses replies; pure functions, no I/O.

The endpoint follows the images: none → ``text2video``, a first frame → ``img2video``, a
first and a last frame → ``start-end2video`` (``images: [first, last]``), reference images →
``reference2video`` (``images: [...]``). ``size`` becomes ``resolution`` (its tier) and, for
text and reference, ``aspect_ratio``; ``seconds`` → ``duration``. Images go as https URLs
or ``data:`` URIs (uploads are inlined as ``data:<type>;base64,...``, the form Vidu names).
Every call carries ``Authorization: Token <key>`` (the word ``Token``, not ``Bearer``).

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
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import DownloadCall, HttpCall, HttpReply, Inline
from vidgate.providers.toolkit import retry_after_s
from vidgate.providers.vidu.spec import (
    AUDIO_ENDPOINTS,
    EIGHT_SECONDS_TIER,
    ENDPOINT_MODELS,
    IMG2VIDEO,
    MAX_PAYLOAD_CHARS,
    MAX_SEED,
    MOVEMENT_AMPLITUDES,
    REFERENCE2VIDEO,
    SPEC,
    START_END2VIDEO,
    START_END_MAX_SECONDS,
    STYLE_MODELS,
    STYLES,
    TEXT2VIDEO,
    ratio_and_tier,
)
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

OFF_PEAK_POLL_S = 300.0
"""Off-peak tasks may sit queued for up to 48 h: poll them every five minutes."""
_URL = re.compile(r"(?:https?|s3|oss)://\S+|data:[^\s,]*,\S+")
_ENDPOINT_IMAGES = {
    IMG2VIDEO: "input_reference",
    START_END2VIDEO: "metadata.last_frame",
    REFERENCE2VIDEO: "metadata.reference_images",
}
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
    """``HttpAdapter`` for the Vidu enterprise API v2 (``api_base`` ends in ``/ent/v2``)."""

    def auth_headers(self, deployment: Deployment, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Token {deployment.api_key}"} if deployment.api_key else {}

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        if request.operation != "create":
            raise UnsupportedOperation(
                f"Vidu has no {request.operation} for model '{request.upstream_model}'.",
                param="model",
            )
        endpoint, images = _endpoint(request)
        body = _body(request, endpoint)
        if images:
            body["images"] = images
        return HttpCall("POST", f"/{endpoint}", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/tasks/{upstream_id}/creations")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if variant not in ("video", "thumbnail") or not _is_http(location):
            return None
        return DownloadCall(HttpCall("GET", str(location)), auth=False)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("POST", f"/tasks/{upstream_id}/cancel", json={"id": upstream_id})

    def parse_state(self, reply: HttpReply) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict):
            raise UpstreamError("Vidu returned a malformed task object.")
        created = "task_id" in body
        task_id = body.get("task_id") if created else body.get("id")
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

    def parse_error(self, reply: HttpReply) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        code = _text(body.get("code")) or _text(body.get("reason"))
        message = _scrub(_text(body.get("message")) or "")
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


# --- request bodies ------------------------------------------------------------------


def _endpoint(request: ResolvedRequest) -> tuple[str, list[Any]]:
    """The endpoint the images call for, and the ``images`` list it takes."""
    model = request.upstream_model
    first, last = request.image("first_frame"), request.image("last_frame")
    refs = [i.asset for i in request.images if i.role == "reference"]
    if refs and (first or last):
        raise InvalidRequest(
            "Vidu takes reference images or frames, not both: drop 'input_reference' / "
            "'metadata.last_frame' or 'metadata.reference_images'.",
            param="metadata.reference_images",
        )
    if last is not None and first is None:
        raise InvalidRequest(
            "Vidu needs a first frame ('input_reference') when a last frame is given.",
            param="input_reference",
        )
    if refs:
        endpoint, images = REFERENCE2VIDEO, [_image(a, "metadata.reference_images") for a in refs]
    elif first is not None and last is not None:
        endpoint = START_END2VIDEO
        images = [_image(first, "input_reference"), _image(last, "metadata.last_frame")]
    elif first is not None:
        endpoint, images = IMG2VIDEO, [_image(first, "input_reference")]
    else:
        endpoint, images = TEXT2VIDEO, []
    if model not in ENDPOINT_MODELS[endpoint]:
        if endpoint == TEXT2VIDEO:
            raise InvalidRequest(
                f"Model '{model}' only makes video from an image: 'input_reference' is required.",
                param="input_reference",
            )
        param = _ENDPOINT_IMAGES[endpoint]
        raise InvalidRequest(f"Model '{model}' does not take '{param}'.", param=param)
    return endpoint, images


def _body(request: ResolvedRequest, endpoint: str) -> dict[str, Any]:
    model = request.upstream_model
    ratio, tier = ratio_and_tier(request.width, request.height)
    _check_combinations(request, endpoint, tier)
    body: dict[str, Any] = {"model": model, "prompt": request.prompt}
    if endpoint in (TEXT2VIDEO, REFERENCE2VIDEO):
        body["aspect_ratio"] = ratio
    body["resolution"] = tier
    body["duration"] = request.seconds
    if request.seed is not None:
        if not 0 <= request.seed <= MAX_SEED:
            raise InvalidRequest(
                f"Invalid value for 'seed': {request.seed}; Vidu takes 0 to {MAX_SEED} "
                "(0 means random).",
                param="seed",
            )
        body["seed"] = request.seed
    if request.audio is not None and endpoint in AUDIO_ENDPOINTS.get(model, frozenset()):
        body["audio"] = request.audio
    elif request.audio:
        raise InvalidRequest(
            f"Model '{model}' makes no audio on {endpoint}.", param="metadata.audio"
        )
    body.update(_options(request, endpoint))
    return body


def _check_combinations(request: ResolvedRequest, endpoint: str, tier: str) -> None:
    model = request.upstream_model
    start_end_q2 = endpoint == START_END2VIDEO and model.startswith("viduq2")
    if start_end_q2 and request.seconds > START_END_MAX_SECONDS:
        raise InvalidRequest(
            f"Invalid value for 'seconds': {request.seconds}. Model '{model}' with a first "
            f"and last frame allows 1-{START_END_MAX_SECONDS}.",
            param="seconds",
            code="invalid_value",
        )
    if model in ("vidu2.0", "vidu1.5") and request.seconds == 8 and tier != EIGHT_SECONDS_TIER:
        raise InvalidRequest(
            f"Invalid value for 'size': '{request.size}'. Model '{model}' makes 8 s only at "
            "720p (1280x720, 720x1280, 720x720).",
            param="size",
            code="invalid_value",
        )


def _options(request: ResolvedRequest, endpoint: str) -> dict[str, Any]:
    options = request.options
    out: dict[str, Any] = {}
    amplitude = options.get("movement_amplitude")
    if amplitude is not None:
        out["movement_amplitude"] = _choice("movement_amplitude", amplitude, MOVEMENT_AMPLITUDES)
    style = options.get("style")
    if style is not None:
        if endpoint != TEXT2VIDEO or request.upstream_model not in STYLE_MODELS:
            raise InvalidRequest(
                f"'metadata.style' applies only to text-to-video on "
                f"{', '.join(sorted(STYLE_MODELS))}.",
                param="metadata.style",
            )
        out["style"] = _choice("style", style, STYLES)
    for key in ("bgm", "off_peak", "watermark"):
        value = options.get(key)
        if value is not None:
            if not isinstance(value, bool):
                raise InvalidRequest(
                    f"'metadata.{key}' must be true or false.", param=f"metadata.{key}"
                )
            out[key] = value
    payload = options.get("payload")
    if payload is not None:
        if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_CHARS:
            raise InvalidRequest(
                f"'metadata.payload' must be a string of at most {MAX_PAYLOAD_CHARS} characters.",
                param="metadata.payload",
            )
        out["payload"] = payload
    return out


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidRequest(
            f"Invalid value for 'metadata.{key}': {value!r}; allowed: {', '.join(allowed)}.",
            param=f"metadata.{key}",
        )
    return str(value)


def _image(asset: Asset, param: str) -> Any:
    """How Vidu gets an image: an http(s) URL or ``data:`` URI as is, an upload inline."""
    if asset.kind == "blob":
        return Inline(asset, "data_uri")
    if asset.kind == "url":
        if asset.value.startswith(("https://", "http://", "data:")):
            return asset.value
        return Inline(asset, "data_uri")
    raise InvalidRequest(
        f"Vidu cannot use a file id for '{param}'; send the image, an https URL or a data URI.",
        param=param,
    )


# --- replies -------------------------------------------------------------------------


def _succeeded(task_id: str, body: Mapping[str, Any]) -> UpstreamState:
    creations = body.get("creations")
    found = creations[0] if isinstance(creations, list) and creations else None
    first: Mapping[str, Any] = found if isinstance(found, dict) else {}
    url = first.get("url")
    if not _is_http(url):
        return UpstreamState(
            task_id,
            "failed",
            raw_status="success",
            error_code="upstream_no_output",
            error_message="Vidu reported success but returned no video.",
        )
    results = {"video": str(url)}
    cover = first.get("cover_url")
    if _is_http(cover):
        results["thumbnail"] = str(cover)
    return UpstreamState(
        task_id,
        "completed",
        progress=100,
        raw_status="success",
        results=results,
        cost_units=_credits(body),
    )


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


def _scrub(text: str) -> str:
    """An upstream message without URLs or data URIs (they may carry hosts or tokens)."""
    return _URL.sub("<url>", text)[:500]
