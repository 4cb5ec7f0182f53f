"""Builds OpenAI Videos API requests and parses replies; pure functions, no I/O.

Creates go as JSON unless a file must be uploaded, then as multipart with the API's bracket
flattening (``input_reference[image_url]``, ``video[id]``), like the official SDK. Every
create carries ``Idempotency-Key`` (the gateway job id) for upstreams that honour it.
Upstream messages that reach clients have the upstream's own video ids masked.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from vidgate.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
)
from vidgate.providers.base import CallContext, DownloadCall, FilePart, HttpCall, HttpReply
from vidgate.providers.openai.spec import SPEC
from vidgate.providers.toolkit import is_int_text, put_options, retry_after_s, scrub
from vidgate.values import Asset, Deployment, ResolvedRequest, SourceVideo, UpstreamState, Variant

_HIDE_IDS = (
    re.compile(r"\bvideo_(?![0-9a-f]{32}(?![A-Za-z0-9_=-]))[A-Za-z0-9_=-]+"),
    "<upstream id>",
)
"""The upstream's own video ids in messages, but not the gateway's (``video_`` and 32 hex
digits), which are what its clients know."""


class OpenAIAdapter:
    """``HttpAdapter`` for one deployment speaking the OpenAI Videos wire format."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        key = self.deployment.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def build_submit(self, request: ResolvedRequest, idempotency_key: str) -> HttpCall:
        headers = {"Idempotency-Key": idempotency_key}
        source = request.source or SourceVideo(None)  # the spec's rules: follow-ups have one
        if request.operation == "remix":
            path = f"/videos/{source.upstream_id}/remix"
            return HttpCall("POST", path, headers, json={"prompt": request.prompt})
        fields: dict[str, Any] = {"prompt": request.prompt}
        files: list[FilePart] = []
        path = "/videos"
        if request.operation == "create":
            fields |= {
                "model": request.upstream_model,
                "seconds": str(request.seconds),
                "size": request.size,
            }
            if request.images:
                _reference("input_reference", request.images[0].asset, "image", fields, files)
        else:
            path = "/videos/edits" if request.operation == "edit" else "/videos/extensions"
            if request.operation == "extend":
                fields["seconds"] = str(request.seconds)
            if source.upstream_id is not None:
                fields["video"] = {"id": source.upstream_id}
            elif source.asset is not None:
                files.append(FilePart("video", source.asset, "video.mp4", "video/mp4"))
        put_options(fields, request, self.deployment.capabilities)
        if not files:
            return HttpCall("POST", path, headers, json=fields)
        return HttpCall("POST", path, headers, data=_flatten(fields), files=tuple(files))

    def build_poll(self, upstream_id: str) -> HttpCall:
        return HttpCall("GET", f"/videos/{upstream_id}")

    def build_download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> DownloadCall:
        return DownloadCall(
            HttpCall(
                "GET",
                f"/videos/{upstream_id}/content",
                {"Accept": "application/binary"},
                params={"variant": variant},
            )
        )

    def build_delete(self, upstream_id: str) -> HttpCall | None:
        return HttpCall("DELETE", f"/videos/{upstream_id}")

    def parse_state(self, reply: HttpReply, context: CallContext) -> UpstreamState:
        body = reply.body
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise UpstreamError("The upstream returned a malformed video object.")
        raw = str(body.get("status") or "")
        error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
        poll_after = reply.headers.get("openai-poll-after-ms")
        return UpstreamState(
            upstream_id=body["id"],
            status=SPEC.map_status(raw),
            progress=_progress(body.get("progress")),
            raw_status=raw,
            error_code=error.get("code"),
            error_message=scrub(error["message"], _HIDE_IDS) if error.get("message") else None,
            poll_after_s=int(poll_after) / 1000 if poll_after and is_int_text(poll_after) else None,
        )

    def parse_error(self, reply: HttpReply, context: CallContext) -> GatewayError:
        error = reply.body.get("error") if isinstance(reply.body, dict) else None
        message = scrub(error.get("message"), _HIDE_IDS) if isinstance(error, dict) else ""
        param = error.get("param") if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        text = f"Upstream rejected the request: {message}" if message else "Upstream error."
        if reply.status in (400, 422):
            return InvalidRequest(text, param=param, code=code or "invalid_request")
        if reply.status in (401, 403):
            return UpstreamAuthError("The upstream rejected this deployment's credentials.")
        if reply.status == 404:
            return NotFound(text)
        if reply.status == 429:
            return RateLimited(text, retry_after_s=retry_after_s(reply.headers))
        return UpstreamError(f"Upstream failed with HTTP {reply.status}. {message}".strip())


def _reference(
    name: str, asset: Asset, stem: str, fields: dict[str, Any], files: list[FilePart]
) -> None:
    if asset.kind == "blob":
        ctype = asset.content_type or "application/octet-stream"
        filename = asset.filename or f"{stem}.{ctype.rsplit('/', 1)[-1]}"
        files.append(FilePart(name, asset, filename, ctype))
    else:
        fields[name] = {"image_url" if asset.kind == "url" else "file_id": asset.value}


def _flatten(fields: dict[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in fields.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                flat[f"{key}[{inner}]"] = item if isinstance(item, str) else json.dumps(item)
        else:
            flat[key] = value if isinstance(value, str) else json.dumps(value)
    return flat


def _progress(value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    if not math.isfinite(number):
        return 0
    if 0 < number < 1:  # some compatible upstreams report a fraction
        number = round(number * 100, 6)  # 0.57 * 100 is 56.99999999999999
    return max(0, min(100, int(number)))
