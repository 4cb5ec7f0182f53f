"""Builds Ark content-generation requests and parses replies for one deployment; pure,
no I/O.

A create is ``POST /contents/generations/tasks`` with ``model`` and ``content[]``: one
``text`` item with the prompt, plus ``image_url`` items with a ``role`` (``first_frame``,
``last_frame`` or ``reference_image``). Uploads, ``data:`` URLs and plain-http URLs go
inline as ``data:`` URIs; https URLs and ``asset://`` ids are passed as they are. The size
maps to ``ratio`` + ``resolution``. Body-style models get ``resolution``, ``ratio``,
``duration``, ``seed``, ``camera_fixed``, ``watermark`` and ``generate_audio`` as top-level
fields; the 1.0 family (``FLAG_MODELS``) gets them as legacy
``--rs 720p --rt 16:9 --dur 5 --seed 3 --cf false --wm false`` flags appended to the text
(deployment option ``param_style: flags | body`` overrides). The other options go where
the spec's table says; the table and the spec's rules were checked before the job existed.

Tasks: ``queued``, ``running``, ``succeeded`` (``content.video_url``, a signed URL fetched
without auth, and ``usage.completion_tokens``), ``failed`` (``error {code, message}``),
``expired`` and ``cancelled``. Errors are ``{"error": {"code", "message", "param", "type"}}``.
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
from vidgate.providers.base import CallContext, DownloadCall, HttpCall, HttpReply
from vidgate.providers.seedance.spec import FLAG_MODELS, SIZES, SPEC
from vidgate.providers.toolkit import (
    completed,
    no_output,
    put_options,
    retry_after_s,
    scrub,
    signed_download,
    url_or_inline,
)
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

TASKS = "/contents/generations/tasks"
PARAM_STYLES = ("flags", "body")
_FLAGS = {
    "resolution": "rs",
    "ratio": "rt",
    "duration": "dur",
    "seed": "seed",
    "camera_fixed": "cf",
    "watermark": "wm",
}
"""Parameters that go as ``--flags`` in flag style, in their order."""
_MODERATION = ("SensitiveContentDetected", "RiskDetection")
_PARAMS = {
    "duration": "seconds",
    "frames": "seconds",
    "resolution": "size",
    "ratio": "size",
    "seed": "seed",
    "model": "model",
    "image_url": "input_reference",
    "generate_audio": "metadata.audio",
    "camera_fixed": "metadata.camera_fixed",
    "watermark": "metadata.watermark",
    "return_last_frame": "metadata.return_last_frame",
    "service_tier": "metadata.service_tier",
    "execution_expires_after": "metadata.execution_expires_after",
}


class SeedanceAdapter:
    """``HttpAdapter`` for one deployment of the Ark content-generation task API.

    Two things depend on the deployment, not the request, and stay here: its ``model`` must
    be a Seedance model or an ``ep-…`` endpoint id, and its ``param_style`` option (``flags``
    or ``body``) says how parameters are sent. Both are configuration errors at the first
    create (502s, so routing moves on), not 400s.
    """

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.style = deployment.options.get("param_style")

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        model = request.upstream_model
        if model not in SPEC.models and not model.startswith("ep-"):
            raise UpstreamError(
                f"Deployment model '{model}' is neither a Seedance model nor an Ark endpoint "
                "id (ep-...); fix the deployment's 'model'.",
                code="upstream_model_unknown",
            )
        ratio, resolution = SIZES[request.size]
        params: dict[str, Any] = {
            "resolution": resolution,
            "ratio": ratio,
            "duration": request.seconds,
        }
        if request.seed is not None:
            params["seed"] = request.seed
        for key in ("camera_fixed", "watermark"):  # body fields or --flags, as params go
            if key in request.options:
                params[key] = request.options[key]
        text = request.prompt.strip()
        body: dict[str, Any] = {"model": model}
        if self._flag_style(model):
            text = f"{text} {_flags(params)}".strip()
        else:
            body |= params
        if self.deployment.capabilities.audio is not None and request.audio is not None:
            body["generate_audio"] = request.audio
        put_options(body, request, self.deployment.capabilities)
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        body["content"] = content + _images(request)
        return HttpCall("POST", TASKS, json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"{TASKS}/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        return signed_download(variant, location)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("DELETE", f"{TASKS}/{upstream_id}")

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
            raise UpstreamError("Seedance returned a malformed task object.")
        task_id: str = body["id"]
        raw = body.get("status")
        if context.kind == "submit":  # the create reply is only {"id": "cgt-..."}
            return UpstreamState(task_id, "queued", raw_status="queued")
        if not isinstance(raw, str):
            raise UpstreamError("Seedance returned a task without a readable status.")
        if raw == "succeeded":
            return _succeeded(task_id, body)
        if raw == "cancelled":
            return UpstreamState(
                task_id,
                "failed",
                raw_status=raw,
                error_code="cancelled",
                error_message="The task was cancelled at Seedance before it started.",
            )
        if raw == "expired":
            return UpstreamState(
                task_id,
                "failed",
                raw_status=raw,
                error_code="expired",
                error_message="The task expired at Seedance before it ran "
                "(execution_expires_after).",
            )
        status = SPEC.map_status(raw)
        if status == "failed":
            return _failed(task_id, raw, body.get("error"))
        return UpstreamState(task_id, status, raw_status=raw)

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        code = str(error.get("code") or "")
        message = scrub(str(error.get("message") or ""))
        text = f"{message} ({code})" if code and message else message or code
        status = reply.status
        if status in (400, 422):
            if code.startswith("InvalidEndpoint"):
                return UpstreamError(
                    f"Seedance refused this deployment's endpoint: {text}",
                    code="upstream_endpoint_closed",
                )
            moderated = any(marker in code for marker in _MODERATION)
            return InvalidRequest(
                f"Seedance rejected the request: {text}" if text else "Seedance rejected it.",
                param=_param(error.get("param")) or ("prompt" if moderated else None),
                code="moderation_blocked" if moderated else None,
            )
        if status == 401 or status == 403:
            return UpstreamAuthError("Seedance rejected this deployment's Ark API key.")
        if status == 404:
            if code == "ModelNotOpen" or code.startswith("InvalidEndpointOrModel"):
                return UpstreamAuthError(
                    f"This deployment's Ark account cannot use its model: {text}"
                )
            return NotFound(f"Seedance: {text}" if text else "Seedance has no such task.")
        if status == 429:
            return RateLimited(
                f"Seedance rate limit or quota: {text}" if text else "Seedance rate limit.",
                retry_after_s=retry_after_s(reply.headers),
            )
        return UpstreamError(f"Seedance failed with HTTP {status}. {text}".strip())

    def _flag_style(self, model: str) -> bool:
        """Whether parameters go as ``--flags`` in the text: the deployment's
        ``param_style``, else the model's family."""
        if self.style is None:
            return model in FLAG_MODELS
        if self.style not in PARAM_STYLES:
            raise UpstreamError(
                f"Deployment option 'param_style' is {self.style!r}; use 'flags' or 'body'.",
                code="upstream_config_error",
            )
        return bool(self.style == "flags")


# --- request bodies ------------------------------------------------------------------


def _flags(params: Mapping[str, Any]) -> str:
    parts = []
    for key, flag in _FLAGS.items():
        if key in params:
            value = params[key]
            parts.append(f"--{flag} {str(value).lower() if isinstance(value, bool) else value}")
    return " ".join(parts)


def _images(request: ResolvedRequest) -> list[dict[str, Any]]:
    first, last = request.image("first_frame"), request.image("last_frame")
    items = []
    if first is not None:
        items.append(_image(first, "first_frame"))
    if last is not None:
        items.append(_image(last, "last_frame"))
    references = [i.asset for i in request.images if i.role == "reference"]
    items += [_image(a, "reference_image") for a in references]
    return items


def _image(asset: Asset, role: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": _url(asset)}, "role": role}


def _url(asset: Asset) -> Any:
    """How Ark gets an image: an https URL or an ``asset://`` id (the only file ids the
    rules let through) as is, anything else inline (a plain-http URL too)."""
    if asset.kind == "file_id":
        return asset.value
    return url_or_inline(asset, as_given=("https://",))


# --- replies -------------------------------------------------------------------------


def _succeeded(task_id: str, body: Mapping[str, Any]) -> UpstreamState:
    content = body.get("content")
    url = content.get("video_url") if isinstance(content, Mapping) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return no_output(task_id, "succeeded", "Seedance")
    return completed(task_id, "succeeded", {"video": url}, _tokens(body.get("usage")))


def _failed(task_id: str, raw: str, error: Any) -> UpstreamState:
    error = error if isinstance(error, Mapping) else {}
    code = error.get("code")
    code = code if isinstance(code, str) and code else None
    message = scrub(error.get("message")) or "Seedance failed the task."
    moderated = code is not None and any(marker in code for marker in _MODERATION)
    return UpstreamState(
        task_id,
        "failed",
        raw_status=raw,
        error_code="moderation_blocked" if moderated else "upstream_failed",
        error_message=f"{message} ({code})" if code else message,
    )


def _tokens(usage: Any) -> float | None:
    value = usage.get("completion_tokens") if isinstance(usage, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _param(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("content"):  # content[1].image_url.url, content[0].text
        return "input_reference" if "image_url" in value else "prompt"
    return _PARAMS.get(value.split(".")[0])
