"""Builds Replicate predictions API requests and parses replies; pure functions, no I/O.

Create goes to ``POST /models/{owner}/{name}/predictions`` ``{input}`` for a model named
``owner/name`` and to ``POST /predictions`` ``{version, input}`` for ``owner/name:<version>``
or a bare version id. No ``Prefer: wait`` is sent (video jobs outlast its 60 s), so create
answers at once with ``starting``; a terminal status in that answer is still handled. The
deployment option ``cancel_after`` (``"30m"``) becomes the ``Cancel-After`` header.

``input`` is built from the model's ``InputKeys``: prompt, duration, aspect_ratio and
resolution (from the size), images as ``data:`` URIs or https URLs, negative_prompt, seed,
audio; other ``metadata`` keys are copied in as they are.

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
from dataclasses import dataclass
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
from vidgate.providers.replicate.spec import (
    INPUTS,
    SIZES,
    SPEC,
    VERSION_ID,
    InputKeys,
    model_name,
)
from vidgate.providers.toolkit import retry_after_s
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

_URL = re.compile(r"(?:https?|data)://\S+|data:[^\s,]*,\S+")
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


@dataclass(frozen=True)
class ReplicateAdapter:
    """``HttpAdapter`` for the Replicate predictions API; ``for_deployment`` binds options."""

    hardware_billing: bool = False
    """Report ``metrics.predict_time`` as cost units (models billed by hardware time)."""

    def for_deployment(self, deployment: Deployment) -> ReplicateAdapter:
        return ReplicateAdapter(hardware_billing=bool(deployment.options.get("hardware_billing")))

    def auth_headers(self, deployment: Deployment, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {deployment.api_key}"} if deployment.api_key else {}

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        if request.operation != "create":
            raise UnsupportedOperation(
                f"Replicate has no {request.operation} for '{request.upstream_model}'.",
                param="model",
            )
        overrides = _input_keys_option(deployment.options)
        keys = INPUTS.get(model_name(request.upstream_model), InputKeys()).renamed(overrides)
        body: dict[str, Any] = {"input": build_input(request, keys)}
        headers = _cancel_after(deployment.options.get("cancel_after"))
        reference = request.upstream_model
        if VERSION_ID.match(reference):
            return HttpCall(
                "POST", "/predictions", headers=headers, json={"version": reference, **body}
            )
        owner_name, _, version = reference.partition(":")
        owner, _, name = owner_name.partition("/")
        if not owner or not name or "/" in name:
            raise InvalidRequest(
                f"'{reference}' is not a Replicate model: use owner/name or owner/name:version.",
                param="model",
            )
        if version:  # sent whole: the API takes "owner/name:<id>" as well as a bare id
            return HttpCall(
                "POST", "/predictions", headers=headers, json={"version": reference, **body}
            )
        return HttpCall("POST", f"/models/{owner}/{name}/predictions", headers=headers, json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/predictions/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if variant != "video" or not location or not location.startswith(("https:", "http:")):
            return None
        return DownloadCall(HttpCall("GET", location), auth=False)  # public delivery URL

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("POST", f"/predictions/{upstream_id}/cancel")

    def parse_state(self, reply: HttpReply) -> UpstreamState:
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

    def parse_error(self, reply: HttpReply) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        detail = body.get("detail") or body.get("title") or ""
        text = _scrub(detail) if isinstance(detail, str) else ""
        status = reply.status
        if status in (400, 422):
            reason = f"Replicate rejected the request: {text}" if text else "Replicate rejected it."
            return InvalidRequest(reason, param=_param(body, text))
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


def build_input(request: ResolvedRequest, keys: InputKeys) -> dict[str, Any]:
    """The prediction ``input`` for ``request`` with the model's input names."""
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
    values["first_frame"] = _image(first) if first else None
    values["last_frame"] = _image(last) if last else None
    refs = [_image(i.asset) for i in request.images if i.role == "reference"]
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
    for key, value in request.options.items():
        if key in result:
            raise InvalidRequest(
                f"'metadata.{key}' is set by vidgate for model '{request.upstream_model}'; "
                "use the request's own parameter instead.",
                param=f"metadata.{key}",
            )
        result[str(key)] = value
    return result


def _image(asset: Asset) -> Any:
    """An https URL as is; anything else inline as a ``data:`` URI (Replicate takes both)."""
    if asset.kind == "url" and asset.value.startswith(("https://", "data:")):
        return asset.value
    if asset.kind == "file_id":
        raise InvalidRequest(
            "Replicate cannot use a file id as an image; send the file or an https URL.",
            param="input_reference",
        )
    return Inline(asset, "data_uri")


def _input_keys_option(options: Mapping[str, Any]) -> Mapping[str, str | None]:
    keys = options.get("input_keys")
    return dict(keys) if isinstance(keys, Mapping) else {}


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
    if body.get("data_removed") is True or url is None:
        removed = body.get("data_removed") is True
        return UpstreamState(
            pid,
            "failed",
            raw_status="succeeded",
            error_code="upstream_output_expired" if removed else "upstream_no_output",
            error_message="Replicate removed the output before it was fetched."
            if removed
            else "Replicate reported success but returned no output video.",
            cost_units=cost,
        )
    return UpstreamState(
        pid,
        "completed",
        progress=100,
        raw_status="succeeded",
        results={"video": url},
        cost_units=cost,
    )


def _failed(pid: str, body: Mapping[str, Any]) -> UpstreamState:
    error = body.get("error")
    message = _scrub(error) if isinstance(error, str) and error else "Replicate failed the job."
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


def _scrub(text: str) -> str:
    """An upstream message without URLs or data URIs (they may carry hosts or tokens)."""
    return _URL.sub("<url>", text)[:500]


def _param(body: Mapping[str, Any], text: str) -> str | None:
    """The gateway parameter a 422 names (``input.duration`` → ``seconds``)."""
    fields = body.get("invalid_fields")
    names = (
        [f.get("field") for f in fields if isinstance(f, dict)] if isinstance(fields, list) else []
    )
    names.append(text)
    for name in names:
        match = _FIELD.search(name) if isinstance(name, str) else None
        if match:
            return _param_of(match.group(1))
    if "version" in text.lower():
        return "model"
    return None


def _param_of(field_name: str) -> str:
    for canonical, target in InputKeys().__dict__.items():
        if target == field_name:
            return _CANONICAL_PARAMS[canonical]
    for keys in INPUTS.values():
        for canonical, target in keys.__dict__.items():
            if target == field_name:
                return _CANONICAL_PARAMS[canonical]
    return f"metadata.{field_name}"
