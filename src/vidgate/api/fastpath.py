"""``GET /v1/videos/{id}`` and its ``/content`` answered from memory, below the framework,
when it safely can.

Clients poll retrieve as hard as they like, so it is the route whose cost matters most. The
FastAPI route spends ~0.1 ms of CPU per request in routing, dependency resolution and
middleware (bench/README.md: 0.18 ms per retrieve against 0.07-0.10 ms for a bare Starlette
app doing an in-memory lookup). This ASGI middleware answers the request directly when
everything it needs is already in memory — a cached, valid key and a cached job that
``JobService.get`` would return unchanged — and otherwise passes it on untouched, so every
error, refresh and edge case stays on the one ordinary path.

Downloads (``GET``/``HEAD /v1/videos/{id}/content``, with no query or one ``variant``) take
the same shortcut when the key and the completed job are cached: the route's own answer
(``api/content.py``'s ``asset_response``: ETag, 304, ``Range``, ``HEAD``) without the route's
database read of the job, which cost more than serving a cached 1.8 MB file
(bench/serve_paths.py). Anything else — another key's job, a job not completed, an asset it
lacks, an unsatisfiable range — goes to the route, which answers it in the envelope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from vidgate.api.content import asset_response
from vidgate.api.urls import base_url
from vidgate.api.videos import video_body, video_headers
from vidgate.errors import GatewayError
from vidgate.jobs.store import Job
from vidgate.observe.requests import note
from vidgate.values import VARIANTS

_PATH = re.compile(r"/(?:v1/)?videos/(video_[0-9a-f]{32})")
MAX_REPLIES = 2048
"""Rendered retrieve replies kept (each ~1 KiB); all are dropped when it is reached."""
_CONTENT = re.compile(r"(/(?:v1/)?videos/)(video_[0-9a-f]{32})/content")
_VARIANT = {b"": "video", **{f"variant={v}".encode(): v for v in VARIANTS}}
"""The query strings the content shortcut takes; any other goes to the route."""


@dataclass(frozen=True)
class RouteTemplate:
    """What ``scope["route"]`` offers the request observer: the template, for metrics."""

    path: str


_CONTENT_ROUTES = {p: RouteTemplate(p + "{video_id}/content") for p in ("/videos/", "/v1/videos/")}


class RetrieveFastPath:
    """ASGI middleware: serve a retrieve from the caches, or hand it to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._replies: dict[str, tuple[Job, str, bytes, list[tuple[bytes, bytes]]]] = {}
        """Per job: the row and base URL a reply was rendered for, and the reply. A job
        polled again unchanged (the cache hands out the same frozen row until it changes)
        costs no JSON encoding: that was ~10% of a retrieve's CPU at c=32."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = scope["path"]
            if path.endswith("/content"):
                match = _CONTENT.fullmatch(path)
                if match is not None and await _content(scope, match, receive, send):
                    return
            elif scope["method"] == "GET":
                match = _PATH.fullmatch(path)
                if match is not None and await self._answer(scope, match[1], send):
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, job_id: str, send: Send) -> bool:
        state = scope["app"].state
        keys, jobs = getattr(state, "keys", None), getattr(state, "jobs", None)
        token = _bearer(scope["headers"])
        if keys is None or jobs is None or token is None:
            return False
        principal = keys.cached_principal(token)
        job = None if principal is None else jobs.cached(principal, job_id)
        if job is None:
            return False
        note(
            scope,
            key_id=principal.key_id if principal else None,
            job_id=job.id,
            model=job.model,
            deployment_id=job.deployment_id,
        )
        body, headers = self._rendered(job, base_url(scope), state.live)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    def _rendered(self, job: Job, base: str, live: Any) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        """The body and headers of ``job``'s retrieve, rendered once per row and base URL."""
        known = self._replies.get(job.id)
        if known is not None and known[0] is job and known[1] == base:
            body, headers = known[2], known[3]
        else:
            body = video_body(job, base)
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            if len(self._replies) >= MAX_REPLIES:
                self._replies.clear()
            self._replies[job.id] = (job, base, body, headers)
        extra = video_headers(job, live)  # the poll hint of a running job changes with time
        return body, headers + [(k.encode(), v.encode()) for k, v in extra.items()]


async def _content(scope: Scope, match: re.Match[str], receive: Receive, send: Send) -> bool:
    """Serve a download as the content route would, if the key and job are in memory."""
    variant = _VARIANT.get(scope.get("query_string", b""))
    asset = None if variant is None else _cached_asset(scope, match[2], variant)
    if asset is None:
        return False
    state = scope["app"].state
    ext = asset["key"].rsplit(".", 1)[-1]
    try:
        response = asset_response(
            Headers(scope=scope), scope["method"], state.storage, asset, f"{match[2]}.{ext}"
        )
    except GatewayError:  # an unsatisfiable range: the route answers it in the envelope
        return False
    scope["route"] = _CONTENT_ROUTES[match[1]]  # the template the route would have set
    scope["path_params"] = {"video_id": match[2]}
    await response(scope, receive, send)
    return True


def _cached_asset(scope: Scope, job_id: str, variant: str) -> dict[str, Any] | None:
    """The asset ``JobService.content`` would return, from memory; else ``None``."""
    state = scope["app"].state
    keys, jobs = getattr(state, "keys", None), getattr(state, "jobs", None)
    token = _bearer(scope["headers"])
    if keys is None or jobs is None or token is None:
        return None
    principal = keys.cached_principal(token)
    job = None if principal is None else jobs.cached(principal, job_id)
    if principal is None or job is None or job.status != "completed":
        return None
    asset = (job.assets or {}).get(variant)
    if asset is None:
        return None
    note(scope, key_id=principal.key_id)
    return dict(asset)


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None
