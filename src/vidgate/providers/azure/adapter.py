"""Builds Azure OpenAI video requests and parses replies; pure functions, no I/O.

Two protocols, chosen per deployment by ``options.api``:

- ``v1``: the OpenAI Videos wire format under ``/openai/v1/videos``. The request body is
  built by the openai provider's ``OpenAIAdapter`` (the deployment name goes in ``model``);
  this adapter swaps its auth for the ``api-key`` header and prefixes the paths.
- ``jobs``: the legacy preview API, ``/openai/v1/video/generations/jobs?api-version=...``,
  with ``width``/``height``/``n_seconds``; results are generations fetched by id.

Follow-up builders only see the upstream id, so the id names its protocol: jobs-API ids are
stored as ``jobs:<task id>``, v1 ids as the upstream's own ``video_...`` id; a reply is read
with the protocol of the call it answers (``CallContext``).

What a request may ask is checked while it is resolved, before a job exists, against the
capabilities of the deployment's Sora model (``spec.deployment_capabilities``: its
``options.base_model``, else its name); only the deployment's settings themselves
(``api``, ``api_version``, the ``api_base`` form) are checked here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.azure.spec import BASE_MODEL_API, BASE_MODELS, map_status
from vidgate.providers.base import CallContext, DownloadCall, FilePart, HttpCall, HttpReply
from vidgate.providers.openai.adapter import OpenAIAdapter
from vidgate.providers.toolkit import retry_after_s, scrub
from vidgate.values import Deployment, ResolvedRequest, UpstreamState, Variant

V1 = "/openai/v1/videos"
JOBS = "/openai/v1/video/generations"
JOBS_TAG = "jobs:"
JOBS_API_VERSION = "preview"
"""The api-version of jobs-API calls when the deployment names none."""

_HOST = re.compile(r"[\w.-]+\.(?:openai|cognitiveservices)\.azure\.com\b", re.I)
"""A resource host on its own (``client_text`` hides a URL as a whole)."""
_IDS = re.compile(r"\b(?:task_|gen_|video_(?![0-9a-f]{32}(?![A-Za-z0-9_=-])))[A-Za-z0-9_=-]+")
"""Upstream ids, but not the gateway's own (``video_`` and 32 hex digits)."""
_CODE = re.compile(r"[a-z][a-z0-9_]*")
_REASONS = {
    "input_moderation": "The prompt or input was blocked by Azure's content filter.",
    "output_moderation": "The generated video was blocked by Azure's content filter.",
    "internal_error": "Azure failed to generate the video.",
}


@dataclass(frozen=True)
class Settings:
    """A deployment's protocol choice, from its ``options``."""

    api: str
    api_version: str | None
    base_model: str


def settings(deployment: Deployment) -> Settings:
    """Read and check ``options`` (``api``, ``api_version``, ``base_model``)."""
    options = deployment.options
    unknown = set(options) - {"api", "api_version", "base_model"}
    if unknown:
        raise _config(deployment, f"unknown options {sorted(unknown)}")
    api = options.get("api", "v1")
    if api not in ("v1", "jobs"):
        raise _config(deployment, f"options.api must be 'v1' or 'jobs', not {api!r}")
    version = options.get("api_version")
    if version is not None and (not isinstance(version, str) or not version):
        raise _config(deployment, "options.api_version must be a non-empty string")
    default = deployment.model if deployment.model in BASE_MODELS else None
    base = options.get("base_model") or default or ("sora" if api == "jobs" else "sora-2")
    if base not in BASE_MODELS:
        raise _config(deployment, f"options.base_model must be one of {sorted(BASE_MODELS)}")
    if BASE_MODEL_API[base] != api:
        raise _config(
            deployment,
            f"{base} is served only by the {BASE_MODEL_API[base]!r} API: "
            f"set options.api: {BASE_MODEL_API[base]}",
        )
    return Settings(api, version, base)


class AzureAdapter:
    """``HttpAdapter`` for one Azure OpenAI video deployment (v1 or legacy jobs API)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self._v1 = OpenAIAdapter(deployment)
        version = deployment.options.get("api_version")
        self.api_version = version if isinstance(version, str) and version else None
        """The configured api-version, for every call (the rest of ``options`` is checked,
        with a clear error, when a job is submitted)."""

    def _jobs_version(self) -> dict[str, str]:
        return {"api-version": self.api_version or JOBS_API_VERSION}

    def _v1_version(self) -> dict[str, str] | None:
        return {"api-version": self.api_version} if self.api_version else None

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"api-key": key} if key else {}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        chosen = settings(self.deployment)
        _check_api_base(self.deployment)
        if chosen.api == "jobs":
            return _jobs_submit(request, self.deployment.model, self._jobs_version())
        call = self._v1.build_submit(request, idempotency_key)
        return dataclasses.replace(call, path="/openai/v1" + call.path, params=self._v1_version())

    def build_poll(self, upstream_id: str) -> HttpCall:
        job = _job_id(upstream_id)
        if job is not None:
            return HttpCall("GET", f"{JOBS}/jobs/{job}", params=self._jobs_version())
        return HttpCall("GET", f"{V1}/{upstream_id}", params=self._v1_version())

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall | None:
        if _job_id(upstream_id) is None:
            if variant != "video":
                return None  # Azure documents only variant=video; vidgate makes previews
            headers = {"Accept": "application/binary"}
            path = f"{V1}/{upstream_id}/content"
            params = {"variant": "video", **(self._v1_version() or {})}
            return DownloadCall(HttpCall("GET", path, headers, params=params))
        if location is None or variant == "spritesheet":
            return None
        path = f"{JOBS}/{location}/content/{variant}"
        return DownloadCall(HttpCall("GET", path, params=self._jobs_version()))

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        job = _job_id(upstream_id)
        if job is not None:
            return HttpCall("DELETE", f"{JOBS}/jobs/{job}", params=self._jobs_version())
        return HttpCall("DELETE", f"{V1}/{upstream_id}", params=self._v1_version())

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        if self._answers_jobs(context):
            return _job_state(reply.body)
        state = self._v1.parse_state(reply, context)
        status = map_status("v1", state.raw_status)
        code, message = state.error_code, state.error_message
        if status == "failed":
            code = code or "generation_failed"
            message = _scrub(message) if message else "Azure failed to generate the video."
        progress = 100 if status == "completed" else state.progress
        return dataclasses.replace(
            state, status=status, progress=progress, error_code=code, error_message=message
        )

    def _answers_jobs(self, context: CallContext) -> bool:
        """Whether the reply comes from the jobs API: a follow-up's id says so, a create's
        protocol is the deployment's."""
        if context.upstream_id is not None:
            return _job_id(context.upstream_id) is not None
        return self.deployment.options.get("api") == "jobs"

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        error = reply.body.get("error") if isinstance(reply.body, dict) else None
        error = error if isinstance(error, dict) else {}
        message = _scrub(error.get("message"))
        param = error.get("param") if isinstance(error.get("param"), str) else None
        raw_code = error.get("code")
        code = raw_code if isinstance(raw_code, str) and _CODE.fullmatch(raw_code) else None
        inner = error.get("inner_error") or error.get("innererror")
        inner_code = inner.get("code") if isinstance(inner, dict) else None
        text = f"Upstream rejected the request: {message}" if message else "Upstream error."
        if reply.status in (400, 422):
            if inner_code == "ResponsibleAIPolicyViolation":
                return InvalidRequest(text, param=param, code="content_policy_violation")
            return InvalidRequest(text, param=param, code=code or "invalid_request")
        if reply.status in (401, 403):
            return UpstreamAuthError("The upstream rejected this deployment's credentials.")
        if reply.status == 404:
            return NotFound(text)
        if reply.status == 429:
            return RateLimited(text, retry_after_s=retry_after_s(reply.headers))
        return UpstreamError(f"Upstream failed with HTTP {reply.status}. {message}".strip())


def _config(deployment: Deployment, problem: str) -> GatewayError:
    return GatewayError(
        f"Deployment {deployment.id!r} (provider azure) is misconfigured: {problem}."
    )


def _check_api_base(deployment: Deployment) -> None:
    base = (deployment.api_base or "").rstrip("/")
    if base.endswith(("/openai", "/openai/v1")):
        raise _config(
            deployment,
            "api_base must be the resource endpoint (https://<resource>.openai.azure.com), "
            "without /openai or /openai/v1",
        )


def _jobs_submit(request: ResolvedRequest, model: str, params: dict[str, str]) -> HttpCall:
    fields: dict[str, Any] = {
        "model": model,
        "prompt": request.prompt,
        "width": request.width,
        "height": request.height,
        "n_seconds": request.seconds,
        "n_variants": 1,
    }
    path = f"{JOBS}/jobs"
    image = request.image("first_frame")  # an upload (the spec's rule for Sora 1)
    if image is None:
        return HttpCall("POST", path, json=fields, params=params)
    ctype = image.content_type or "image/png"
    name = image.filename or f"image.{ctype.rsplit('/', 1)[-1]}"
    inpaint = {
        "frame_index": 0,
        "type": "image",
        "file_name": name,
        "crop_bounds": {
            "left_fraction": 0.0,
            "top_fraction": 0.0,
            "right_fraction": 1.0,
            "bottom_fraction": 1.0,
        },
    }
    data = {key: str(value) for key, value in fields.items()}
    data["inpaint_items"] = json.dumps([inpaint])
    files = (FilePart("files", image, name, ctype),)
    return HttpCall("POST", path, data=data, files=files, params=params)


def _job_id(upstream_id: str) -> str | None:
    return upstream_id[len(JOBS_TAG) :] if upstream_id.startswith(JOBS_TAG) else None


def _job_state(body: Any) -> UpstreamState:
    job_id = body.get("id") if isinstance(body, dict) else None
    raw = body.get("status") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not isinstance(raw, str):
        raise UpstreamError("The upstream returned a malformed video generation job.")
    status = map_status("jobs", raw)
    generations = body.get("generations")
    generations = generations if isinstance(generations, list) else []
    ids = [g["id"] for g in generations if isinstance(g, dict) and isinstance(g.get("id"), str)]
    upstream_id = JOBS_TAG + job_id
    if status == "completed" and ids:
        results = {"video": ids[0], "thumbnail": ids[0]}
        return UpstreamState(upstream_id, "completed", 100, raw, results=results)
    if status == "completed":
        message = "Azure reported success but returned no generation."
        return UpstreamState(upstream_id, "failed", 0, raw, "no_result", message)
    if status == "failed":
        code, message = _failure(raw, body.get("failure_reason"))
        return UpstreamState(upstream_id, "failed", 0, raw, code, message)
    return UpstreamState(upstream_id, status, 0, raw)


def _failure(raw: str, reason: Any) -> tuple[str, str]:
    if raw == "cancelled":
        return "cancelled", "The job was cancelled upstream."
    if isinstance(reason, str) and reason in _REASONS:
        return reason, _REASONS[reason]
    if isinstance(reason, str) and reason.strip():
        return "generation_failed", _scrub(reason)
    return "generation_failed", "Azure failed to generate the video."


def _scrub(message: Any) -> str:
    """An upstream message without upstream ids, URLs or resource host names."""
    return scrub(message, (_HOST, "<upstream host>"), (_IDS, "<upstream id>"))
