"""The guarded httpx client: every connection goes to an address the policy checked.

The rebinding tests give the backend an injected resolver and an inner backend that only
records where it was asked to connect (no socket at all); the others run real HTTP against
servers on loopback addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.outbound_targets import numeric_lookups_only
from tests.routing.imageserver import PNG, ImageServer
from tests.support import serve
from vidgate.netpolicy import OutboundPolicy
from vidgate.outbound import GuardedBackend, guarded_client

TIMEOUT = httpx.Timeout(30.0)
LOCAL = OutboundPolicy.from_entries(["127.0.0.1/32"])


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Records where it is asked to connect, and connects nowhere."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.targets.append((host, port))
        return httpcore.AsyncNetworkStream()


class Rebinding:
    """Answers each lookup with the next of ``answers``; counts lookups."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups += 1
        return self.answers[min(self.lookups, len(self.answers)) - 1]


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    numeric_lookups_only(monkeypatch)


@pytest.fixture(scope="module")
def images() -> Iterator[tuple[ImageServer, str]]:
    server = ImageServer()
    with serve(server.app) as url:
        yield server, url


async def test_connects_to_the_address_it_checked_and_looks_up_once() -> None:
    resolver = Rebinding(["93.184.216.34"], ["10.0.0.1"])
    inner = RecordingBackend()
    backend = GuardedBackend(OutboundPolicy(), resolver, inner)
    await backend.connect_tcp("rebind.test", 443)
    assert inner.targets == [("93.184.216.34", 443)] and resolver.lookups == 1
    with pytest.raises(httpcore.ConnectError):  # the next connection sees the private answer
        await backend.connect_tcp("rebind.test", 443)
    assert inner.targets == [("93.184.216.34", 443)] and resolver.lookups == 2


@pytest.mark.parametrize(
    "answer", [["93.184.216.34", "10.0.0.1"], ["169.254.169.254"], ["fd00::1"], ["::ffff:a00:1"]]
)
async def test_a_private_answer_is_refused_before_any_connect(answer: list[str]) -> None:
    inner = RecordingBackend()
    backend = GuardedBackend(OutboundPolicy(), Rebinding(answer), inner)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("internal.test", 80)
    assert inner.targets == []


async def test_a_failed_lookup_reads_like_a_refused_connection() -> None:
    async def failing(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    inner = RecordingBackend()
    with pytest.raises(httpcore.ConnectError) as refused:
        await GuardedBackend(OutboundPolicy(), Rebinding(["10.0.0.1"]), inner).connect_tcp("a", 80)
    with pytest.raises(httpcore.ConnectError) as failed:
        await GuardedBackend(OutboundPolicy(), failing, inner).connect_tcp("nx.test", 80)
    assert str(refused.value) == str(failed.value) and inner.targets == []


async def test_unix_sockets_are_refused() -> None:
    with pytest.raises(httpcore.ConnectError):
        await GuardedBackend(OutboundPolicy()).connect_unix_socket("/run/docker.sock")


async def test_loopback_is_reached_only_when_allowed(images: tuple[ImageServer, str]) -> None:
    server, url = images
    before = server.count()
    async with guarded_client(OutboundPolicy(), timeout=TIMEOUT) as strict:
        with pytest.raises(httpx.ConnectError):
            await strict.get(f"{url}/img.png")
    assert server.count() == before
    async with guarded_client(LOCAL, timeout=TIMEOUT) as allowing:
        response = await allowing.get(f"{url}/img.png")
    assert response.content == PNG and server.count() == before + 1


async def test_a_name_is_connected_by_its_checked_address_over_real_http(
    images: tuple[ImageServer, str],
) -> None:
    """A name answering 127.0.0.1 (allowed) and later 127.0.0.2 (not): the second client's
    connection is refused, and a listener on 127.0.0.2 at the same port accepts nothing."""
    port = httpx.URL(images[1]).port
    assert port is not None
    with socket.socket() as trap:
        trap.bind(("127.0.0.2", port))
        trap.listen()
        trap.setblocking(False)
        resolver = Rebinding(["127.0.0.1"], ["127.0.0.2"])
        async with guarded_client(LOCAL, timeout=TIMEOUT, resolver=resolver) as first:
            response = await first.get(f"http://img.test:{port}/img.png")
            assert response.content == PNG
        async with guarded_client(LOCAL, timeout=TIMEOUT, resolver=resolver) as second:
            with pytest.raises(httpx.ConnectError):
                await second.get(f"http://img.test:{port}/img.png")
        assert resolver.lookups == 2
        with pytest.raises(BlockingIOError):
            trap.accept()


async def test_redirects_are_not_followed_and_no_proxy_is_read(
    images: tuple[ImageServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url = images
    proxy = ImageServer()
    before = server.count("/img.png")
    with serve(proxy.app) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("ALL_PROXY", proxy_url)
        async with guarded_client(LOCAL, timeout=TIMEOUT) as client:
            response = await client.get(f"{url}/redirect", params={"to": "/img.png"})
    assert response.status_code == 302 and server.count("/img.png") == before
    assert proxy.count() == 0 and server.count("/redirect") >= 1


def _self_signed_server_context(folder: Path) -> ssl.SSLContext:
    """A TLS server context with a certificate for 127.0.0.1 that no CA signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


async def test_guarded_clients_share_one_tls_context_that_verifies(tmp_path: Path) -> None:
    """Webhooks, image fetches and moderation share one TLS context (one copy of the CA
    bundle in memory), and it still refuses a certificate no trusted CA signed."""
    handshakes = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal handshakes
        handshakes += 1
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()

    context = _self_signed_server_context(tmp_path)
    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        guarded_client(LOCAL, timeout=TIMEOUT) as first,
        guarded_client(LOCAL, timeout=TIMEOUT) as second,
    ):
        for client in (first, second):
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"https://127.0.0.1:{port}/")
        shared = first._transport._pool._ssl_context  # type: ignore[attr-defined]
        assert shared is second._transport._pool._ssl_context  # type: ignore[attr-defined]
        assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname
    assert handshakes == 0  # no request reached the server's handler
