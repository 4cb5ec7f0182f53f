"""Runs upstream calls: the HTTP client, timeouts, secrets and error mapping live here.

``HttpUpstream`` turns a pure adapter into an ``UpstreamClient`` for one deployment.
Transport failures become gateway errors here (timeouts 504, connection errors 502), so the
job service only ever sees ``UpstreamState`` values or ``GatewayError``s. Uploads are sent
from storage as file parts; downloads are streamed chunk by chunk, never buffered whole.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx

from vidgate.errors import GatewayError, UpstreamError, UpstreamTimeout
from vidgate.providers.base import (
    HttpAdapter,
    HttpCall,
    HttpReply,
    Provider,
    ResolvedRequest,
    RuntimeContext,
    UpstreamClient,
    UpstreamState,
    Variant,
)
from vidgate.routing.config import Deployment
from vidgate.storage.base import BlobStore

DOWNLOAD_CHUNK = 256 * 1024


class HttpUpstream:
    """``UpstreamClient`` for an HTTP provider deployment."""

    def __init__(
        self,
        adapter: HttpAdapter,
        deployment: Deployment,
        client: httpx.AsyncClient,
        storage: BlobStore,
    ) -> None:
        self.adapter = adapter
        self.deployment = deployment
        self.client = client
        self.storage = storage
        self.base = deployment.api_base or ""
        self.timeout = httpx.Timeout(deployment.timeout_s, connect=min(10.0, deployment.timeout_s))

    async def submit(self, request: ResolvedRequest, *, idempotency_key: str) -> UpstreamState:
        call = self.adapter.build_submit(request, self.deployment, idempotency_key)
        return self.adapter.parse_state(await self._send(call))

    async def poll(self, upstream_id: str) -> UpstreamState:
        return self.adapter.parse_state(await self._send(self.adapter.build_poll(upstream_id)))

    @asynccontextmanager
    async def download(
        self, upstream_id: str, variant: Variant
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        call = self.adapter.build_download(upstream_id, variant)
        request = self.client.build_request(
            call.method, self._url(call), headers=self._headers(call), params=call.params
        )
        try:
            response = await self.client.send(request, stream=True, follow_redirects=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("The upstream did not answer the download in time.") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"Download from upstream failed: {type(exc).__name__}.") from exc
        try:
            if response.status_code >= 400:
                await response.aread()
                raise self.adapter.parse_error(_reply(response))
            yield response.aiter_bytes(DOWNLOAD_CHUNK)
        finally:
            await response.aclose()

    async def delete(self, upstream_id: str) -> None:
        call = self.adapter.build_delete(upstream_id)
        if call is not None:
            await self._send(call)

    async def archived(self, upstream_id: str) -> None:
        """Upstream copies stay: remix and edits by upstream id still need them."""

    def _url(self, call: HttpCall) -> str:
        return self.base + call.path

    def _headers(self, call: HttpCall) -> dict[str, str]:
        return {**self.adapter.auth_headers(self.deployment), **call.headers}

    async def _send(self, call: HttpCall) -> HttpReply:
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
            try:
                response = await self.client.request(
                    call.method,
                    self._url(call),
                    headers=self._headers(call),
                    json=call.json,
                    data=dict(call.data) if call.data else None,
                    files=files or None,
                    params=call.params,
                    timeout=self.timeout,
                )
            except httpx.TimeoutException as exc:
                raise UpstreamTimeout("The upstream did not answer in time.") from exc
            except httpx.HTTPError as exc:
                raise UpstreamError(f"Cannot reach the upstream: {type(exc).__name__}.") from exc
        reply = _reply(response)
        if response.status_code >= 400:
            raise self.adapter.parse_error(reply)
        return reply


async def _open(stack: AsyncExitStack, storage: BlobStore, key: str) -> Any:
    path = storage.local_path(key)
    if path is not None:
        return stack.enter_context(path.open("rb"))
    return await storage.read_all(key)


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
) -> UpstreamClient:
    """The ``UpstreamClient`` for a deployment of ``provider``."""
    if provider.runtime is not None:
        return provider.runtime(deployment, context)
    if provider.adapter is None:
        raise GatewayError(f"Provider {provider.spec.name} has neither adapter nor runtime.")
    return HttpUpstream(provider.adapter, deployment, http, context.storage)


def build_clients(
    providers: Mapping[str, Provider],
    deployments: Mapping[str, Deployment],
    context: RuntimeContext,
    http: httpx.AsyncClient,
) -> dict[str, UpstreamClient]:
    """One client per deployment id."""
    return {
        dep_id: make_client(providers[dep.provider], dep, context, http)
        for dep_id, dep in deployments.items()
    }
