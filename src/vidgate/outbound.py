"""An httpx client that connects only where the outbound address policy allows.

For client-supplied URLs (input images, webhooks). The check sits in httpcore's network
backend, the one place every new TCP connection of the client is opened: ``connect_tcp``
gets the URL's host, resolves it once (``netpolicy.checked_addresses``), and opens the
socket to one of those checked addresses — never to the name, so the operating system never
looks it up a second time (no DNS rebinding), whichever redirect or retry led there.

Why a network backend and not rewriting the URL to the checked IP (with the ``Host`` header
and the ``sni_hostname`` extension): with a rewritten URL, httpx pools connections by IP,
so a TLS connection verified for one name would be reused for another name on the same IP;
here the pool keys by the real host and TLS verifies the real host. httpx 0.28 has no
public argument for a network backend, so ``_GuardedTransport`` gives its connection pool
one (``AsyncHTTPTransport._pool``; the version is pinned and the gateway tests fail if the
check is bypassed). The client follows no redirects (callers re-check each hop), reads no
proxy settings from the environment and keeps no cookies.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import Iterable
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpcore
import httpx

from vidgate.netpolicy import OutboundPolicy, OutboundRefused, Resolver, checked_addresses

log = logging.getLogger("vidgate.outbound")


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the policy allows, resolved once."""

    def __init__(
        self,
        policy: OutboundPolicy,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._addresses(host, port, timeout)
        failure: Exception = httpcore.ConnectError("no address to connect to")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def _addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        """The checked addresses; a refusal reads like any failure to connect."""
        try:
            async with asyncio.timeout(timeout):
                return await checked_addresses(host, port, self.policy, self.resolver)
        except OutboundRefused as exc:
            log.info("outbound connection refused by the address policy: %s", exc)
            raise httpcore.ConnectError("cannot connect") from None
        except TimeoutError:
            raise httpcore.ConnectTimeout("name resolution timed out") from None
        except OSError:
            raise httpcore.ConnectError("cannot connect") from None

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not outbound targets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connection pool given the guarded backend."""

    def __init__(self, backend: GuardedBackend, limits: httpx.Limits) -> None:
        ssl_context = _ssl_context()
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """The one TLS context of every guarded client (they trust the same: certifi's bundle,
    nothing from the environment): each context holds its own copy of the CA bundle, ~0.9 MiB
    resident (measured), and a gateway makes two guarded clients at start-up (webhooks, image
    fetches) and a third with moderation."""
    return httpx.create_ssl_context(trust_env=False)


def guarded_client(
    policy: OutboundPolicy,
    *,
    timeout: httpx.Timeout,
    max_connections: int = 64,
    resolver: Resolver | None = None,
) -> httpx.AsyncClient:
    """A client for client-supplied URLs: every connection passes ``policy``."""
    limits = httpx.Limits(max_connections=max_connections)
    transport = _GuardedTransport(GuardedBackend(policy, resolver), limits)
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),  # a jar that takes nothing
    )
