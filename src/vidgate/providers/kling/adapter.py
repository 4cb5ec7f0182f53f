"""Builds Kling API requests and parses replies; pure functions, no I/O.

Auth is a JWT (HS256) the adapter signs itself from the deployment's access key
(``api_key``) and secret key (``options.secret_key``): claims ``iss`` = access key, ``exp`` =
now + 1800 s, ``nbf`` = now - 5 s, sent as ``Authorization: Bearer <jwt>``. A token is
signed once per minute and reused within it, so it always has more than 29 minutes left.

Create goes to ``/v1/videos/text2video`` or, with a first frame, ``/v1/videos/image2video``
(``image`` and ``image_tail`` as raw base64 without a ``data:`` prefix, or an http(s) URL).
The query path must name the same family, and the create reply does not say which it was,
so the family is kept in the upstream id (``image2video/<task_id>``), read from the request
the create sent (``CallContext``); ``external_task_id = "<family>-<job id>"`` is sent too,
so the task can be found in Kling's console by the gateway's job id.

Replies are ``{"code", "message", "request_id", "data"}``: ``code`` 0 is success (even on
HTTP 200 a non-zero code is an error), ``task_status`` is ``submitted``, ``processing``,
``succeed`` (sic) or ``failed`` with the reason in ``task_status_msg`` (``message`` stays
``"SUCCEED"``), the video is ``task_result.videos[0].url`` and ``final_unit_deduction`` (a
string) is the charge in units.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable, Mapping
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
from vidgate.providers.kling.spec import ASPECT_RATIOS, SPEC
from vidgate.providers.toolkit import (
    completed,
    failed,
    no_output,
    put_options,
    retry_after_s,
    scrub,
    signed_download,
    url_or_inline,
)
from vidgate.values import Deployment, ResolvedRequest, UpstreamState, Variant

TOKEN_LIFETIME_S = 1800
NBF_SKEW_S = 5
FAMILIES = ("text2video", "image2video")
_FIELDS = {
    "model_name": "model",
    "negative_prompt": "metadata.negative_prompt",
    "prompt": "prompt",
    "duration": "seconds",
    "aspect_ratio": "size",
    "mode": "metadata.mode",
    "image_tail": "metadata.last_frame",
    "image": "input_reference",
    "cfg_scale": "metadata.cfg_scale",
    "camera_control": "metadata.camera_control",
    "sound": "metadata.audio",
}
_AUTH_CODES = {1000, 1001, 1002, 1003, 1004, 1103, 1304}
_ACCOUNT_CODES = {1100, 1101, 1102}
_RATE_CODES = {1302, 1303}
_POLICY_CODES = {1300, 1301}
_POLICY_WORDS = ("risk", "safety", "policy", "sensitive", "violat", "moderation")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(access_key: str, secret_key: str, now: int) -> str:
    """Kling's API token: HS256 over ``{"iss", "exp": now + 1800, "nbf": now - 5}``."""
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": access_key, "exp": now + TOKEN_LIFETIME_S, "nbf": now - NBF_SKEW_S}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = hmac.new(secret_key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


@functools.lru_cache(maxsize=64)
def _minute_token(access_key: str, secret_key: str, minute: int) -> str:
    return sign_jwt(access_key, secret_key, minute * 60)


class KlingAdapter:
    """``HttpAdapter`` for one Kling deployment (global or legacy host, from ``api_base``)."""

    def __init__(self, deployment: Deployment, clock: Callable[[], float] = time.time) -> None:
        self.deployment = deployment
        self.clock = clock

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        access_key = self.deployment.api_key
        secret_key = self.deployment.options.get("secret_key")
        if not access_key or not isinstance(secret_key, str) or not secret_key:
            raise UpstreamAuthError(
                f"Kling deployment '{self.deployment.id}' needs its access key as 'api_key' and "
                "its secret key as 'options.secret_key' (KLING_ACCESS_KEY / KLING_SECRET_KEY)."
            )
        minute = int(self.clock()) // 60
        return {"Authorization": f"Bearer {_minute_token(access_key, secret_key, minute)}"}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        first, last = request.image("first_frame"), request.image("last_frame")
        family = _family(request)
        aspect, mode = ASPECT_RATIOS[request.size]
        model = request.upstream_model
        body: dict[str, Any] = {
            "model_name": model,
            "model": model,  # new-api #1342: some consoles still read the old field
            "prompt": request.prompt,
            "mode": mode,
            "duration": str(request.seconds),
            "external_task_id": f"{family}-{idempotency_key}",
        }
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        put_options(body, request, self.deployment.capabilities)
        if self.deployment.capabilities.audio is not None and request.audio is not None:
            body["sound"] = "on" if request.audio else "off"
        if first is None:
            body["aspect_ratio"] = aspect
        else:  # the output follows the input image's aspect ratio
            body["image"] = url_or_inline(first, "base64")
        if last is not None:
            body["image_tail"] = url_or_inline(last, "base64")
        return HttpCall("POST", f"/v1/videos/{family}", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        family, task_id = split_upstream_id(upstream_id)
        return HttpCall("GET", f"/v1/videos/{family}/{task_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        return signed_download(variant, location)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return None  # Kling has no cancel or delete

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or "code" not in body:
            raise UpstreamError("Kling returned a malformed reply.")
        if body["code"] != 0:
            raise self.parse_error(reply, context)
        data = body.get("data")
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(task_id, str) or not task_id:
            raise UpstreamError("Kling returned a malformed task object.")
        upstream_id = _upstream_id(task_id, context)
        raw = str(data.get("task_status") or "")
        if raw == "succeed":
            return _succeeded(upstream_id, data)
        status = SPEC.map_status(raw)
        if status == "failed":
            reason = scrub(str(data.get("task_status_msg") or ""))
            policy = any(word in reason.lower() for word in _POLICY_WORDS)
            code = "moderation_blocked" if policy else "upstream_failed"
            return failed(upstream_id, raw, "Kling", reason, code)
        return UpstreamState(upstream_id, status, progress=0, raw_status=raw)

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        code = body.get("code") if isinstance(body.get("code"), int) else None
        message = scrub(str(body.get("message") or ""))
        said = f" (code {code}: {message})" if code is not None else f" ({message})"
        said = said if message or code is not None else ""
        status = reply.status
        if code in _AUTH_CODES or (code is None and status in (401, 403)):
            return UpstreamAuthError(f"Kling rejected this deployment's credentials{said}.")
        if code in _ACCOUNT_CODES:
            return UpstreamError(
                f"The Kling account of this deployment cannot run tasks{said}.",
                code="upstream_insufficient_credits",
            )
        if code in _RATE_CODES or (code is None and status == 429):
            return RateLimited(
                f"Kling rate limit reached{said}.", retry_after_s=retry_after_s(reply.headers)
            )
        if code in _POLICY_CODES:
            return InvalidRequest(
                f"Kling refused the content{said}.",
                param="prompt",
                code="moderation_blocked",
            )
        if code in (1200, 1201) or (code is None and status in (400, 422)):
            return InvalidRequest(f"Kling rejected the request{said}.", param=_param(message))
        if code == 1203 or (code is None and status == 404):
            return NotFound(f"Kling has no such resource{said}.")
        return UpstreamError(f"Kling failed with HTTP {status}{said}.")


def split_upstream_id(upstream_id: str) -> tuple[str, str]:
    """``("image2video", task_id)`` from ``image2video/<task_id>``; a bare id is text2video."""
    family, slash, task_id = upstream_id.partition("/")
    if slash and family in FAMILIES:
        return family, task_id
    return "text2video", upstream_id


def _family(request: ResolvedRequest) -> str:
    return "image2video" if request.image("first_frame") is not None else "text2video"


# --- replies -------------------------------------------------------------------------


def _upstream_id(task_id: str, context: CallContext) -> str:
    """``<family>/<task_id>``: a poll keeps the id it asked about, a submit knows its family
    from the request it sent (the reply does not say)."""
    if context.kind == "poll" and context.upstream_id:
        return context.upstream_id
    if context.request is not None:
        return f"{_family(context.request)}/{task_id}"
    return task_id


def _succeeded(upstream_id: str, data: Mapping[str, Any]) -> UpstreamState:
    result = data.get("task_result")
    videos = result.get("videos") if isinstance(result, dict) else None
    first = videos[0] if isinstance(videos, list) and videos else None
    url = first.get("url") if isinstance(first, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return no_output(upstream_id, "succeed", "Kling")
    units = _units(data.get("final_unit_deduction"))
    return completed(upstream_id, "succeed", {"video": url}, units)


def _units(value: Any) -> float | None:
    try:
        units = float(value)
    except (TypeError, ValueError):
        return None
    return units if math.isfinite(units) and units >= 0 else None


def _param(message: str) -> str | None:
    for field_name, param in _FIELDS.items():
        if re.search(rf"\b{field_name}\b", message):
            return param
    return None
