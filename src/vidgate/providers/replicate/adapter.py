"""Builds Replicate predictions API requests and parses replies for one deployment; no I/O.

Create goes to ``POST /models/{owner}/{name}/predictions`` ``{input}`` for a model named
``owner/name`` and to ``POST /predictions`` ``{version, input}`` for ``owner/name:<version>``
or a bare version id. No ``Prefer: wait`` is sent (video jobs outlast its 60 s), so create
answers at once with ``starting``; a terminal status in that answer is still handled. The
deployment option ``cancel_after`` (``"30m"``) becomes the ``Cancel-After`` header.

``input`` is built from the model's ``InputKeys`` (renamed or dropped by the deployment's
``input_keys``): prompt, duration, aspect_ratio and resolution (from the size), images as
``data:`` URIs or https URLs, negative_prompt, seed, audio; ``metadata`` keys go in as the
model's option table says (``any_model``: every key as it is). The request was checked
against the model before the job; the adapter checks only what the deployment's options
decide: a field ``input_keys`` dropped, a ``metadata`` key that would overwrite a field the
gateway sets, ``cancel_after`` and the model reference.

Predictions: ``starting`` (queued), ``processing`` (progress read from the tqdm bar in
``logs`` when the model prints one), ``succeeded`` with ``output`` a URL or a list of URLs,
``failed`` with ``error``, ``canceled`` and ``aborted`` (a ``Cancel-After`` deadline passed
before it started: not charged). Output files are public for about an hour. Errors are
problem JSON ``{"title", "detail", "status"}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
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
from vidgate.providers.replicate.spec import (
    INPUTS,
    SIZES,
    SPEC,
    VERSION_ID,
    InputKeys,
    model_name,
)
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
"""Replicate takes an https URL or a ``data:`` URI as given; anything else (an upload, a
plain http URL) is inlined as a ``data:`` URI."""
_PROGRESS = re.compile(r"^\s*(\d+)%\s*\|.+?\|\s*(\d+)/(\d+)")
_FIELD = re.compile(r"input\.([A-Za-z0-9_]+)")
_MODERATION = ("sensitive", "nsfw", "safety", "flagged", "moderation", "e005")
_CANCEL_AFTER = re.compile(r"^(\d+(\.\d+)?(ms|s|m|h))+$")
_CANONICAL_PARAMS = {
    "prompt": "prompt",
    "duration": "seconds",
    "aspect_ratio": "size",
    "resolution": "size",
    "first_frame": "input_reference",
    "last_frame": "metadata.last_frame",
    "reference": "metadata.reference_images",
    "negative_prompt": "metadata.negative_prompt",
    "seed": "seed",
    "audio": "metadata.audio",
}


class ReplicateAdapter:
    """``HttpAdapter`` for one deployment of the Replicate predictions API."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        options = deployment.options
        # models billed by hardware time: report metrics.predict_time as cost units
        self.hardware_billing = bool(options.get("hardware_billing"))
        overrides = options.get("input_keys")
        self.overrides: Mapping[str, str | None] = (
            dict(overrides) if isinstance(overrides, Mapping) else {}
        )

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def keys(self, reference: str) -> InputKeys:
        """The input names of the model ``reference`` on this deployment."""
        return INPUTS.get(model_name(reference), InputKeys()).renamed(self.overrides)

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        reference = request.upstream_model
        keys = self.keys(reference)
        body: dict[str, Any] = {"input": build_input(request, keys, self.deployment.capabilities)}
        headers = _cancel_after(self.deployment.options.get("cancel_after"))
        owner_name, _, version = reference.partition(":")
        if not VERSION_ID.match(reference):
            owner, _, name = owner_name.partition("/")
            if not owner or not name or "/" in name:
                raise InvalidRequest(
                    f"'{reference}' is not a Replicate model: use owner/name or "
                    "owner/name:version.",
                    param="model",
                )
        if version or VERSION_ID.match(reference):  # a pinned version, "owner/name:<id>" whole
            body["version"] = reference
            return HttpCall("POST", "/predictions", headers=headers, json=body)
        return HttpCall("POST", f"/models/{owner_name}/predictions", headers=headers, json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/predictions/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        return signed_download(variant, location)  # a public delivery URL, about an hour

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("POST", f"/predictions/{upstream_id}/cancel")

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
            raise UpstreamError("Replicate returned a malformed prediction object.")
        if not isinstance(body.get("status"), str):
            raise UpstreamError("Replicate returned a prediction without a status.")
        pid: str = body["id"]
        raw: str = body["status"]
        cost = self._cost(body) if raw in ("succeeded", "canceled") else None
        if raw == "succeeded":
            return _succeeded(pid, body, cost)
        if raw == "failed":
            return _failed(pid, body)
        if raw == "canceled":
            return UpstreamState(
                pid,
                "failed",
                raw_status=raw,
                error_code="cancelled",
                error_message="The prediction was canceled at Replicate.",
                cost_units=cost,
            )
        if raw == "aborted":
            return UpstreamState(
                pid,
                "failed",
                raw_status=raw,
                error_code="upstream_aborted",
                error_message="Replicate aborted the prediction: its Cancel-After deadline "
                "passed before it started.",
            )
        status = SPEC.map_status(raw)
        progress = _progress(body.get("logs")) if status == "in_progress" else 0
        return UpstreamState(pid, status, progress=progress, raw_status=raw)

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        detail = body.get("detail") or body.get("title") or ""
        text = scrub(detail)
        status = reply.status
        if status in (400, 422):
            reason = f"Replicate rejected the request: {text}" if text else "Replicate rejected it."
            sent = context.request.upstream_model if context.request else self.deployment.model
            return InvalidRequest(reason, param=_param(body, text, self.keys(sent)))
        if status in (401, 403):
            return UpstreamAuthError("Replicate rejected this deployment's API token.")
        if status == 402:
            return UpstreamError(
                "The Replicate account of this deployment has no credit left.",
                code="upstream_insufficient_credits",
            )
        if status == 404:
            return NotFound(f"Replicate: {text}" if text else "Replicate has no such prediction.")
        if status == 429:
            wait = retry_after_s(reply.headers)
            if wait is None:
                wait = _number(body.get("retry_after"))
            return RateLimited(
                f"Replicate rate limit: {text}" if text else "Replicate rate limit reached.",
                retry_after_s=wait,
            )
        return UpstreamError(f"Replicate failed with HTTP {status}. {text}".strip())

    def _cost(self, body: Mapping[str, Any]) -> float | None:
        if not self.hardware_billing:
            return None
        metrics = body.get("metrics")
        return _number(metrics.get("predict_time")) if isinstance(metrics, Mapping) else None


# --- request --------------------------------------------------------------------------


def build_input(
    request: ResolvedRequest, keys: InputKeys, caps: ModelCapabilities
) -> dict[str, Any]:
    """The prediction ``input`` for ``request`` with the model's input names; a value whose
    field the deployment's ``input_keys`` dropped, or a ``metadata`` key that would overwrite
    a field, is a 400 (the model's own fields were checked before the job)."""
    ratio, tier = SIZES.get(request.size, (None, None))
    values: dict[str, Any] = {
        "prompt": request.prompt,
        "duration": request.seconds,
        "aspect_ratio": ratio,
        "resolution": tier,
        "negative_prompt": request.negative_prompt,
        "seed": request.seed,
        "audio": request.audio,
    }
    first, last = request.image("first_frame"), request.image("last_frame")
    values["first_frame"] = url_or_inline(first, as_given=AS_GIVEN) if first else None
    values["last_frame"] = url_or_inline(last, as_given=AS_GIVEN) if last else None
    refs = [
        url_or_inline(i.asset, as_given=AS_GIVEN) for i in request.images if i.role == "reference"
    ]
    values["reference"] = refs or None
    result: dict[str, Any] = {}
    for name, value in values.items():
        target = getattr(keys, name)
        if value is None:
            continue
        if target is None:
            if name in ("prompt", "duration", "aspect_ratio", "resolution"):
                continue  # the model fixes these itself
            raise InvalidRequest(
                f"Model '{request.upstream_model}' takes no {_CANONICAL_PARAMS[name]}.",
                param=_CANONICAL_PARAMS[name],
            )
        result[target] = value
    for key in request.options:
        if key in result:
            raise InvalidRequest(
                f"'metadata.{key}' is set by vidgate for model '{request.upstream_model}'; "
                "use the request's own parameter instead.",
                param=f"metadata.{key}",
            )
    put_options(result, request, caps)
    return result


def _cancel_after(value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {}
    text = f"{value}s" if isinstance(value, int | float) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _CANCEL_AFTER.match(text):
        raise InvalidRequest(
            f"Deployment option 'cancel_after' must be a duration such as '30m'; got {value!r}.",
            param="model",
        )
    return {"Cancel-After": text}


# --- replies --------------------------------------------------------------------------


def output_url(output: Any) -> str | None:
    """The first video URL of ``output`` (a URL string or a list of URLs)."""
    first = output[0] if isinstance(output, list) and output else output
    if isinstance(first, str) and first.startswith(("https://", "http://")):
        return first
    return None


def _succeeded(pid: str, body: Mapping[str, Any], cost: float | None) -> UpstreamState:
    url = output_url(body.get("output"))
    if body.get("data_removed") is True:
        return UpstreamState(
            pid,
            "failed",
            raw_status="succeeded",
            error_code="upstream_output_expired",
            error_message="Replicate removed the output before it was fetched.",
            cost_units=cost,
        )
    if url is None:
        return replace(no_output(pid, "succeeded", "Replicate"), cost_units=cost)
    return completed(pid, "succeeded", {"video": url}, cost)


def _failed(pid: str, body: Mapping[str, Any]) -> UpstreamState:
    """Replicate's ``error`` as it is (scrubbed): it names no provider to prefix."""
    message = scrub(body.get("error")) or "Replicate failed the job."
    lowered = message.lower()
    code = "moderation_blocked" if any(w in lowered for w in _MODERATION) else "upstream_failed"
    return UpstreamState(pid, "failed", raw_status="failed", error_code=code, error_message=message)


def _progress(logs: Any) -> int:
    """The last tqdm percentage in ``logs`` (what the replicate SDK reads), else 0."""
    if not isinstance(logs, str):
        return 0
    for line in reversed(logs.splitlines()):
        match = _PROGRESS.match(line)
        if match:
            return max(0, min(99, int(match.group(1))))
    return 0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return max(0.0, float(value))


def _param(body: Mapping[str, Any], text: str, keys: InputKeys) -> str | None:
    """The gateway parameter a 422 names (``input.duration`` → ``seconds``), by this
    deployment's input names first."""
    fields = body.get("invalid_fields")
    names = (
        [f.get("field") for f in fields if isinstance(f, dict)] if isinstance(fields, list) else []
    )
    names.append(text)
    for name in names:
        match = _FIELD.search(name) if isinstance(name, str) else None
        if match:
            return _param_of(match.group(1), keys)
    if "version" in text.lower():
        return "model"
    return None


def _param_of(field_name: str, keys: InputKeys) -> str:
    for canonical, target in keys.__dict__.items():
        if target == field_name:
            return _CANONICAL_PARAMS[canonical]
    for canonical, target in InputKeys().__dict__.items():
        if target == field_name:
            return _CANONICAL_PARAMS[canonical]
    for keys in INPUTS.values():
        for canonical, target in keys.__dict__.items():
            if target == field_name:
                return _CANONICAL_PARAMS[canonical]
    return f"metadata.{field_name}"
