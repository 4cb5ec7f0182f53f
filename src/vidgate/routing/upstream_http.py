"""The HTTP client of upstream calls (submit, poll, download, delete): aiohttp behind a
small interface of vidgate's own, so nothing else depends on the library's types.

Every create and every poll is one upstream exchange, so the client's own cost is paid per
job many times over. Measured in-process on this 2-core machine, 1,500 sequential
``POST /v1/videos`` to the OpenAI simulator on loopback, client CPU per call (JSON body,
JSON answer parsed): httpx 0.28.1 0.94-0.98 ms, aiohttp 3.14.5 0.23 ms (wall 3.0-4.1 ms
against 1.0 ms). httpx stays the client of everything else (webhooks, image fetches,
moderation, the CLI): those are not per-job hot paths.

Behaviour kept from the httpx client this replaced: JSON bodies serialised as httpx 0.28
does (compact, UTF-8, no NaN), no redirects followed except on downloads (where the
``Authorization`` header is dropped when a redirect changes origin), the connect timeout
also bounding the wait for a free pooled connection, a read timeout between two reads of an
answer, proxies from the environment (``HTTPS_PROXY``, ``NO_PROXY``, ... read at the first
call and decided once per host: aiohttp's own ``trust_env`` makes two thread hops per
request, for the proxy and for ``~/.netrc``), no cookie jar, certifi's CA bundle unless
``SSL_CERT_FILE`` names another, and idle pooled connections closed after 4 s, before the
5 s after which uvicorn, like many servers, closes them itself, so a request is never sent
on a connection the server is closing. URLs are sent as given (presigned download URLs keep
their exact encoding). Failures become ``TransportFailure`` with words for clients and
whether the request may have reached the upstream.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any

import aiohttp
from yarl import URL

from vidgate import __version__

USER_AGENT = f"vidgate/{__version__}"
MAX_REDIRECTS = 20
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MIN_UPLOAD_RATE = 128 * 1024
"""Bytes per second an upload must average (it is bounded as a whole, see ``_send``)."""
KEEPALIVE_S = 4.0
"""Idle pooled connections are closed after this long (servers commonly close at 5 s)."""

FilePart = tuple[str, tuple[str, IO[bytes], str]]
"""A multipart file field: ``(field, (filename, open file, content type))``."""


@dataclass(frozen=True)
class Timeouts:
    """How long an exchange may take: to connect (a free pooled connection included), and
    between two reads of the answer."""

    connect_s: float
    read_s: float

    @classmethod
    def for_call(cls, timeout_s: float) -> Timeouts:
        return cls(connect_s=min(10.0, timeout_s), read_s=timeout_s)


@dataclass(frozen=True)
class Answer:
    """An upstream's whole answer."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str = ""
    """Where the answer came from (the query included)."""

    def body(self) -> Any:
        """The parsed JSON, or up to 2,000 characters of text when it is not JSON."""
        try:
            return json.loads(self.content)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self.content[:8000].decode(_charset(self.headers), "replace")[:2000]


def _charset(headers: Mapping[str, str]) -> str:
    """The ``charset`` an answer declares (error pages in GBK exist), else UTF-8."""
    for part in headers.get("Content-Type", "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset":
            try:
                return codecs.lookup(value.strip('"')).name
            except LookupError:
                break
    return "utf-8"


class TransportFailure(Exception):
    """The exchange failed below HTTP: no answer, or not a whole one."""

    def __init__(self, words: str, *, timed_out: bool, may_have_arrived: bool) -> None:
        super().__init__(words)
        self.words = words
        """What went wrong, said for a client (never a class name)."""
        self.timed_out = timed_out
        self.may_have_arrived = may_have_arrived
        """False only when the request cannot have reached the upstream (not connected)."""


class StreamedAnswer:
    """An answer whose body is read piece by piece (downloads)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers
        self.url = str(response.url)

    async def read(self) -> Answer:
        """The rest of the body, whole (for error answers, which are small)."""
        with _failures():
            content = await self._response.read()
        return Answer(self.status, self.headers, content, self.url)

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        """The body in pieces of at most ``size`` bytes."""
        with _failures():
            async for chunk in self._response.content.iter_chunked(size):
                yield chunk


class UpstreamHttp:
    """One connection pool for every deployment's upstream calls."""

    def __init__(self, max_connections: int = 512) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str] = {}
        self._proxy_of: dict[tuple[str, str], str | None] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use: a session belongs to a running loop
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                keepalive_timeout=KEEPALIVE_S,
                ssl=_ssl_context(),
            )
            self._proxies = urllib.request.getproxies_environment()
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    def _proxy(self, url: URL) -> str | None:
        """The proxy from the environment for ``url``'s scheme and host, if any."""
        place = (url.scheme, url.host_port_subcomponent or "")
        if place not in self._proxy_of:
            proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
            if proxy and _bypass(place[1], self._proxies):
                proxy = None
            self._proxy_of[place] = proxy
        return self._proxy_of[place]

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        timeouts: Timeouts,
        json_body: Any = None,
        form: Mapping[str, Any] | None = None,
        files: Sequence[FilePart] = (),
        params: Mapping[str, Any] | None = None,
    ) -> Answer:
        """Send one request and read its whole answer; redirects are not followed."""
        body = _body(json_body, form, files, headers)
        with _failures():
            response = await self._send(method, _url(url), body, params, timeouts)
            try:
                content = await response.read()
                return Answer(response.status, response.headers, content, str(response.url))
            finally:
                response.release()

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        timeouts: Timeouts,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[StreamedAnswer]:
        """Send one request, following redirects, and hand over the answer unread."""
        body = _body(json_body, None, (), headers)
        with _failures():
            response = await self._follow(method, _url(url), body, params, timeouts)
        try:
            yield StreamedAnswer(response)
        finally:
            response.release()

    async def _follow(
        self,
        method: str,
        target: URL,
        body: _Body,
        params: Mapping[str, Any] | None,
        timeouts: Timeouts,
    ) -> aiohttp.ClientResponse:
        """``_send``, then each redirect as its own request: the proxy is decided for every
        hop's host (``NO_PROXY`` API host, proxied object store), and ``Authorization``
        is dropped once a hop leaves the first origin."""
        origin = target.origin()
        for _ in range(MAX_REDIRECTS):
            response = await self._send(method, target, body, params, timeouts)
            location = response.headers.get("Location")
            if response.status not in REDIRECTS or not location:
                return response
            response.release()
            target, params = target.join(_url(location)), None
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", _Body(None, body.headers)
            if target.origin() != origin:
                kept = {k: v for k, v in body.headers.items() if k.lower() != "authorization"}
                body = _Body(body.data, kept, body.upload_s)
        raise aiohttp.TooManyRedirects(response.request_info, response.history)

    async def _send(
        self,
        method: str,
        target: URL,
        body: _Body,
        params: Mapping[str, Any] | None,
        timeouts: Timeouts,
    ) -> aiohttp.ClientResponse:
        """One exchange up to the answer's headers. aiohttp has no write timeout (its read
        timeout starts once the body is sent), so sending and waiting for the headers are
        bounded together: ``connect_s + read_s`` plus the body at ``MIN_UPLOAD_RATE``, so a
        peer that stops reading an upload cannot hold a create for ever."""
        async with asyncio.timeout(timeouts.connect_s + timeouts.read_s + body.upload_s):
            return await self._client().request(
                method,
                target,
                headers=body.headers,
                data=body.data,
                params=_params(params),
                proxy=self._proxy(target),
                allow_redirects=False,
                timeout=_timeout(timeouts),
            )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


_bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
"""``NO_PROXY`` matching as urllib does it (public, but missing from typeshed's stubs)."""


@dataclass(frozen=True)
class _Body:
    """What is sent: the payload for aiohttp, the headers, and how long sending may take."""

    data: Any
    headers: dict[str, str]
    upload_s: float = 0.0


def _body(
    json_body: Any,
    form: Mapping[str, Any] | None,
    files: Sequence[FilePart],
    headers: Mapping[str, str],
) -> _Body:
    """The request body, the headers that go with it, and its upload allowance."""
    out = dict(headers)
    if files:
        data = aiohttp.FormData()
        size = 0
        for name, value in (form or {}).items():
            data.add_field(name, str(value))
            size += len(str(value))
        for field, (filename, handle, content_type) in files:
            data.add_field(field, handle, filename=filename, content_type=content_type)
            size += _file_size(handle)
        return _Body(data, out, size / MIN_UPLOAD_RATE)
    if form:
        return _Body(aiohttp.FormData({k: str(v) for k, v in form.items()}), out)
    if json_body is None:
        return _Body(None, out)
    content = json.dumps(json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if not any(name.lower() == "content-type" for name in out):
        out["Content-Type"] = "application/json"
    encoded = content.encode("utf-8")
    return _Body(encoded, out, len(encoded) / MIN_UPLOAD_RATE)


def _file_size(handle: IO[bytes]) -> int:
    try:
        return os.fstat(handle.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # not a real file: count nothing
        return 0


def _url(url: str) -> URL:
    """The URL as given when it is already encoded (presigned URLs keep their signature)."""
    if url.isascii() and not any(c in url for c in ' "<>\\^`{|}'):
        return URL(url, encoded=True)
    return URL(url)


def _params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {k: _param(v) for k, v in params.items() if v is not None}


def _param(value: Any) -> str:
    if isinstance(value, bool):  # as httpx sends them
        return "true" if value else "false"
    return str(value)


def _timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, connect=timeouts.connect_s, sock_read=timeouts.read_s)


def _ssl_context() -> ssl.SSLContext:
    cafile = os.environ.get("SSL_CERT_FILE")
    if not cafile:
        import certifi  # httpx's own CA bundle, installed with it

        cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile, capath=os.environ.get("SSL_CERT_DIR"))


class _failures:
    """Turns the library's exceptions into ``TransportFailure``."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, asyncio.CancelledError):
            return
        failure = _failure(exc)
        if failure is not None:
            raise failure from exc


def _failure(exc: BaseException) -> TransportFailure | None:
    """The ``TransportFailure`` for a library exception, or None to let it pass."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportFailure("the connection timed out", timed_out=True, may_have_arrived=False)
    if isinstance(exc, TimeoutError):  # ServerTimeoutError and SocketTimeoutError included
        return TransportFailure("no answer in time", timed_out=True, may_have_arrived=True)
    for kind, words, arrived in _KINDS:
        if isinstance(exc, kind):
            return TransportFailure(words, timed_out=False, may_have_arrived=arrived)
    return None


_KINDS: tuple[tuple[type[BaseException], str, bool], ...] = (
    (aiohttp.ClientConnectorError, "the connection was refused or failed", False),
    (aiohttp.InvalidURL, "an unsupported URL", False),
    (aiohttp.NonHttpUrlClientError, "an unsupported URL", False),
    (aiohttp.TooManyRedirects, "too many redirects", True),
    (aiohttp.ServerDisconnectedError, "the connection was closed before a complete answer", True),
    (aiohttp.ClientPayloadError, "the connection broke while reading the answer", True),
    (aiohttp.ClientResponseError, "the answer was not valid HTTP", True),
    (aiohttp.ClientOSError, "the connection broke during the exchange", True),
    (aiohttp.ClientError, "the exchange failed", True),
)
