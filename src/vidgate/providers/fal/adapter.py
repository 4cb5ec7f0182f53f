"""Builds fal.ai queue requests and parses replies for one deployment; no I/O, no state.

Submit is ``POST /{model path}`` with the model's input JSON at the top level; status,
result and cancel use only the app path (``owner/app``, the first two segments; three for
``workflows/`` and ``comfy/`` apps) — the subpath is dropped after submit. The app path comes
from the ``response_url`` fal returns (its path only: the host is the deployment's
``api_base``), else from the model path; the upstream id is ``"{app path}|{request id}"``.

fal answers ``COMPLETED`` for errored runs too, so success needs the result, and the step
travels in the upstream id, never in the adapter: the poll that sees ``COMPLETED`` answers
``in_progress`` (progress 99, poll again at once) under the moved id
``"{app path}|{request id}|result"``, which the poller saves on the job; ``build_poll`` for
such an id fetches the result (``GET /{app}/requests/{id}``) and ``parse_state``, told by the
``CallContext`` which id was polled, decides: ``video.url`` → completed, anything else →
failed. Any replica continues a job from its id alone; a move that was not saved only means
``COMPLETED`` is seen once more.

A result fetch answered 400/422 is the app's own error (e.g. a content-policy refusal): the
run finished without a result it will ever serve. Dispatch hands error replies only to
``parse_error``, so it answers ``TaskFailed`` carrying fal's failure code and reason, which
the poller ends the job with at once, uncharged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    TaskFailed,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, DownloadCall, HttpCall, HttpReply
from vidgate.providers.fal.spec import FAMILIES, GENERIC, NAMESPACES, SIZES, SPEC, Family
from vidgate.providers.toolkit import (
    completed,
    no_output,
    put_options,
    retry_after_s,
    scrub,
    signed_download,
    url_or_inline,
)
from vidgate.values import (
    Deployment,
    ModelCapabilities,
    ResolvedRequest,
    UpstreamState,
    Variant,
)

AS_GIVEN = ("https://", "data:")
"""fal takes an https URL or a data URI as given for any ``*_url`` input; anything else
(an upload, a plain http URL) is inlined as a data URI."""
RESULT = "result"
"""The last part of an upstream id whose result is to be fetched: ``{app}|{id}|result``."""
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


class FalAdapter:
    """``HttpAdapter`` for one deployment of the fal.ai queue API."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Key {key}"} if key else {}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        model = request.upstream_model.strip("/")
        app_path(model)  # a path fal cannot route is refused before any call
        options = self.deployment.options
        family = family_for(model, options)
        body = submit_body(request, family, self.deployment.capabilities)
        limit = options.get("max_queue_length")
        params = None if limit is None else {"fal_max_queue_length": str(int(limit))}
        return HttpCall("POST", f"/{model}", json=body, params=params)

    def build_poll(self, upstream_id: str) -> HttpCall:
        app, request_id, step = split_id(upstream_id)
        if step == RESULT:
            return HttpCall("GET", f"/{app}/requests/{request_id}")
        return HttpCall("GET", f"/{app}/requests/{request_id}/status")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        return signed_download(variant, location)

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        app, request_id, _ = split_id(upstream_id)
        return HttpCall("PUT", f"/{app}/requests/{request_id}/cancel")

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict):
            raise UpstreamError("fal returned a reply that is not a JSON object.")
        if context.kind == "submit":
            model = context.request.upstream_model if context.request else self.deployment.model
            return _submitted(body, app_path(model.strip("/")))
        upstream_id = context.upstream_id or ""
        if _is_result(upstream_id):
            return _result(upstream_id, body)
        return _status(upstream_id, body)

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        message, loc, error_type = _detail(body.get("detail"))
        error_type = error_type or _text(body.get("error_type"))
        error_type = error_type or reply.headers.get("x-fal-error-type")
        status = reply.status
        if status in (400, 422) and context.kind == "poll" and _is_result(context.upstream_id):
            return TaskFailed(_failure_text(message), code=_failure_code(error_type))
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


def split_id(upstream_id: str) -> tuple[str, str, str | None]:
    """``(app path, request id, step)`` of ``"{app path}|{request id}[|result]"``."""
    base, step = upstream_id, None
    if _is_result(upstream_id):
        base, step = upstream_id[: -len(RESULT) - 1], RESULT
    app, sep, request_id = base.rpartition("|")
    if not sep or not app or not request_id or "|" in app:
        raise NotFound("This is not a fal request id.")
    return app, request_id, step


def _is_result(upstream_id: str | None) -> bool:
    """Whether ``upstream_id`` is at the result step (``{app}|{request id}|result``)."""
    return (
        upstream_id is not None
        and upstream_id.count("|") == 2
        and upstream_id.endswith(f"|{RESULT}")
    )


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


def submit_body(
    request: ResolvedRequest, family: Family, caps: ModelCapabilities
) -> dict[str, Any]:
    """The model's input JSON for ``request`` (options as the model's table says)."""
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
    # which fields the gateway writes depends on the deployment (generic models): checked here
    for key in request.options:
        if key in body:
            raise InvalidRequest(
                f"'metadata.{key}' would overwrite the field the gateway sets from the request.",
                param=f"metadata.{key}",
            )
    put_options(body, request, caps)
    return body


def _images(request: ResolvedRequest, family: Family, body: dict[str, Any]) -> None:
    """Frames where the family puts them; a generic deployment may have no field for one."""
    first, last = request.image("first_frame"), request.image("last_frame")
    if first is not None:
        if family.image_field is None:
            raise InvalidRequest(
                f"Model '{request.upstream_model}' takes no input image on this deployment.",
                param="input_reference",
            )
        body[family.image_field] = url_or_inline(first, as_given=AS_GIVEN)
    if last is not None:
        if family.last_frame_field is None:
            raise InvalidRequest(
                f"Model '{request.upstream_model}' has no last-frame input on this deployment "
                "(set the deployment option 'last_frame_field').",
                param="metadata.last_frame",
            )
        body[family.last_frame_field] = url_or_inline(last, as_given=AS_GIVEN)


# --- replies -------------------------------------------------------------------------


def _submitted(body: Mapping[str, Any], model_app: str) -> UpstreamState:
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise UpstreamError("fal accepted the request but returned no request_id.")
    app = _app_from_url(body.get("response_url"), request_id)
    app = app or _app_from_url(body.get("status_url"), request_id) or model_app
    return UpstreamState(f"{app}|{request_id}", "queued", raw_status="IN_QUEUE")


def _status(upstream_id: str, body: Mapping[str, Any]) -> UpstreamState:
    raw = body.get("status")
    if not isinstance(raw, str) or not raw:
        raise UpstreamError("fal returned a status without 'status'.")
    error = _text(body.get("error"))
    if raw == "COMPLETED" and not error:  # the result decides: fetched by the next poll
        moved = f"{upstream_id}|{RESULT}"
        return UpstreamState(moved, "in_progress", progress=99, raw_status=raw, poll_after_s=0.0)
    if raw == "CANCELED" and not error:
        return _failed(upstream_id, raw, "cancelled", "The request was cancelled at fal.")
    if raw == "CANCELED":
        return _failed(upstream_id, raw, "cancelled", _failure_text(error))
    if raw in ("COMPLETED", "FAILED"):
        code = _failure_code(body.get("error_type"))
        return _failed(upstream_id, raw, code, _failure_text(error))
    return UpstreamState(upstream_id, SPEC.map_status(raw), raw_status=raw)


def _result(upstream_id: str, body: Mapping[str, Any]) -> UpstreamState:
    error = _text(body.get("error")) or _detail(body.get("detail"))[0]
    if error:
        code = _failure_code(body.get("error_type"))
        return _failed(upstream_id, "COMPLETED", code, _failure_text(error))
    video = body.get("video")
    url = video.get("url") if isinstance(video, Mapping) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return no_output(upstream_id, "COMPLETED", "fal")
    return completed(upstream_id, "COMPLETED", {"video": url})


def _failed(upstream_id: str, raw: str, code: str, message: str) -> UpstreamState:
    """fal's own wording (``fal failed the run: ...``), which ``toolkit.failed`` does not say."""
    return UpstreamState(
        upstream_id, "failed", raw_status=raw, error_code=code, error_message=message
    )


def _detail(detail: Any) -> tuple[str, list[Any], str | None]:
    """``(message, loc, type)`` of a fal ``detail`` (a string or FastAPI's list)."""
    if isinstance(detail, str):
        return scrub(detail), [], None
    if isinstance(detail, list) and detail and isinstance(detail[0], Mapping):
        first = detail[0]
        loc = first.get("loc")
        loc = loc if isinstance(loc, list) else []
        where = ".".join(str(p) for p in loc if p != "body")
        msg = scrub(str(first.get("msg") or "invalid"))
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
        return scrub(value) or None
    if isinstance(value, Mapping):
        return scrub(str(value.get("message") or value.get("msg") or "")) or None
    return None
