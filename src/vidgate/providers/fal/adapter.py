"""Builds fal.ai queue requests and parses replies; no I/O.

Submit is ``POST /{model path}`` with the model's input JSON at the top level; status,
result and cancel use only the app path (``owner/app``, the first two segments; three for
``workflows/`` and ``comfy/`` apps) — the subpath is dropped after submit. The app path comes
from the ``response_url`` fal returns (its path only: the host is the deployment's
``api_base``), else from the model path; the upstream id is ``"{app path}|{request id}"``.

fal answers ``COMPLETED`` for errored runs too, so success needs the result: the poll that
sees ``COMPLETED`` reports the job still running (``raw_status`` ``COMPLETED``, progress 99,
poll again at once) and remembers the id; the next ``build_poll`` fetches the result
(``GET /{app}/requests/{id}``) and ``parse_state`` decides: ``video.url`` → completed,
anything else → failed. A result fetch answered 400/422 (the app's own error, e.g. a
content-policy refusal) is remembered too, and the next poll ends the job failed with it.

``HttpAdapter`` passes ``parse_state``/``parse_error`` only the reply, so the call a reply
answers is carried from ``build_*`` in a ``ContextVar`` (dispatch builds, sends and parses
in one task). The "result is due" memory lives in the adapter (bounded); a process that
lacks it (a restart, another replica) simply sees ``COMPLETED`` once more.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

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
from vidgate.providers.fal.spec import FAMILIES, GENERIC, NAMESPACES, SIZES, SPEC, Family
from vidgate.providers.toolkit import retry_after_s
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

MEMORY = 10_000
"""At most this many finished requests whose result is still to be fetched are remembered."""
_URL = re.compile(r"(?:https?|data):\S+")
_FIELDS = {
    "prompt": "prompt",
    "duration": "seconds",
    "aspect_ratio": "size",
    "resolution": "size",
    "image_url": "input_reference",
    "negative_prompt": "metadata.negative_prompt",
    "seed": "seed",
    "generate_audio": "metadata.audio",
}
_DURATION_FORMATS = ("plain", "suffix", "int", "none")
_MODERATION = ("content_policy_violation", "no_media_generated")


@dataclass(frozen=True)
class _Call:
    """What the reply being parsed answers: ``submit``, ``status``, ``result`` or ``cancel``."""

    kind: str
    key: str
    """The upstream id (for ``submit``: the app path derived from the model path)."""


@dataclass(frozen=True)
class _Due:
    """A request fal reported ``COMPLETED``: its result is to be fetched, or failed with this."""

    error_code: str | None = None
    error_message: str | None = None


_CURRENT: ContextVar[_Call | None] = ContextVar("fal_call", default=None)


class FalAdapter:
    """``HttpAdapter`` for the fal.ai queue API."""

    def __init__(self) -> None:
        self._due: OrderedDict[str, _Due] = OrderedDict()

    def auth_headers(self, deployment: Deployment, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Key {deployment.api_key}"} if deployment.api_key else {}

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        if request.operation != "create":
            raise UnsupportedOperation(
                f"fal model '{request.upstream_model}' has no {request.operation}.",
                param="model",
            )
        model = request.upstream_model.strip("/")
        body = submit_body(request, family_for(model, deployment.options))
        _CURRENT.set(_Call("submit", app_path(model)))
        params = None
        limit = deployment.options.get("max_queue_length")
        if limit is not None:
            params = {"fal_max_queue_length": str(int(limit))}
        return HttpCall("POST", f"/{model}", json=body, params=params)

    def build_poll(self, upstream_id: str) -> HttpCall:
        app, request_id = split_id(upstream_id)
        due = self._due.get(upstream_id)
        if due is not None and due.error_code is None:
            _CURRENT.set(_Call("result", upstream_id))
            return HttpCall("GET", f"/{app}/requests/{request_id}")
        _CURRENT.set(_Call("status", upstream_id))
        return HttpCall("GET", f"/{app}/requests/{request_id}/status")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if variant != "video" or not location or not location.startswith(("https:", "http:")):
            return None
        return DownloadCall(HttpCall("GET", location), auth=False)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        app, request_id = split_id(upstream_id)
        self._due.pop(upstream_id, None)
        _CURRENT.set(_Call("cancel", upstream_id))
        return HttpCall("PUT", f"/{app}/requests/{request_id}/cancel")

    def parse_state(self, reply: HttpReply) -> UpstreamState:
        call = _CURRENT.get() or _Call("status", "")
        body = reply.body
        if not isinstance(body, dict):
            raise UpstreamError("fal returned a reply that is not a JSON object.")
        if call.kind == "submit":
            return _submitted(body, call.key)
        if call.kind == "result":
            self._due.pop(call.key, None)
            return _result(call.key, body)
        return self._status(call.key, body)

    def parse_error(self, reply: HttpReply) -> GatewayError:
        call = _CURRENT.get() or _Call("status", "")
        body = reply.body if isinstance(reply.body, dict) else {}
        message, loc, error_type = _detail(body.get("detail"))
        error_type = error_type or _text(body.get("error_type"))
        error_type = error_type or reply.headers.get("x-fal-error-type")
        status = reply.status
        if call.kind == "result" and status in (400, 422):
            self._remember(call.key, _Due(_failure_code(error_type), _failure_text(message)))
            return UpstreamError(f"fal refused the finished request's result: {message}")
        if status in (400, 422):
            return InvalidRequest(
                f"fal rejected the request: {message}" if message else "fal rejected the request.",
                param=_param(loc),
            )
        if status in (401, 403):
            return UpstreamAuthError("fal rejected this deployment's key.")
        if status == 404:
            return NotFound(f"fal: {message}" if message else "fal has no such request.")
        if status == 429:
            return RateLimited(
                f"fal rate limit: {message}" if message else "fal rate limit reached.",
                retry_after_s=retry_after_s(reply.headers),
            )
        return UpstreamError(f"fal failed with HTTP {status}. {message}".strip())

    # --- status replies ----------------------------------------------------------------

    def _status(self, upstream_id: str, body: Mapping[str, Any]) -> UpstreamState:
        raw = body.get("status")
        if not isinstance(raw, str) or not raw:
            raise UpstreamError("fal returned a status without 'status'.")
        if raw == "COMPLETED":
            return self._completed(upstream_id, body)
        if raw in ("FAILED", "CANCELED"):
            self._due.pop(upstream_id, None)
            error = _text(body.get("error"))
            cancelled = raw == "CANCELED"
            return UpstreamState(
                upstream_id,
                "failed",
                raw_status=raw,
                error_code="cancelled" if cancelled else _failure_code(body.get("error_type")),
                error_message=_failure_text(error)
                if error
                else ("The request was cancelled at fal." if cancelled else "fal failed the run."),
            )
        return UpstreamState(upstream_id, SPEC.map_status(raw), raw_status=raw)

    def _completed(self, upstream_id: str, body: Mapping[str, Any]) -> UpstreamState:
        due = self._due.get(upstream_id)
        error = _text(body.get("error"))
        if (due is not None and due.error_code is not None) or error:
            self._due.pop(upstream_id, None)
            code = (
                due.error_code if due and due.error_code else _failure_code(body.get("error_type"))
            )
            message = due.error_message if due and due.error_message else _failure_text(error)
            return UpstreamState(
                upstream_id,
                "failed",
                raw_status="COMPLETED",
                error_code=code,
                error_message=message,
            )
        self._remember(upstream_id, _Due())
        return UpstreamState(
            upstream_id, "in_progress", progress=99, raw_status="COMPLETED", poll_after_s=0.0
        )

    def _remember(self, upstream_id: str, due: _Due) -> None:
        self._due[upstream_id] = due
        self._due.move_to_end(upstream_id)
        while len(self._due) > MEMORY:
            self._due.popitem(last=False)


# --- ids and paths -------------------------------------------------------------------


def app_path(endpoint: str) -> str:
    """``owner/app`` of a model path (``workflows/owner/app`` for namespaced apps)."""
    parts = [part for part in endpoint.split("/") if part]
    keep = 3 if parts and parts[0] in NAMESPACES else 2
    if len(parts) < keep:
        raise InvalidRequest(
            f"'{endpoint}' is not a fal model path (expected owner/app[/path]).", param="model"
        )
    return "/".join(parts[:keep])


def split_id(upstream_id: str) -> tuple[str, str]:
    """``(app path, request id)`` of an upstream id ``"{app path}|{request id}"``."""
    app, sep, request_id = upstream_id.rpartition("|")
    if not sep or not app or not request_id:
        raise NotFound("This is not a fal request id.")
    return app, request_id


def _app_from_url(url: Any, request_id: str) -> str | None:
    """The app path inside a ``response_url``/``status_url`` fal returned (host ignored)."""
    if not isinstance(url, str):
        return None
    parts = [part for part in urlsplit(url).path.split("/") if part]
    if "requests" not in parts:
        return None
    at = parts.index("requests")
    if parts[at + 1 : at + 2] != [request_id]:
        return None
    before = parts[:at]
    keep = 3 if len(before) >= 3 and before[-3] in NAMESPACES else 2
    return "/".join(before[-keep:]) if len(before) >= keep else None


# --- request bodies ------------------------------------------------------------------


def family_for(model: str, options: Mapping[str, Any]) -> Family:
    """A listed model's field rules, or the generic ones adjusted by deployment options."""
    family = FAMILIES.get(model)
    if family is not None:
        return family
    duration = options.get("duration_format", GENERIC.duration)
    if duration not in _DURATION_FORMATS:
        raise InvalidRequest(
            f"The deployment option 'duration_format' must be one of "
            f"{', '.join(_DURATION_FORMATS)}.",
            param="model",
        )
    return replace(
        GENERIC,
        duration=duration,
        aspect_ratio=bool(options.get("send_aspect_ratio", True)),
        resolution=bool(options.get("send_resolution", True)),
        image_field=options.get("image_field", GENERIC.image_field),
        last_frame_field=options.get("last_frame_field", GENERIC.last_frame_field),
    )


def submit_body(request: ResolvedRequest, family: Family) -> dict[str, Any]:
    """The model's input JSON for ``request``."""
    body: dict[str, Any] = {"prompt": request.prompt}
    if family.duration == "plain":
        body["duration"] = str(request.seconds)
    elif family.duration == "suffix":
        body["duration"] = f"{request.seconds}s"
    elif family.duration == "int":
        body["duration"] = request.seconds
    aspect, resolution = SIZES.get(request.size, (None, None))
    if family.aspect_ratio and aspect:
        body["aspect_ratio"] = aspect
    if family.resolution and resolution:
        body["resolution"] = resolution
    _images(request, family, body)
    if request.negative_prompt:
        body["negative_prompt"] = request.negative_prompt
    if request.seed is not None:
        body["seed"] = request.seed
    if family.audio_field and request.audio is not None:
        body[family.audio_field] = request.audio
    for key, value in request.options.items():
        if key in body:
            raise InvalidRequest(
                f"'metadata.{key}' would overwrite the field the gateway sets from the request.",
                param=f"metadata.{key}",
            )
        body[key] = value
    return body


def _images(request: ResolvedRequest, family: Family, body: dict[str, Any]) -> None:
    first, last = request.image("first_frame"), request.image("last_frame")
    if first is None and family.image_required:
        raise InvalidRequest(
            f"Model '{request.upstream_model}' makes video from an image: "
            "'input_reference' is required.",
            param="input_reference",
        )
    if first is not None:
        if family.image_field is None:
            raise InvalidRequest(
                f"Model '{request.upstream_model}' takes no input image.", param="input_reference"
            )
        body[family.image_field] = _image(first)
    if last is not None:
        if family.last_frame_field is None:
            raise InvalidRequest(
                f"Model '{request.upstream_model}' has no last-frame input on this deployment "
                "(set the deployment option 'last_frame_field').",
                param="metadata.last_frame",
            )
        body[family.last_frame_field] = _image(last)


def _image(asset: Asset) -> Any:
    """fal takes an https URL or a data URI for any ``*_url`` input."""
    if asset.kind == "url" and asset.value.startswith(("https://", "data:")):
        return asset.value
    if asset.kind == "file_id":
        raise InvalidRequest(
            "fal cannot use a file id; send the image or an https URL.", param="input_reference"
        )
    return Inline(asset, "data_uri")


# --- replies -------------------------------------------------------------------------


def _submitted(body: Mapping[str, Any], model_app: str) -> UpstreamState:
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise UpstreamError("fal accepted the request but returned no request_id.")
    app = _app_from_url(body.get("response_url"), request_id)
    app = app or _app_from_url(body.get("status_url"), request_id) or model_app
    if not app:
        raise UpstreamError("fal returned a request without its app path.")
    return UpstreamState(f"{app}|{request_id}", "queued", raw_status="IN_QUEUE")


def _result(upstream_id: str, body: Mapping[str, Any]) -> UpstreamState:
    error = _text(body.get("error")) or _detail(body.get("detail"))[0]
    video = body.get("video")
    url = video.get("url") if isinstance(video, Mapping) else None
    if error or not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return UpstreamState(
            upstream_id,
            "failed",
            raw_status="COMPLETED",
            error_code=_failure_code(body.get("error_type")) if error else "upstream_no_output",
            error_message=_failure_text(error)
            if error
            else "fal reported the run completed but its result has no video.",
        )
    return UpstreamState(
        upstream_id, "completed", progress=100, raw_status="COMPLETED", results={"video": url}
    )


def _detail(detail: Any) -> tuple[str, list[Any], str | None]:
    """``(message, loc, type)`` of a fal ``detail`` (a string or FastAPI's list)."""
    if isinstance(detail, str):
        return _scrub(detail), [], None
    if isinstance(detail, list) and detail and isinstance(detail[0], Mapping):
        first = detail[0]
        loc = first.get("loc")
        loc = loc if isinstance(loc, list) else []
        where = ".".join(str(p) for p in loc if p != "body")
        msg = _scrub(str(first.get("msg") or "invalid"))
        text = f"{where}: {msg}" if where else msg
        return text, loc, _text(first.get("type"))
    return "", [], None


def _param(loc: list[Any]) -> str | None:
    fields = [str(p) for p in loc if p != "body"]
    if not fields:
        return None
    return _FIELDS.get(fields[0], f"metadata.{fields[0]}")


def _failure_code(error_type: Any) -> str:
    return "moderation_blocked" if error_type in _MODERATION else "upstream_failed"


def _failure_text(message: str | None) -> str:
    return f"fal failed the run: {message}" if message else "fal failed the run."


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return _scrub(value)
    if isinstance(value, Mapping):
        return _scrub(str(value.get("message") or value.get("msg") or "")) or None
    return None


def _scrub(text: str) -> str:
    """An upstream message without URLs or data URIs."""
    return _URL.sub("<url>", text)[:500]
