"""Runs upstream calls: the HTTP client, timeouts, secrets and error mapping live here.

``HttpUpstream`` turns a pure adapter into an ``UpstreamClient`` for one deployment.
Transport failures become gateway errors here (timeouts 504, connection errors 502), so the
job service only ever sees ``UpstreamState`` values or ``GatewayError``s. Uploads are sent
from storage as file parts; downloads are streamed chunk by chunk, never buffered whole.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from vidgate.errors import (
    ContentExpired,
    GatewayError,
    NotFound,
    UpstreamError,
    UpstreamTimeout,
)
from vidgate.observe import metrics
from vidgate.observe.logs import info_fields
from vidgate.observe.requests import upstream_time
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
from vidgate.routing.upstream_http import Answer, Timeouts, TransportFailure, UpstreamHttp
from vidgate.storage.base import BlobStore
from vidgate.values import Deployment, ResolvedRequest, UpstreamState, Variant

log = logging.getLogger("vidgate.upstream")
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
        client: UpstreamHttp,
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
        self.timeouts = Timeouts.for_call(deployment.timeout_s)
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
        try:
            async with self.client.stream(
                call.method,
                self._url(call),
                headers=headers,
                timeouts=self.timeouts,
                json_body=call.json,
                params=call.params,
            ) as response:
                _logged(call.method, response.url, response.status)
                if response.status in GONE:
                    raise _gone(variant, response.status)
                if response.status >= 400:
                    reply = _reply(await response.read())
                    raise self.adapter.parse_error(reply, CallContext("download", upstream_id))
                chunks = _chunks(response.chunks(DOWNLOAD_CHUNK))
                yield decode_field(chunks, plan.base64_field) if plan.base64_field else chunks
        except TransportFailure as exc:
            if exc.timed_out:
                raise UpstreamTimeout("The upstream did not answer the download in time.") from exc
            raise UpstreamError(f"Download from upstream failed: {exc.words}.") from exc

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
                answer = await self.client.request(
                    call.method,
                    self._url(call),
                    headers=headers,
                    timeouts=self.timeouts,
                    json_body=body,
                    form=call.data,
                    files=files,
                    params=call.params,
                )
            except TransportFailure as exc:
                self._observe(started, "timeout" if exc.timed_out else "transport_error")
                raise _transport_error(exc) from exc
        self._observe(started, f"{answer.status // 100}xx")
        _logged(call.method, answer.url, answer.status)
        reply = _reply(answer)
        if answer.status >= 400:
            raise self.adapter.parse_error(reply, context)
        return reply

    def _observe(self, started: float, outcome: str) -> None:
        deployment, provider = self.deployment.id, self.deployment.provider
        elapsed = time.perf_counter() - started
        metrics.UPSTREAM_CALLS.labels(deployment, provider, outcome).inc()
        metrics.UPSTREAM_SECONDS.labels(deployment, provider).observe(elapsed)
        upstream_time(elapsed)


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


async def _chunks(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A download's pieces; a connection that breaks midway is the upstream's failure."""
    try:
        async for piece in pieces:
            yield piece
    except TransportFailure as exc:
        if exc.timed_out:
            raise UpstreamTimeout("The upstream stopped sending the download.") from exc
        raise UpstreamError(f"Download from upstream failed: {exc.words}.") from exc


def _logged(method: str, url: str, status: int) -> None:
    """One log line per upstream exchange, as httpx wrote them (redacted like every line:
    a signed URL's query values never reach the log)."""
    if log.isEnabledFor(logging.INFO):
        info_fields(log, f'HTTP Request: {method} {url} "{status}"', {})


def _transport_error(exc: TransportFailure) -> GatewayError:
    """The gateway error for a failed exchange, marked when the request may have arrived."""
    error: GatewayError
    if not exc.may_have_arrived:
        if exc.timed_out:
            return UpstreamTimeout("The upstream did not accept the connection in time.")
        return UpstreamError(f"Cannot reach the upstream: {exc.words}.")
    if exc.timed_out:
        error = UpstreamTimeout("The upstream did not answer in time.")
    else:
        error = UpstreamError(f"The upstream exchange failed: {exc.words}.")
    error.outcome_unknown = True
    return error


def _reply(answer: Answer) -> HttpReply:
    return HttpReply(answer.status, answer.headers, answer.body())


def make_client(
    provider: Provider,
    deployment: Deployment,
    context: RuntimeContext,
    http: UpstreamHttp,
    images: ImageFetcher | None = None,
) -> UpstreamClient:
    """The ``UpstreamClient`` for a deployment of ``provider``; ``images`` fetches image URLs
    (without it, an image URL that must be inlined is refused)."""
    if provider.runtime is not None:
        return provider.runtime(deployment, context)
    if provider.adapter is None:
        raise GatewayError(f"Provider {provider.spec.name} has neither adapter nor runtime.")
    return HttpUpstream(provider.adapter(deployment), deployment, http, context.storage, images)
