"""Builds Ark content-generation requests and parses replies; pure functions, no I/O.

A create is ``POST /contents/generations/tasks`` with ``model`` and ``content[]``: one
``text`` item with the prompt, plus ``image_url`` items with a ``role`` (``first_frame``,
``last_frame`` or ``reference_image``). Images go inline as ``data:`` URIs; https URLs and
``asset://`` ids are passed as they are. The size maps to ``ratio`` + ``resolution``.
Body-style models get ``resolution``, ``ratio``, ``duration``, ``seed``, ``camera_fixed``,
``watermark`` and ``generate_audio`` as top-level fields; the 1.0 family (``FLAG_MODELS``)
gets them as legacy ``--rs 720p --rt 16:9 --dur 5 --seed 3 --cf false --wm false`` flags
appended to the text (deployment option ``param_style: flags | body`` overrides).

Tasks: ``queued``, ``running``, ``succeeded`` (``content.video_url``, a signed URL fetched
without auth, and ``usage.completion_tokens``), ``failed`` (``error {code, message}``),
``expired`` and ``cancelled``. Errors are ``{"error": {"code", "message", "param", "type"}}``.
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
from vidgate.providers.seedance.spec import (
    FLAG_MODELS,
    MAX_SEED,
    NO_1080P_REFERENCE,
    NO_FLEX,
    SIZES,
    SPEC,
)
from vidgate.providers.toolkit import retry_after_s
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

TASKS = "/contents/generations/tasks"
SERVICE_TIERS = ("default", "flex")
EXPIRES_RANGE = (3600, 259_200)
LEGACY_FLAG = re.compile(
    r"(?:^|\s)--(?:rs|resolution|rt|ratio|dur|duration|fps|framepersecond|wm|watermark|seed"
    r"|cf|camerafixed)\s+\S+"
)
_URL = re.compile(r"(?:https?|asset)://\S+|data:[^\s,]*,\S+")
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
    """``HttpAdapter`` for the Ark content-generation task API."""

    def auth_headers(self, deployment: Deployment, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {deployment.api_key}"} if deployment.api_key else {}

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        if request.operation != "create":
            raise UnsupportedOperation(
                f"Seedance has no {request.operation}; it only creates videos.", param="model"
            )
        model = request.upstream_model
        if model not in SPEC.models and not model.startswith("ep-"):
            raise UpstreamError(
                f"Deployment model '{model}' is neither a Seedance model nor an Ark endpoint "
                "id (ep-...); fix the deployment's 'model'.",
                code="upstream_model_unknown",
            )
        ratio, resolution = SIZES[request.size]
        images = _images(request, resolution)
        params = _params(request, ratio, resolution)
        options = _options(request)
        text = _text(request.prompt)
        body: dict[str, Any] = {"model": model}
        params |= {k: options.pop(k) for k in ("camera_fixed", "watermark") if k in options}
        if _flag_style(model, deployment):
            text = f"{text} {_flags(params)}".strip()
        else:
            body |= params
        if deployment.capabilities.audio is not None and request.audio is not None:
            body["generate_audio"] = request.audio
        body |= options
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        body["content"] = content + images
        return HttpCall("POST", TASKS, json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"{TASKS}/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if variant != "video" or not location or not location.startswith(("https:", "http:")):
            return None
        return DownloadCall(HttpCall("GET", location), auth=False)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("DELETE", f"{TASKS}/{upstream_id}")

    def parse_state(self, reply: HttpReply) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
            raise UpstreamError("Seedance returned a malformed task object.")
        task_id: str = body["id"]
        raw = body.get("status")
        if raw is None:  # the create reply: {"id": "cgt-..."}
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

    def parse_error(self, reply: HttpReply) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        code = str(error.get("code") or "")
        message = _scrub(str(error.get("message") or ""))
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


# --- request bodies ------------------------------------------------------------------


def _flag_style(model: str, deployment: Deployment) -> bool:
    style = deployment.options.get("param_style")
    if style is None:
        return model in FLAG_MODELS
    if style not in ("flags", "body"):
        raise UpstreamError(
            f"Deployment option 'param_style' is {style!r}; use 'flags' or 'body'.",
            code="upstream_config_error",
        )
    return bool(style == "flags")


def _text(prompt: str) -> str:
    if LEGACY_FLAG.search(prompt):
        raise InvalidRequest(
            "The prompt carries Seedance '--flags'; use 'size', 'seconds', 'seed' and "
            "'metadata' instead (the gateway sets the flags itself).",
            param="prompt",
        )
    return prompt.strip()


def _params(request: ResolvedRequest, ratio: str, resolution: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "resolution": resolution,
        "ratio": ratio,
        "duration": request.seconds,
    }
    if request.seed is not None:
        if not -1 <= request.seed <= MAX_SEED:
            raise InvalidRequest(
                f"Invalid value for 'seed': {request.seed}; Seedance takes -1 to {MAX_SEED}.",
                param="seed",
            )
        params["seed"] = request.seed
    return params


def _flags(params: Mapping[str, Any]) -> str:
    names = {
        "resolution": "rs",
        "ratio": "rt",
        "duration": "dur",
        "seed": "seed",
        "camera_fixed": "cf",
        "watermark": "wm",
    }
    parts = []
    for key, flag in names.items():
        if key in params:
            value = params[key]
            parts.append(f"--{flag} {str(value).lower() if isinstance(value, bool) else value}")
    return " ".join(parts)


def _options(request: ResolvedRequest) -> dict[str, Any]:
    options = dict(request.options)
    for key in ("camera_fixed", "watermark", "return_last_frame"):
        if key in options and not isinstance(options[key], bool):
            raise InvalidRequest(
                f"'metadata.{key}' must be true or false.", param=f"metadata.{key}"
            )
    tier = options.get("service_tier")
    if tier is not None:
        if tier not in SERVICE_TIERS:
            raise InvalidRequest(
                f"Invalid value for 'metadata.service_tier': {tier!r}; allowed: default, flex.",
                param="metadata.service_tier",
            )
        if tier == "flex" and request.upstream_model in NO_FLEX:
            raise InvalidRequest(
                f"Model '{request.upstream_model}' has no offline (flex) service tier.",
                param="metadata.service_tier",
            )
    expires = options.get("execution_expires_after")
    if expires is not None:
        low, high = EXPIRES_RANGE
        if isinstance(expires, bool) or not isinstance(expires, int) or not low <= expires <= high:
            raise InvalidRequest(
                f"'metadata.execution_expires_after' must be whole seconds from {low} to {high}.",
                param="metadata.execution_expires_after",
            )
    return options


def _images(request: ResolvedRequest, resolution: str) -> list[dict[str, Any]]:
    first, last = request.image("first_frame"), request.image("last_frame")
    references = [i.asset for i in request.images if i.role == "reference"]
    if last is not None and first is None:
        raise InvalidRequest(
            "Seedance needs a first frame ('input_reference') when a last frame is given.",
            param="metadata.last_frame",
        )
    if references and first is not None:
        raise InvalidRequest(
            "Seedance cannot mix reference images with first/last frames in one request.",
            param="metadata.reference_images",
        )
    if references and resolution == "1080p" and request.upstream_model in NO_1080P_REFERENCE:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' has no 1080p with reference images.",
            param="size",
        )
    items = []
    if first is not None:
        items.append(_image(first, "first_frame", "input_reference"))
    if last is not None:
        items.append(_image(last, "last_frame", "metadata.last_frame"))
    items += [_image(a, "reference_image", "metadata.reference_images") for a in references]
    return items


def _image(asset: Asset, role: str, param: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": _url(asset, param)}, "role": role}


def _url(asset: Asset, param: str) -> Any:
    """How Ark gets an image: https / data: / asset:// as is, anything else inline."""
    value = asset.value
    if asset.kind == "blob":
        return Inline(asset, "data_uri")
    if asset.kind == "url":
        return value if value.startswith(("https://", "data:")) else Inline(asset, "data_uri")
    if value.startswith("asset://"):
        return value
    raise InvalidRequest(
        f"Seedance cannot use a file id for '{param}'; send the image, an https URL or an "
        "asset:// id.",
        param=param,
    )


# --- replies -------------------------------------------------------------------------


def _succeeded(task_id: str, body: Mapping[str, Any]) -> UpstreamState:
    content = body.get("content")
    url = content.get("video_url") if isinstance(content, Mapping) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return UpstreamState(
            task_id,
            "failed",
            raw_status="succeeded",
            error_code="upstream_no_output",
            error_message="Seedance reported success but returned no video.",
        )
    return UpstreamState(
        task_id,
        "completed",
        progress=100,
        raw_status="succeeded",
        results={"video": url},
        cost_units=_tokens(body.get("usage")),
    )


def _failed(task_id: str, raw: str, error: Any) -> UpstreamState:
    error = error if isinstance(error, Mapping) else {}
    code = error.get("code")
    code = code if isinstance(code, str) and code else None
    found = error.get("message")
    message = _scrub(found) if isinstance(found, str) and found else "Seedance failed the task."
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


def _scrub(text: str) -> str:
    """An upstream message without URLs or data URIs (they may carry hosts or tokens)."""
    return _URL.sub("<url>", text)[:500]


def _param(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("content"):  # content[1].image_url.url, content[0].text
        return "input_reference" if "image_url" in value else "prompt"
    return _PARAMS.get(value.split(".")[0])
