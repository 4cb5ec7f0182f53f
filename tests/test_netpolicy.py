"""The outbound address policy as pure functions: no socket is opened and no name is looked
up for real (names go through an injected resolver)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from tests.outbound_targets import LOOPBACK_V4, LOOPBACK_V6, OTHER_PRIVATE, PUBLIC
from vidgate.netpolicy import (
    OutboundPolicy,
    OutboundRefused,
    checked_addresses,
    entry_problem,
    host_problem,
    is_public,
    literal_address,
)

REFUSED = LOOPBACK_V4 + LOOPBACK_V6 + OTHER_PRIVATE
STRICT = OutboundPolicy()
NAMES = {
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["93.184.216.34", "10.0.0.1"],
    "ula.test": ["fd00::1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "public.test": ["93.184.216.34", "2606:4700:4700::1111"],
    "images.internal": ["10.1.2.3"],
}


async def table_resolver(host: str, port: int) -> Sequence[str]:
    return NAMES[host.lower()]


async def no_lookup(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"{host} was looked up")


def test_the_table_covers_every_kind_of_target() -> None:
    assert len(REFUSED) >= 46 and len(set(REFUSED)) == len(REFUSED)


@pytest.mark.parametrize("host", REFUSED)
async def test_refused_without_a_lookup(host: str) -> None:
    assert host_problem(host, STRICT) is not None
    with pytest.raises(OutboundRefused):
        await checked_addresses(host, 80, STRICT, no_lookup)


@pytest.mark.parametrize("host", PUBLIC)
async def test_public_addresses_pass(host: str) -> None:
    assert host_problem(host, STRICT) is None
    [address] = await checked_addresses(host, 443, STRICT, no_lookup)
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("10.1", "10.0.0.1"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
        ("8.8.8.8.", "8.8.8.8"),
    ],
)
def test_numbers_are_read_as_inet_aton_reads_them(host: str, address: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "1.2.3.4.5", "08.1", "1.256.1.1", "a.1", ""])
def test_names_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize("host", ["metadata.test", "mixed.test", "ula.test", "mapped.test"])
async def test_a_name_with_any_private_address_is_refused(host: str) -> None:
    with pytest.raises(OutboundRefused):
        await checked_addresses(host, 80, STRICT, table_resolver)


async def test_a_public_name_gives_every_checked_address() -> None:
    addresses = await checked_addresses("public.test", 80, STRICT, table_resolver)
    assert addresses == NAMES["public.test"]


async def test_a_failed_lookup_is_an_os_error() -> None:
    async def failing(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(OSError):
        await checked_addresses("nx.test", 80, STRICT, failing)


async def test_the_answer_of_one_lookup_is_what_is_returned() -> None:
    """A resolver that answers public first and private later cannot switch a checked host:
    each check is one lookup, and its answer is the address handed on to connect."""
    answers = [["93.184.216.34"], ["127.0.0.1"]]
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return answers[len(calls) - 1]

    assert await checked_addresses("rebind.test", 80, STRICT, rebinding) == ["93.184.216.34"]
    with pytest.raises(OutboundRefused):
        await checked_addresses("rebind.test", 80, STRICT, rebinding)
    assert calls == ["rebind.test", "rebind.test"]


async def test_allowed_networks_and_hosts() -> None:
    policy = OutboundPolicy.from_entries(["127.0.0.1/32", "10.0.0.0/8", "images.internal."])
    for host in ("127.0.0.1", "2130706433", "[::ffff:127.0.0.1]", "10.9.8.7", "10.1"):
        assert host_problem(host, policy) is None, host
        assert await checked_addresses(host, 80, policy, no_lookup)
    for host in ("127.0.0.2", "[::1]", "localhost", "192.168.0.1", "169.254.169.254"):
        assert host_problem(host, policy) is not None, host
    assert await checked_addresses("IMAGES.internal", 80, policy, table_resolver) == ["10.1.2.3"]
    with pytest.raises(OutboundRefused):
        await checked_addresses("metadata.test", 80, policy, table_resolver)


async def test_mapped_addresses_are_connected_to_as_ipv4() -> None:
    policy = OutboundPolicy.from_entries(["127.0.0.1/32"])
    assert await checked_addresses("::ffff:7f00:1", 80, policy, no_lookup) == ["127.0.0.1"]


@pytest.mark.parametrize(
    "entry", ["10.0.0.0/8", "127.0.0.1/32", "::1/128", "fd00::/8", "192.168.1.7", "img.corp"]
)
def test_allow_entries(entry: str) -> None:
    assert entry_problem(entry) is None


@pytest.mark.parametrize(
    "entry", ["", " ", "10.0.0.0/33", "127.1", "2130706433", "http://x", "a b", "x..y", "h:80"]
)
def test_bad_allow_entries_are_named(entry: str) -> None:
    problem = entry_problem(entry)
    assert problem is not None and (not entry.strip() or entry in problem)
