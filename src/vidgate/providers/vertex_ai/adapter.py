"""Builds Vertex AI Veo requests and parses replies; pure (the key file is configuration).

Create: ``POST {base}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning``
with ``{instances:[…], parameters:{…}, labels?}``; the upstream id is the returned operation
name. Poll: ``POST {base}/{name before /operations/}:fetchPredictOperation`` with
``{"operationName": name}``. Results are either base64 inline in the finished operation
(downloaded by fetching the operation again and stream-decoding ``bytesBase64Encoded``) or,
with ``metadata.storage_uri``, a ``gs://`` object read through the Cloud Storage JSON API.
Auth is OAuth: a service-account JWT grant exchanged for a bearer token (``TokenAuth``).

The adapter is built per deployment: its URLs are absolute, from the deployment's
``api_base`` or its location's production host
(``https://{location}-aiplatform.googleapis.com/v1``), and downloads use its ``gcs_base``.
The request was checked against the spec's option table and rules before the job existed;
the deployment's own options (credentials, project, location) are checked here, on use.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import quote

from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, DownloadCall, HttpCall, HttpReply, Inline
from vidgate.providers.toolkit import GRPC_CODE_NAMES, completed, put_options, retry_after_s, scrub
from vidgate.providers.vertex_ai import _auth, _config
from vidgate.providers.vertex_ai.spec import SIZE_MAP, SPEC
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

_OPERATION = re.compile(
    r"^(projects/[^/]+/locations/[^/]+/publishers/[^/]+/models/[^/:]+)/operations/[^/]+$"
)
# not inside a URL (``https://host/v1/projects/...``): errors.client_text hides the whole URL
_RESOURCE = (re.compile(r"\bprojects/[^\s'\"`,;)]+"), "<resource>")
_GS = re.compile(r"^gs://([^/]+)/(.+)$")
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_IMAGE_TYPES[".webp"] = "image/webp"
_OAUTH_REFUSALS = (400, 401, 403)
"""Token endpoint answers that mean the service account's grant was refused."""


class VertexAdapter:
    """``HttpAdapter`` and ``TokenAuth`` for one deployment of Veo on Vertex AI."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        options = deployment.options
        base = deployment.api_base or _config.default_api_base(_config.location_of(options))
        self.api_base = base.rstrip("/")
        self.gcs_base = _config.gcs_base_of(options)

    # --- auth --------------------------------------------------------------------------

    def build_token_request(self, now: float) -> HttpCall:
        account = _config.settings(self.deployment).account
        form = {"grant_type": _auth.JWT_GRANT_TYPE, "assertion": _auth.assertion(account, now)}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return HttpCall("POST", account.token_uri, headers, data=form)

    def parse_token(self, reply: HttpReply) -> tuple[str, float]:
        body = reply.body if isinstance(reply.body, dict) else {}
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise UpstreamAuthError("The OAuth token endpoint answered without an access token.")
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return token, lifetime if math.isfinite(lifetime) and lifetime > 0 else 3600.0

    def auth_headers(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    # --- calls -------------------------------------------------------------------------

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        settings = _config.settings(self.deployment)
        resource = (
            f"projects/{settings.project}/locations/{settings.location}"
            f"/publishers/google/models/{request.upstream_model}"
        )
        body: dict[str, Any] = {
            "instances": [_instance(request)],
            "parameters": _parameters(request),
        }
        put_options(body, request, self.deployment.capabilities)
        if request.options.get("labels"):
            body["labels"] = request.options["labels"]
        return HttpCall("POST", f"{self.api_base}/{resource}:predictLongRunning", json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        match = _OPERATION.match(upstream_id)
        if match is None:
            raise UpstreamError("The upstream operation name is not a Vertex operation.")
        path = f"{self.api_base}/{match[1]}:fetchPredictOperation"
        return HttpCall("POST", path, json={"operationName": upstream_id})

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None
    ) -> DownloadCall | None:
        if variant != "video":
            return None
        match = _GS.match(location or "")
        if match is None:  # inline: fetch the operation again, stream-decode the base64
            return DownloadCall(self.build_poll(upstream_id), base64_field="bytesBase64Encoded")
        bucket, name = match.groups()
        url = f"{self.gcs_base}/download/storage/v1/b/{bucket}/o/{quote(name, safe='')}"
        return DownloadCall(HttpCall("GET", url, params={"alt": "media"}))

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return None  # Vertex has no delete for predict operations; results expire on their own

    # --- replies -----------------------------------------------------------------------

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise UpstreamError("The upstream returned a malformed operation.")
        name = body["name"]
        if body.get("done") is not True:
            return _state(name, "running")
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            return _state(
                name,
                "failed",
                error_code=GRPC_CODE_NAMES.get(code, "upstream_failed")
                if isinstance(code, int)
                else "upstream_failed",
                error_message=_scrub(error.get("message")) or "The upstream operation failed.",
            )
        response: dict[str, Any] = (
            body["response"] if isinstance(body.get("response"), dict) else {}
        )
        video = _first_video(response.get("videos"))
        if video is not None:
            gcs = video.get("gcsUri")
            location = gcs if isinstance(gcs, str) else "inline"
            return completed(name, "succeeded", {"video": location})
        filtered = response.get("raiMediaFilteredCount")
        if isinstance(filtered, int) and filtered > 0:
            reasons = response.get("raiMediaFilteredReasons") or []
            text = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else ""
            message = "The video was blocked by the upstream's safety filters."
            return _state(
                name,
                "content_filtered",
                error_code="content_filtered",
                error_message=f"{message} {_scrub(text)}".strip(),
            )
        return _state(
            name,
            "failed",
            error_code="no_result",
            error_message="The upstream finished without a video.",
        )

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        error = body.get("error")
        if context.kind == "token" and reply.status in _OAUTH_REFUSALS:
            # the OAuth token endpoint: {"error": "invalid_grant", "error_description": ...}
            return UpstreamAuthError(
                "The OAuth token exchange for this deployment's service account failed "
                f"(HTTP {reply.status}, {_oauth_code(error)}); check options.credentials."
            )
        info = error if isinstance(error, dict) else {}
        message = _scrub(info.get("message"))
        status = info.get("status") if isinstance(info.get("status"), str) else None
        text = f"Upstream rejected the request: {message}" if message else "Upstream error."
        if reply.status in (400, 422):
            code = status.lower() if status else "invalid_request"
            return InvalidRequest(text, code=code)
        if reply.status in (401, 403):
            return UpstreamAuthError(
                "Vertex AI rejected this deployment's credentials "
                f"({status or reply.status}); check the service account's access to the project."
            )
        if reply.status == 404:
            return NotFound(text)
        if reply.status == 429:
            wait = _retry_delay(info.get("details")) or retry_after_s(reply.headers)
            return RateLimited(text, retry_after_s=wait)
        return UpstreamError(f"Upstream failed with HTTP {reply.status}. {message}".strip())


# --- request building ------------------------------------------------------------------


def _instance(request: ResolvedRequest) -> dict[str, Any]:
    instance: dict[str, Any] = {"prompt": request.prompt}
    first, last = request.image("first_frame"), request.image("last_frame")
    references = [i.asset for i in request.images if i.role == "reference"]
    if first is not None:
        instance["image"] = _image(first)
    if last is not None:
        instance["lastFrame"] = _image(last)
    if references:
        kind = request.options.get("reference_type", "asset")
        instance["referenceImages"] = [
            {"image": _image(a), "referenceType": kind} for a in references
        ]
    if request.operation == "extend":
        instance["video"] = _source_video(request)
    return instance


def _image(asset: Asset) -> dict[str, Any]:
    if asset.kind == "url" and asset.value.startswith("gs://"):
        ref: dict[str, Any] = {"gcsUri": asset.value}
        suffix = asset.value[asset.value.rfind(".") :].lower()
        mime = asset.content_type or _IMAGE_TYPES.get(suffix)
        if mime:
            ref["mimeType"] = mime
        return ref
    return {"bytesBase64Encoded": Inline(asset), "mimeType": Inline(asset, "mime_type")}


def _source_video(request: ResolvedRequest) -> dict[str, Any]:
    """The video to extend: its Cloud Storage object, else the archived bytes (the rules
    made sure one of them is there)."""
    source = request.source
    location = source.location if source is not None else None
    if location and location.startswith("gs://"):
        return {"gcsUri": location, "mimeType": "video/mp4"}
    if source is None or source.asset is None:
        raise GatewayError("The source video of the extension is not available.")
    return {"bytesBase64Encoded": Inline(source.asset), "mimeType": "video/mp4"}


def _parameters(request: ResolvedRequest) -> dict[str, Any]:
    aspect, tier = SIZE_MAP.get(request.size, ("16:9", "720p"))
    params: dict[str, Any] = {
        "aspectRatio": aspect,
        "durationSeconds": request.seconds,
        "sampleCount": 1,
    }
    if request.upstream_model.startswith("veo-3"):
        params["resolution"] = tier
        params["generateAudio"] = bool(request.audio)
    if request.seed is not None:
        params["seed"] = request.seed
    if request.negative_prompt:
        params["negativePrompt"] = request.negative_prompt
    return params


# --- reply parsing ---------------------------------------------------------------------


def _state(name: str, raw: str, **fields: Any) -> UpstreamState:
    return UpstreamState(upstream_id=name, status=SPEC.map_status(raw), raw_status=raw, **fields)


def _first_video(videos: Any) -> dict[str, Any] | None:
    if not isinstance(videos, list):
        return None
    for video in videos:
        if isinstance(video, dict) and (
            isinstance(video.get("gcsUri"), str) or isinstance(video.get("bytesBase64Encoded"), str)
        ):
            return video
    return None


def _retry_delay(details: Any) -> float | None:
    """``google.rpc.RetryInfo.retryDelay`` (``"30s"``) from an error's details."""
    for item in details if isinstance(details, list) else []:
        delay = item.get("retryDelay") if isinstance(item, dict) else None
        if isinstance(delay, str) and re.fullmatch(r"\d+(\.\d+)?s", delay):
            return float(delay[:-1])
    return None


def _oauth_code(error: Any) -> str:
    return error if isinstance(error, str) and re.fullmatch(r"[a-z_]{1,40}", error) else "error"


def _scrub(message: Any) -> str:
    """The upstream's message without URLs, bucket URIs or project resource names."""
    return scrub(message, _RESOURCE)
