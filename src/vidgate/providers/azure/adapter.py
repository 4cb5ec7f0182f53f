"""Builds Azure OpenAI video requests and parses replies; pure functions, no I/O.

Two protocols, chosen per deployment by ``options.api``:

- ``v1``: the OpenAI Videos wire format under ``/openai/v1/videos``. The request body is
  built by the openai provider's ``OpenAIAdapter`` (the deployment name goes in ``model``);
  this adapter swaps its auth for the ``api-key`` header and prefixes the paths.
- ``jobs``: the legacy preview API, ``/openai/v1/video/generations/jobs?api-version=...``,
  with ``width``/``height``/``n_seconds``; results are generations fetched by id.

Follow-up builders only see the upstream id, so the id names its protocol: jobs-API ids are
stored as ``jobs:<task id>``, v1 ids as the upstream's own ``video_...`` id.
"""

from __future__ import annotations

import dataclasses
import json
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
from vidgate.providers.azure.spec import BASE_MODEL_API, BASE_MODELS, map_status
from vidgate.providers.base import DownloadCall, FilePart, HttpCall, HttpReply
from vidgate.providers.openai.adapter import OpenAIAdapter
from vidgate.providers.toolkit import retry_after_s
from vidgate.values import Deployment, ResolvedRequest, UpstreamState, Variant

V1 = "/openai/v1/videos"
JOBS = "/openai/v1/video/generations"
JOBS_TAG = "jobs:"
JOBS_API_VERSION = "preview"
"""The api-version of jobs-API follow-up calls (they cannot see the deployment's options)."""

_IDS = re.compile(r"\b(?:video|task|gen)_[A-Za-z0-9_=-]+")
_GATEWAY_ID = re.compile(r"video_[0-9a-f]{32}")
_URL = re.compile(r"https?://\S+")
_HOST = re.compile(r"\b[\w.-]+\.(?:openai|cognitiveservices)\.azure\.com\b", re.IGNORECASE)
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
    """``HttpAdapter`` for Azure OpenAI video deployments (v1 and legacy jobs APIs)."""

    def __init__(self, api_version: str | None = None) -> None:
        self._v1 = OpenAIAdapter()
        self.api_version = api_version
        """The deployment's configured api-version, for every call (see ``for_deployment``)."""

    @classmethod
    def for_deployment(cls, deployment: Deployment) -> AzureAdapter:
        """An adapter whose follow-up calls carry the deployment's ``options.api_version``
        (the rest of ``options`` is checked, with a clear error, when a job is submitted)."""
        version = deployment.options.get("api_version")
        return cls(version if isinstance(version, str) and version else None)

    def _jobs_version(self) -> dict[str, str]:
        return {"api-version": self.api_version or JOBS_API_VERSION}

    def _v1_version(self) -> dict[str, str] | None:
        return {"api-version": self.api_version} if self.api_version else None

    def auth_headers(self, deployment: Deployment, token: str | None = None) -> dict[str, str]:
        return {"api-key": deployment.api_key} if deployment.api_key else {}

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        chosen = settings(deployment)
        _check_api_base(deployment)
        _check_request(request, chosen.base_model)
        if chosen.api == "jobs":
            return _jobs_submit(request, deployment, chosen.api_version or JOBS_API_VERSION)
        plain = dataclasses.replace(request, options={})
        call = self._v1.build_submit(plain, deployment, idempotency_key)
        params = {"api-version": chosen.api_version} if chosen.api_version else None
        return dataclasses.replace(call, path="/openai/v1" + call.path, params=params)

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

    def parse_state(self, reply: HttpReply) -> UpstreamState:
        body = reply.body
        if isinstance(body, dict) and _is_job(body):
            return _job_state(body)
        state = self._v1.parse_state(reply)
        status = map_status("v1", state.raw_status)
        code, message = state.error_code, state.error_message
        if status == "failed":
            code = code or "generation_failed"
            message = _scrub(message) if message else "Azure failed to generate the video."
        progress = 100 if status == "completed" else state.progress
        return dataclasses.replace(
            state, status=status, progress=progress, error_code=code, error_message=message
        )

    def parse_error(self, reply: HttpReply) -> GatewayError:
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


def _check_request(request: ResolvedRequest, base_model: str) -> None:
    """What the deployment's Sora model takes, beyond the capabilities of its name."""
    caps = BASE_MODELS[base_model]
    if request.operation not in caps.operations:
        raise UnsupportedOperation(
            f"Azure {base_model} deployments do not support {request.operation} "
            f"(they support: {', '.join(sorted(caps.operations))}).",
            param="model",
        )
    if request.operation != "create":
        return
    if request.seconds not in caps.seconds:
        allowed = ", ".join(str(s) for s in caps.seconds)
        raise InvalidRequest(
            f"Azure {base_model} takes 'seconds' in {allowed}; got {request.seconds}.",
            param="seconds",
        )
    if request.size not in caps.sizes:
        raise InvalidRequest(
            f"Azure {base_model} takes 'size' in {', '.join(caps.sizes)}; got {request.size}.",
            param="size",
        )


def _jobs_submit(request: ResolvedRequest, deployment: Deployment, version: str) -> HttpCall:
    fields: dict[str, Any] = {
        "model": deployment.model,
        "prompt": request.prompt,
        "width": request.width,
        "height": request.height,
        "n_seconds": request.seconds,
        "n_variants": 1,
    }
    params = {"api-version": version}
    path = f"{JOBS}/jobs"
    image = request.image("first_frame")
    if image is None:
        return HttpCall("POST", path, json=fields, params=params)
    if image.kind != "blob":
        raise InvalidRequest(
            "Azure Sora 1 takes input images as uploaded files only; upload the image "
            "instead of passing a URL or file id.",
            param="input_reference",
        )
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


def _is_job(body: Mapping[str, Any]) -> bool:
    return body.get("object") == "video.generation.job" or "generations" in body


def _job_state(body: Mapping[str, Any]) -> UpstreamState:
    job_id, raw = body.get("id"), body.get("status")
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
    if message is None:
        return ""

    def hide(match: re.Match[str]) -> str:
        return match[0] if _GATEWAY_ID.fullmatch(match[0]) else "<upstream id>"

    text = _URL.sub("<upstream url>", str(message))
    return _IDS.sub(hide, _HOST.sub("<upstream host>", text))
