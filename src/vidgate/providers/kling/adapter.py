"""Builds Kling API requests and parses replies; pure functions, no I/O.

Auth is a JWT (HS256) the adapter signs itself from the deployment's access key
(``api_key``) and secret key (``options.secret_key``): claims ``iss`` = access key, ``exp`` =
now + 1800 s, ``nbf`` = now - 5 s, sent as ``Authorization: Bearer <jwt>``. A token is
signed once per minute and reused within it, so it always has more than 29 minutes left.

Create goes to ``/v1/videos/text2video`` or, with a first frame, ``/v1/videos/image2video``
(``image`` and ``image_tail`` as raw base64 without a ``data:`` prefix, or an http(s) URL).
The query path must name the same family, and the create reply does not say which it was,
so the adapter sends ``external_task_id = "<family>-<job id>"`` (echoed in
``task_info.external_task_id``) and keeps the family in the upstream id
(``image2video/<task_id>``).

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
    UnsupportedOperation,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import DownloadCall, HttpCall, HttpReply, Inline
from vidgate.providers.kling.spec import (
    ASPECT_RATIOS,
    CAMERA_AXES,
    CAMERA_TYPES,
    MAX_PROMPT_CHARS,
    SPEC,
)
from vidgate.providers.wire import retry_after_s
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

TOKEN_LIFETIME_S = 1800
NBF_SKEW_S = 5
FAMILIES = ("text2video", "image2video")
MODES = ("std", "pro")
_URL = re.compile(r"(?:https?|wss?)://\S+")
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
    """``HttpAdapter`` for the Kling API (global or legacy host, from ``api_base``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def auth_headers(self, deployment: Deployment, token: str | None = None) -> dict[str, str]:
        access_key = deployment.api_key
        secret_key = deployment.options.get("secret_key")
        if not access_key or not isinstance(secret_key, str) or not secret_key:
            raise UpstreamAuthError(
                f"Kling deployment '{deployment.id}' needs its access key as 'api_key' and its "
                "secret key as 'options.secret_key' (KLING_ACCESS_KEY / KLING_SECRET_KEY)."
            )
        minute = int(self.clock()) // 60
        return {"Authorization": f"Bearer {_minute_token(access_key, secret_key, minute)}"}

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        if request.operation != "create":
            raise UnsupportedOperation(
                f"Kling has no {request.operation} for model '{request.upstream_model}'.",
                param="model",
            )
        first, last = request.image("first_frame"), request.image("last_frame")
        if last is not None and first is None:
            raise InvalidRequest(
                "Kling needs a first frame ('input_reference') when a last frame is given.",
                param="input_reference",
            )
        family = "image2video" if first is not None else "text2video"
        body = _common(request, deployment)
        body["external_task_id"] = f"{family}-{idempotency_key}"
        if first is None:
            body["aspect_ratio"] = _aspect_mode(request)[0]
        else:  # the output follows the input image's aspect ratio
            body["image"] = _image(first, "input_reference")
        if last is not None:
            if "camera_control" in body:
                raise InvalidRequest(
                    "Kling cannot combine 'metadata.camera_control' with a last frame.",
                    param="metadata.camera_control",
                )
            body["image_tail"] = _image(last, "metadata.last_frame")
        return HttpCall("POST", f"/v1/videos/{family}", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        family, task_id = split_upstream_id(upstream_id)
        return HttpCall("GET", f"/v1/videos/{family}/{task_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if variant != "video" or not location or not location.startswith(("https:", "http:")):
            return None
        return DownloadCall(HttpCall("GET", location), auth=False)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return None  # Kling has no cancel or delete

    def parse_state(self, reply: HttpReply) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or "code" not in body:
            raise UpstreamError("Kling returned a malformed reply.")
        if body["code"] != 0:
            raise self.parse_error(reply)
        data = body.get("data")
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(task_id, str) or not task_id:
            raise UpstreamError("Kling returned a malformed task object.")
        upstream_id = _upstream_id(task_id, data.get("task_info"))
        raw = str(data.get("task_status") or "")
        if raw == "succeed":
            return _succeeded(upstream_id, data)
        status = SPEC.map_status(raw)
        if status == "failed":
            return _failed(upstream_id, raw, data)
        return UpstreamState(upstream_id, status, progress=0, raw_status=raw)

    def parse_error(self, reply: HttpReply) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        code = body.get("code") if isinstance(body.get("code"), int) else None
        message = _scrub(str(body.get("message") or ""))
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


# --- request bodies ------------------------------------------------------------------


def _common(request: ResolvedRequest, deployment: Deployment) -> dict[str, Any]:
    if len(request.prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"'prompt' is too long for Kling: at most {MAX_PROMPT_CHARS} characters.",
            param="prompt",
            code="string_above_max_length",
        )
    model = request.upstream_model
    body: dict[str, Any] = {
        "model_name": model,
        "model": model,  # new-api #1342: some consoles still read the old field
        "prompt": request.prompt,
        "mode": _aspect_mode(request)[1],
        "duration": str(request.seconds),
    }
    if request.negative_prompt:
        if len(request.negative_prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequest(
                f"'metadata.negative_prompt' is too long for Kling: at most {MAX_PROMPT_CHARS} "
                "characters.",
                param="metadata.negative_prompt",
            )
        body["negative_prompt"] = request.negative_prompt
    if "cfg_scale" in request.options:
        body["cfg_scale"] = _cfg_scale(request.options["cfg_scale"])
    if request.options.get("camera_control") is not None:
        body["camera_control"] = _camera_control(request.options["camera_control"])
    if deployment.capabilities.audio is not None and request.audio is not None:
        body["sound"] = "on" if request.audio else "off"
    return body


def _aspect_mode(request: ResolvedRequest) -> tuple[str, str]:
    found = ASPECT_RATIOS.get(request.size)
    if found is None:
        raise InvalidRequest(
            f"Invalid value for 'size': '{request.size}'. Kling allows: "
            f"{', '.join(ASPECT_RATIOS)}.",
            param="size",
            code="invalid_value",
        )
    aspect, mode = found
    asked = request.options.get("mode")
    if asked is not None and asked not in MODES:
        raise InvalidRequest(
            f"Invalid value for 'metadata.mode': {asked!r}; allowed: std, pro.",
            param="metadata.mode",
            code="invalid_value",
        )
    if asked is not None and asked != mode:
        tier = "1080p (1920x1080, 1080x1920, 1080x1080)" if asked == "pro" else "720p"
        raise InvalidRequest(
            f"'metadata.mode' {asked!r} renders {tier}, but 'size' {request.size} is "
            f"Kling's {mode!r} mode; choose a size of that tier or drop 'metadata.mode'.",
            param="metadata.mode",
        )
    return aspect, mode


def _cfg_scale(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 0 <= value <= 1:
        raise InvalidRequest(
            f"Invalid value for 'metadata.cfg_scale': {value!r}; Kling takes a number in [0, 1].",
            param="metadata.cfg_scale",
        )
    return float(value)


def _camera_control(value: Any) -> dict[str, Any]:
    param = "metadata.camera_control"
    if not isinstance(value, Mapping) or set(value) - {"type", "config"}:
        raise InvalidRequest(f"'{param}' must be an object {{type, config}}.", param=param)
    kind = value.get("type")
    if kind not in CAMERA_TYPES:
        raise InvalidRequest(
            f"Invalid value for '{param}.type': {kind!r}; allowed: {', '.join(CAMERA_TYPES)}.",
            param=f"{param}.type",
        )
    config = value.get("config")
    if kind != "simple":
        if config is not None:
            raise InvalidRequest(
                f"'{param}.config' must be null unless type is 'simple'.", param=f"{param}.config"
            )
        return {"type": kind}
    return {"type": kind, "config": _camera_config(config, f"{param}.config")}


def _camera_config(config: Any, param: str) -> dict[str, float]:
    message = (
        f"'{param}' must set exactly one of {', '.join(CAMERA_AXES)} to a non-zero number "
        "in [-10, 10]."
    )
    if not isinstance(config, Mapping) or set(config) - set(CAMERA_AXES):
        raise InvalidRequest(message, param=param)
    out: dict[str, float] = {}
    for axis in CAMERA_AXES:
        raw = config.get(axis, 0)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not -10 <= raw <= 10:
            raise InvalidRequest(message, param=param)
        out[axis] = float(raw)
    if sum(1 for v in out.values() if v != 0) != 1:
        raise InvalidRequest(message, param=param)
    return out


def _image(asset: Asset, param: str) -> Any:
    """An http(s) URL as is; anything else as raw base64 (no ``data:`` prefix)."""
    if asset.kind == "url" and asset.value.startswith(("https://", "http://")):
        return asset.value
    if asset.kind in ("blob", "url"):
        return Inline(asset, "base64")
    raise InvalidRequest(
        f"Kling cannot use a file id for '{param}'; send the file or an https URL.", param=param
    )


# --- replies -------------------------------------------------------------------------


def _upstream_id(task_id: str, task_info: Any) -> str:
    external = task_info.get("external_task_id") if isinstance(task_info, dict) else None
    if isinstance(external, str):
        for family in FAMILIES:
            if external.startswith(f"{family}-"):
                return f"{family}/{task_id}"
    return task_id


def _succeeded(upstream_id: str, data: Mapping[str, Any]) -> UpstreamState:
    result = data.get("task_result")
    videos = result.get("videos") if isinstance(result, dict) else None
    first = videos[0] if isinstance(videos, list) and videos else None
    url = first.get("url") if isinstance(first, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return UpstreamState(
            upstream_id,
            "failed",
            raw_status="succeed",
            error_code="upstream_no_output",
            error_message="Kling reported success but returned no video.",
        )
    return UpstreamState(
        upstream_id,
        "completed",
        progress=100,
        raw_status="succeed",
        results={"video": url},
        cost_units=_units(data.get("final_unit_deduction")),
    )


def _failed(upstream_id: str, raw: str, data: Mapping[str, Any]) -> UpstreamState:
    reason = _scrub(str(data.get("task_status_msg") or ""))
    policy = any(word in reason.lower() for word in _POLICY_WORDS)
    return UpstreamState(
        upstream_id,
        "failed",
        raw_status=raw,
        error_code="moderation_blocked" if policy else "upstream_failed",
        error_message=f"Kling: {reason}" if reason else "Kling reported the task failed.",
    )


def _units(value: Any) -> float | None:
    try:
        units = float(value)
    except (TypeError, ValueError):
        return None
    return units if math.isfinite(units) and units >= 0 else None


def _scrub(text: str) -> str:
    return _URL.sub("<url>", text).strip()[:500]


def _param(message: str) -> str | None:
    for field_name, param in _FIELDS.items():
        if re.search(rf"\b{field_name}\b", message):
            return param
    return None
