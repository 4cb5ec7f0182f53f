"""Builds Vertex AI Veo requests and parses replies; pure (the key file is configuration).

Create: ``POST {base}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning``
with ``{instances:[…], parameters:{…}, labels?}``; the upstream id is the returned operation
name. Poll: ``POST {base}/{name before /operations/}:fetchPredictOperation`` with
``{"operationName": name}``. Results are either base64 inline in the finished operation
(downloaded by fetching the operation again and stream-decoding ``bytesBase64Encoded``) or,
with ``metadata.storage_uri``, a ``gs://`` object read through the Cloud Storage JSON API.
Auth is OAuth: a service-account JWT grant exchanged for a bearer token (``TokenAuth``).

The adapter builds relative paths (joined to ``api_base`` by dispatch) unless it is bound to
one deployment (``for_deployment``), which is how a deployment without ``api_base`` reaches
``https://{location}-aiplatform.googleapis.com/v1`` and how ``gcs_base`` is honoured.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
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
from vidgate.providers.base import DownloadCall, HttpCall, HttpReply, Inline
from vidgate.providers.toolkit import GRPC_CODE_NAMES, retry_after_s
from vidgate.providers.vertex_ai import _auth, _config
from vidgate.providers.vertex_ai.spec import SIZE_MAP, SPEC
from vidgate.values import Asset, Deployment, ResolvedRequest, UpstreamState, Variant

_OPERATION = re.compile(
    r"^(projects/[^/]+/locations/[^/]+/publishers/[^/]+/models/[^/:]+)/operations/[^/]+$"
)
_RESOURCE = re.compile(r"\bprojects/[^\s'\"`,;)]+")
_URL = re.compile(r"\b(?:https?|gs)://[^\s'\"`,;)]+")
_GS = re.compile(r"^gs://([^/]+)/(.+)$")
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_IMAGE_TYPES[".webp"] = "image/webp"
EXTENSION_SECONDS = 8
"""``durationSeconds`` an extension takes; Veo adds 7 s of video to the input."""
MAX_EXTENSION_INPUT_S = 30


@dataclass(frozen=True)
class Target:
    """Where one deployment's calls go; ``api_base`` None means relative paths."""

    api_base: str | None = None
    gcs_base: str = _config.GCS_BASE


class VertexAdapter:
    """``HttpAdapter`` and ``TokenAuth`` for Veo on Vertex AI."""

    def __init__(self, target: Target | None = None) -> None:
        self.target = target or Target()

    @classmethod
    def for_deployment(cls, deployment: Deployment) -> VertexAdapter:
        """An adapter whose URLs are absolute for ``deployment`` (its api_base, or the
        location's production host) and whose downloads use its ``gcs_base``."""
        options = deployment.options
        base = deployment.api_base or _config.default_api_base(_config.location_of(options))
        return cls(Target(base.rstrip("/"), _config.gcs_base_of(options)))

    # --- auth --------------------------------------------------------------------------

    def build_token_request(self, deployment: Deployment, now: float) -> HttpCall:
        account = _config.settings(deployment).account
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

    def auth_headers(self, deployment: Deployment, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    # --- calls -------------------------------------------------------------------------

    def build_submit(
        self, request: ResolvedRequest, deployment: Deployment, idempotency_key: str
    ) -> HttpCall:
        settings = _config.settings(deployment)
        model = request.upstream_model
        resource = (
            f"projects/{settings.project}/locations/{settings.location}"
            f"/publishers/google/models/{model}"
        )
        body: dict[str, Any] = {
            "instances": [_instance(request)],
            "parameters": _parameters(request),
        }
        labels = _config.labels(request.options)
        if labels:
            body["labels"] = labels
        path = f"{self._base(deployment)}/{resource}:predictLongRunning"
        return HttpCall("POST", path, json=body)

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("POST", self._fetch_path(upstream_id), json={"operationName": upstream_id})

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None
    ) -> DownloadCall | None:
        if variant != "video":
            return None
        match = _GS.match(location or "")
        if match is None:  # inline: fetch the operation again, stream-decode the base64
            return DownloadCall(self.build_poll(upstream_id), base64_field="bytesBase64Encoded")
        bucket, name = match.groups()
        url = f"{self.target.gcs_base}/download/storage/v1/b/{bucket}/o/{quote(name, safe='')}"
        return DownloadCall(HttpCall("GET", url, params={"alt": "media"}))

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return None  # Vertex has no delete for predict operations; results expire on their own

    def _base(self, deployment: Deployment) -> str:
        if self.target.api_base:
            return self.target.api_base
        if deployment.api_base:
            return ""
        return _config.default_api_base(_config.location_of(deployment.options))

    def _fetch_path(self, upstream_id: str) -> str:
        match = _OPERATION.match(upstream_id)
        if match is None:
            raise UpstreamError("The upstream operation name is not a Vertex operation.")
        return f"{self.target.api_base or ''}/{match[1]}:fetchPredictOperation"

    # --- replies -----------------------------------------------------------------------

    def parse_state(self, reply: HttpReply) -> UpstreamState:
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
            location = video.get("gcsUri") if isinstance(video.get("gcsUri"), str) else "inline"
            return _state(name, "succeeded", progress=100, results={"video": location})
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

    def parse_error(self, reply: HttpReply) -> GatewayError:
        body = reply.body if isinstance(reply.body, dict) else {}
        error = body.get("error")
        if isinstance(error, str):  # the OAuth token endpoint: {"error", "error_description"}
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
    if last is not None and first is None:
        raise InvalidRequest(
            "Veo takes a last frame only together with a first frame (input_reference).",
            param="metadata.last_frame",
        )
    if references and first is not None:
        raise InvalidRequest(
            "Veo cannot combine reference images with a first or last frame.",
            param="metadata.reference_images",
        )
    if first is not None:
        instance["image"] = _image(first)
    if last is not None:
        instance["lastFrame"] = _image(last)
    if references:
        kind = _config.reference_type(request.options)
        if kind == "style" and len(references) > 1:
            raise InvalidRequest(
                "A style reference takes exactly one image.", param="metadata.reference_images"
            )
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
    source = request.source
    if request.images:
        raise InvalidRequest("Veo extends a video without input images.", param="input_reference")
    if request.seconds != EXTENSION_SECONDS:
        raise InvalidRequest(
            f"Veo extends a video by 7 s per call; send seconds={EXTENSION_SECONDS} "
            "(the durationSeconds Vertex takes for an extension).",
            param="seconds",
        )
    if SIZE_MAP.get(request.size, ("", ""))[1] != "720p":
        raise InvalidRequest("Vertex extends 720p videos only.", param="video")
    if source is None or (source.seconds or 0) > MAX_EXTENSION_INPUT_S:
        raise InvalidRequest("Vertex extends videos of 1 to 30 seconds.", param="video")
    if source.location and source.location.startswith("gs://"):
        return {"gcsUri": source.location, "mimeType": "video/mp4"}
    if source.asset is None:
        raise InvalidRequest("The source video's bytes are not available.", param="video")
    return {"bytesBase64Encoded": Inline(source.asset), "mimeType": "video/mp4"}


def _parameters(request: ResolvedRequest) -> dict[str, Any]:
    aspect, tier = SIZE_MAP.get(request.size, ("16:9", "720p"))
    veo3 = request.upstream_model.startswith("veo-3")
    has_references = any(i.role == "reference" for i in request.images)
    if tier in ("1080p", "4k") and request.seconds != 8:
        raise InvalidRequest(f"Veo makes {tier} videos of 8 seconds only.", param="seconds")
    if has_references and (request.seconds != 8 or aspect != "16:9"):
        raise InvalidRequest(
            "Veo reference-image videos are 8 seconds at 16:9 only.",
            param="metadata.reference_images",
        )
    params: dict[str, Any] = {
        "aspectRatio": aspect,
        "durationSeconds": request.seconds,
        "sampleCount": 1,
    }
    if veo3:
        params["resolution"] = tier
        params["generateAudio"] = bool(request.audio)
    if request.seed is not None:
        if not 0 <= request.seed <= 0xFFFFFFFF:
            raise InvalidRequest("'seed' must be between 0 and 4294967295.", param="seed")
        params["seed"] = request.seed
    if request.negative_prompt:
        params["negativePrompt"] = request.negative_prompt
    extra = _config.parameters(request.options)
    if "resizeMode" in extra and request.image("first_frame") is None:
        raise InvalidRequest(
            "'metadata.resize_mode' applies to image-to-video only.", param="metadata.resize_mode"
        )
    return params | extra


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


def _oauth_code(error: str) -> str:
    return error if re.fullmatch(r"[a-z_]{1,40}", error) else "error"


def _scrub(message: Any) -> str:
    """The upstream's message without URLs, bucket URIs or project resource names."""
    if not isinstance(message, str):
        return ""
    return _RESOURCE.sub("<resource>", _URL.sub("<uri>", message))[:1000]
