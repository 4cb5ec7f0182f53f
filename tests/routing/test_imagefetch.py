"""Fetching client image URLs: the policy on every hop, one error for every failure, the
size and type checks while the body streams. Servers run on loopback addresses only."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest

from tests.outbound_targets import numeric_lookups_only
from tests.routing.imageserver import CHUNK, PNG, STREAM_CAP, ImageServer
from tests.support import serve, wait_for
from vidgate.errors import InvalidRequest
from vidgate.netpolicy import OutboundPolicy
from vidgate.routing.imagefetch import MAX_INLINE_BYTES, MAX_REDIRECTS, ImageFetcher

LOCAL = OutboundPolicy.from_entries(["127.0.0.1/32"])


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    numeric_lookups_only(monkeypatch)


@pytest.fixture(scope="module")
def allowed() -> Iterator[tuple[ImageServer, str]]:
    server = ImageServer()
    with serve(server.app) as url:
        yield server, url


@pytest.fixture(scope="module")
def trap() -> Iterator[tuple[ImageServer, str]]:
    """A server on 127.0.0.2, which ``LOCAL`` does not allow: it must never be hit."""
    server = ImageServer()
    with serve(server.app, host="127.0.0.2") as url:
        yield server, url


@pytest.fixture
async def fetcher() -> AsyncIterator[ImageFetcher]:
    images = ImageFetcher(LOCAL)
    yield images
    await images.aclose()


async def refused(fetcher: ImageFetcher, url: str, param: str = "input_reference") -> str:
    with pytest.raises(InvalidRequest) as caught:
        await fetcher.fetch(url, param)
    error = caught.value
    assert error.status == 400 and error.param == param and param in error.message
    return error.message


async def test_an_allowed_image_is_fetched_and_typed_by_its_bytes(
    fetcher: ImageFetcher, allowed: tuple[ImageServer, str]
) -> None:
    url = allowed[1]
    assert await fetcher.fetch(f"{url}/img.png", "image") == (PNG, "image/png")
    assert await fetcher.fetch(f"{url}/octet", "image") == (PNG, "image/png")
    assert await fetcher.fetch(f"{url}/hops/{MAX_REDIRECTS}", "image") == (PNG, "image/png")


async def test_redirects_are_rechecked_at_every_hop(
    fetcher: ImageFetcher, allowed: tuple[ImageServer, str], trap: tuple[ImageServer, str]
) -> None:
    server, url = allowed
    trap_server, trap_url = trap
    targets = [
        f"{trap_url}/img.png",
        f"http://localhost:{trap_url.rsplit(':', 1)[1]}/img.png",  # ::1 is not allowed
        f"http://2130706434:{trap_url.rsplit(':', 1)[1]}/img.png",  # 127.0.0.2
        "file:///etc/passwd",
    ]
    for status in (301, 302, 303, 307, 308):
        for target in targets:
            await refused(fetcher, f"{url}/redirect?status={status}&to={target}")
    assert trap_server.count() == 0
    assert server.count("/redirect") == 5 * len(targets)


async def test_more_than_five_redirects_are_refused(
    fetcher: ImageFetcher, allowed: tuple[ImageServer, str]
) -> None:
    server, url = allowed
    before, images = server.count(), server.count("/img.png")
    await refused(fetcher, f"{url}/hops/{MAX_REDIRECTS + 1}")
    assert server.count() - before == MAX_REDIRECTS + 1 and server.count("/img.png") == images


async def test_every_failure_reads_the_same(
    fetcher: ImageFetcher, allowed: tuple[ImageServer, str], trap: tuple[ImageServer, str]
) -> None:
    """Refused, unresolvable, closed, 404 and non-image targets: one message, so a client
    cannot tell which internal hosts answer."""
    url = allowed[1]

    async def failing(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    no_name = ImageFetcher(LOCAL, resolver=failing)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    messages = {
        await refused(fetcher, f"{trap[1]}/img.png"),
        await refused(no_name, f"{url.replace('127.0.0.1', 'nx.test')}/img.png"),
        await refused(fetcher, f"http://127.0.0.1:{closed_port}/img.png"),
        await refused(fetcher, f"{url}/missing"),
        await refused(fetcher, f"{url}/text"),
        await refused(fetcher, "http://[::1"),
        await refused(fetcher, "ftp://127.0.0.1/x.png"),
    }
    await no_name.aclose()
    assert len(messages) == 1 and trap[0].count() == 0
    assert "PNG, JPEG, WebP or GIF" in messages.pop()


async def test_oversized_bodies_are_refused_while_streaming(
    fetcher: ImageFetcher, allowed: tuple[ImageServer, str]
) -> None:
    server, url = allowed
    server.streamed = 0
    await refused(fetcher, f"{url}/declared-huge")  # Content-Length says 30 MiB: not read
    wait_for(lambda: server.streams_open == 0, timeout=60)
    assert server.streamed < 30 * CHUNK
    server.streamed = 0
    await refused(fetcher, f"{url}/endless")  # no length: cut off once past the limit
    wait_for(lambda: server.streams_open == 0, timeout=60)
    assert MAX_INLINE_BYTES < server.streamed < STREAM_CAP * CHUNK // 2


async def test_without_the_setting_loopback_is_refused(allowed: tuple[ImageServer, str]) -> None:
    server, url = allowed
    before = server.count()
    strict = ImageFetcher(OutboundPolicy())
    await refused(strict, f"{url}/img.png", "images[0]")
    await strict.aclose()
    assert server.count() == before
