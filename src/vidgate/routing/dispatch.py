"""Runs upstream calls: the HTTP client, timeouts, secrets and error mapping live here.

``HttpUpstream`` turns a pure adapter into an ``UpstreamClient`` for one deployment.
Transport failures become gateway errors here (timeouts 504, connection errors 502), so the
job service only ever sees ``UpstreamState`` values or ``GatewayError``s. Uploads are sent
from storage as file parts; downloads are streamed chunk by chunk, never buffered whole.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx

from vidgate.errors import (
    ContentExpired,
    GatewayError,
    NotFound,
    UpstreamError,
    UpstreamTimeout,
)
from vidgate.observe import metrics
from vidgate.providers.base import (
    CallContext,
    HttpAdapter,
    HttpCall,
    HttpReply,
    Provider,
    RuntimeContext,
    TokenAuth,
    UpstreamClient,
)
from vidgate.routing.b64stream import decode_field
from vidgate.routing.imagefetch import ImageFetcher
from vidgate.routing.inline import contains_inline, materialize
from vidgate.storage.base import BlobStore
from vidgate.values import Deployment, ResolvedRequest, UpstreamState, Variant

DOWNLOAD_CHUNK = 256 * 1024
GONE = (403, 404, 410)
"""Download answers that mean the result is no longer there: signed URLs past their expiry
(object stores answer 403), results past the upstream's retention (404, 410)."""


class HttpUpstream:
    """``UpstreamClient`` for an HTTP provider deployment."""

    def __init__(
        self,
        adapter: HttpAdapter,
        deployment: Deployment,
        client: httpx.AsyncClient,
        storage: BlobStore,
        images: ImageFetcher | None = None,
    ) -> None:
        self.adapter = adapter
        self.deployment = deployment
        self.client = client
        self.storage = storage
        self.images = images
        """Fetches client-supplied image URLs (not ``client``: those pass the address policy)."""
        self.base = deployment.api_base or ""
        self.timeout = httpx.Timeout(deployment.timeout_s, connect=min(10.0, deployment.timeout_s))
        self._token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()
        # checked once: isinstance against a runtime Protocol costs ~0.1 ms per call
        self._token_auth = adapter if isinstance(adapter, TokenAuth) else None

    async def submit(self, request: ResolvedRequest, *, idempotency_key: str) -> UpstreamState:
        context = CallContext("submit", request=request)
        reply = await self._send(self.adapter.build_submit(request, idempotency_key), context)
        return self.adapter.parse_state(reply, context)

    async def poll(self, upstream_id: str) -> UpstreamState:
        context = CallContext("poll", upstream_id)
        reply = await self._send(self.adapter.build_poll(upstream_id), context)
        return self.adapter.parse_state(reply, context)

    @asynccontextmanager
    async def download(
        self, upstream_id: str, variant: Variant, location: str | None = None
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        plan = self.adapter.build_download(upstream_id, variant, location)
        if plan is None:
            raise NotFound(f"The upstream has no {variant} for this job.")
        call = plan.call
        headers = await self._headers(call) if plan.auth else dict(call.headers)
        request = self.client.build_request(
            call.method, self._url(call), headers=headers, params=call.params, json=call.json
        )
        try:
            response = await self.client.send(request, stream=True, follow_redirects=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("The upstream did not answer the download in time.") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"Download from upstream failed: {what_failed(exc)}.") from exc
        try:
            if response.status_code in GONE:
                raise _gone(variant, response.status_code)
            if response.status_code >= 400:
                await response.aread()
                context = CallContext("download", upstream_id)
                raise self.adapter.parse_error(_reply(response), context)
            chunks = response.aiter_bytes(DOWNLOAD_CHUNK)
            yield decode_field(chunks, plan.base64_field) if plan.base64_field else chunks
        finally:
            await response.aclose()

    async def delete(self, upstream_id: str) -> None:
        call = self.adapter.build_delete(upstream_id)
        if call is not None:
            await self._send(call, CallContext("delete", upstream_id))

    async def archived(self, upstream_id: str) -> None:
        """Upstream copies stay: remix and edits by upstream id still need them."""

    def _url(self, call: HttpCall) -> str:
        if call.path.startswith(("http://", "https://")):
            return call.path
        return self.base + call.path

    async def _headers(self, call: HttpCall) -> dict[str, str]:
        token = await self._access_token()
        return {**self.adapter.auth_headers(token), **call.headers}

    async def _access_token(self) -> str | None:
        """A cached OAuth token for adapters that need one, refreshed a minute early."""
        auth = self._token_auth
        if auth is None:
            return None
        async with self._token_lock:
            now = time.time()
            if self._token is None or self._token[1] - 60 <= now:
                call = auth.build_token_request(now)
                reply = await self._request(call, {**call.headers}, CallContext("token"))
                token, lifetime = auth.parse_token(reply)
                self._token = (token, now + lifetime)
            return self._token[0]

    async def _send(self, call: HttpCall, context: CallContext) -> HttpReply:
        return await self._request(call, await self._headers(call), context)

    async def _request(
        self, call: HttpCall, headers: dict[str, str], context: CallContext
    ) -> HttpReply:
        async with AsyncExitStack() as stack:
            files = [
                (
                    part.field,
                    (
                        part.filename,
                        await _open(stack, self.storage, part.asset.value),
                        part.content_type,
                    ),
                )
                for part in call.files
            ]
            body = call.json
            if contains_inline(body):  # before the clock: image fetches are not upstream time
                body = await materialize(body, self.storage, self.images)
            started = time.perf_counter()
            try:
                response = await self.client.request(
                    call.method,
                    self._url(call),
                    headers=headers,
                    json=body,
                    data=dict(call.data) if call.data else None,
                    files=files or None,
                    params=call.params,
                    timeout=self.timeout,
                )
            except httpx.HTTPError as exc:
                self._observe(started, type(exc).__name__)
                raise _transport_error(exc) from exc
        self._observe(started, f"{response.status_code // 100}xx")
        reply = _reply(response)
        if response.status_code >= 400:
            raise self.adapter.parse_error(reply, context)
        return reply

    def _observe(self, started: float, outcome: str) -> None:
        deployment, provider = self.deployment.id, self.deployment.provider
        metrics.UPSTREAM_CALLS.labels(deployment, provider, outcome).inc()
        metrics.UPSTREAM_SECONDS.labels(deployment, provider).observe(time.perf_counter() - started)


async def _open(stack: AsyncExitStack, storage: BlobStore, key: str) -> Any:
    """An open file of the blob: a remote one (S3) is spooled to a temporary file first,
    so an uploaded video is sent on without ever being whole in memory."""
    path = storage.local_path(key)
    if path is not None:
        return stack.enter_context(path.open("rb"))
    handle = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (the stack closes it)
    async for chunk in storage.read(key):
        await asyncio.to_thread(handle.write, chunk)
    handle.seek(0)
    return handle


def _gone(variant: Variant, status: int) -> ContentExpired:
    return ContentExpired(
        f"The upstream no longer serves the {variant} (HTTP {status}): it expired or was "
        "deleted before the gateway could archive it. The job was not charged."
    )


_FAILURES: tuple[tuple[type[httpx.HTTPError], str], ...] = (
    (httpx.ConnectTimeout, "the connection timed out"),
    (httpx.ConnectError, "the connection was refused or failed"),
    (httpx.TimeoutException, "no answer in time"),
    (httpx.RemoteProtocolError, "the connection was closed before a complete answer"),
    (httpx.ReadError, "the connection broke while reading the answer"),
    (httpx.WriteError, "the connection broke while sending the request"),
    (httpx.TooManyRedirects, "too many redirects"),
    (httpx.UnsupportedProtocol, "an unsupported URL"),
)


def what_failed(exc: BaseException) -> str:
    """An exchange's failure in words (never an exception class: clients see this)."""
    for kind, words in _FAILURES:
        if isinstance(exc, kind):
            return words
    return "the exchange failed"


def _transport_error(exc: httpx.HTTPError) -> GatewayError:
    """The gateway error for a failed exchange, marked when the request may have arrived."""
    error: GatewayError
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return UpstreamTimeout("The upstream did not accept the connection in time.")
    if isinstance(exc, httpx.ConnectError):
        return UpstreamError(f"Cannot reach the upstream: {what_failed(exc)}.")
    if isinstance(exc, httpx.TimeoutException):
        error = UpstreamTimeout("The upstream did not answer in time.")
    else:
        error = UpstreamError(f"The upstream exchange failed: {what_failed(exc)}.")
    error.outcome_unknown = True
    return error


def _reply(response: httpx.Response) -> HttpReply:
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = response.text[:2000]
    return HttpReply(response.status_code, response.headers, body)


def make_client(
    provider: Provider,
    deployment: Deployment,
    context: RuntimeContext,
    http: httpx.AsyncClient,
    images: ImageFetcher | None = None,
) -> UpstreamClient:
    """The ``UpstreamClient`` for a deployment of ``provider``; ``images`` fetches image URLs
    (without it, an image URL that must be inlined is refused)."""
    if provider.runtime is not None:
        return provider.runtime(deployment, context)
    if provider.adapter is None:
        raise GatewayError(f"Provider {provider.spec.name} has neither adapter nor runtime.")
    return HttpUpstream(provider.adapter(deployment), deployment, http, context.storage, images)
