"""The outbound address policy: which hosts a client-supplied URL may make the gateway reach.

Clients hand the gateway URLs it then fetches (input images) or calls (webhooks). Without a
policy, such a URL reaches whatever the gateway's network reaches: its own admin port on
loopback, a cloud metadata service on 169.254.169.254, databases on private addresses. So
every such target passes ``checked_addresses`` first: the host is resolved **once**, every
address it resolves to must be public (or named by ``settings.outbound_allow``), and the
caller connects to one of exactly those addresses (``vidgate.outbound`` does, for httpx) —
a second lookup could answer differently (DNS rebinding).

"Public" is ``ipaddress``'s ``is_global`` plus the ranges it misses (Python 3.11 counts
multicast, ``192.0.0.0/24``, 6to4, NAT64, IPv4-compatible IPv6, site-local and the newer
documentation ranges as global), checked explicitly in ``_REFUSED``. IPv4-mapped IPv6
(``::ffff:127.0.0.1``) is judged, and connected to, as the IPv4 address it carries;
NAT64 (``64:ff9b::/96``) as its embedded IPv4 address. Hosts written as numbers the way
``inet_aton`` reads them (``2130706433``, ``0x7f000001``, ``017700000001``, ``127.1``,
``0``) are addresses, not names, and ``localhost`` / ``*.localhost`` are loopback without a
lookup (RFC 6761). Upstream ``api_base`` calls are the operator's own configuration and do
not pass this policy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port)`` → the addresses the host has (strings); raises ``OSError`` on failure."""

_REFUSED: tuple[Network, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        # IPv4: "this network", private, shared (CGNAT), loopback, link-local, IETF protocol
        # assignments, documentation, 6to4 relay, benchmarking, multicast, reserved, broadcast
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        # IPv6: unspecified, loopback, IPv4-compatible and -mapped (::/8), local-use NAT64,
        # discard, IETF protocol assignments (Teredo, ORCHID...), documentation, 6to4,
        # SRv6 SIDs, unique local, link-local, site-local, multicast
        "::/8",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOOPBACK = ("127.0.0.1", "::1")


class OutboundRefused(Exception):
    """A target the policy does not let the gateway reach (the reason is for logs only)."""


@dataclass(frozen=True)
class OutboundPolicy:
    """Public addresses, plus the networks and host names the operator allows."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> OutboundPolicy:
        """The policy for ``settings.outbound_allow`` (entries already passed ``entry_problem``)."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in entries:
            network = _network(entry)
            if network is None:
                hosts.add(_host_key(entry))
            else:
                networks.append(network)
        return cls(tuple(networks), frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        """The host is named in the allow list: any address it resolves to may be reached."""
        return _host_key(host) in self.hosts

    def allows_address(self, address: Address) -> bool:
        """The address is public, or inside a network the allow list names."""
        address = normalized(address)
        return any(address in network for network in self.networks) or is_public(address)


def is_public(address: Address) -> bool:
    """Reachable on the internet: globally routed unicast, none of the special ranges."""
    address = normalized(address)
    if isinstance(address, ipaddress.IPv6Address) and address in _NAT64:
        return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return address.is_global and not any(address in network for network in _REFUSED)


def normalized(address: Address) -> Address:
    """An IPv4-mapped IPv6 address as the IPv4 address it stands for; others unchanged."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def literal_address(host: str) -> Address | None:
    """The address ``host`` spells (brackets, IPv6, and every form ``inet_aton`` reads), or
    ``None`` for a name."""
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_number(part) for part in parts]
    if any(n is None for n in numbers):
        return None
    *leading, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for index, number in enumerate(leading):
        value |= number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _number(part: str) -> int | None:
    """One ``inet_aton`` component: decimal, ``0x`` hex or ``0`` octal."""
    try:
        if part[:2].lower() == "0x":
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isascii() and part.isdigit() else None
    except ValueError:
        return None


def host_problem(host: str, policy: OutboundPolicy) -> str | None:
    """Why ``host`` is refused without resolving it (a literal address or ``localhost``), or
    ``None`` when only its resolved addresses can tell (names) or it is allowed."""
    if not host:
        return "the URL has no host"
    if policy.allows_host(host):
        return None
    for address in _static_addresses(host) or ():
        if not policy.allows_address(ipaddress.ip_address(address)):
            return "the host is a loopback, private, link-local or reserved address"
    return None


async def checked_addresses(
    host: str, port: int, policy: OutboundPolicy, resolver: Resolver | None = None
) -> list[str]:
    """The addresses to connect to for ``host``: resolved once, every one of them allowed.

    Raises ``OutboundRefused`` when any address is refused (a name with one private address
    among public ones is refused as a whole), and ``OSError`` when the lookup fails.
    """
    if not host:
        raise OutboundRefused("no host")
    addresses = _static_addresses(host)
    if addresses is None:
        addresses = list(await (resolver or system_resolver)(host, port))
    if not addresses:
        raise OSError(f"no address for {host}")
    if policy.allows_host(host):
        return [str(normalized(a)) for a in map(_parsed, addresses) if a is not None]
    checked = []
    for text in addresses:
        address = _parsed(text)
        if address is None or not policy.allows_address(address):
            raise OutboundRefused(f"{address} is not a public address")
        checked.append(str(normalized(address)))
    return checked


def _parsed(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _static_addresses(host: str) -> list[str] | None:
    """The addresses of a literal or ``localhost`` host, known without a lookup."""
    address = literal_address(host)
    if address is not None:
        return [str(address)]
    name = _host_key(host)
    if name == "localhost" or name.endswith(".localhost"):
        return list(_LOOPBACK)
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo``), without blocking the loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def entry_problem(entry: str) -> str | None:
    """Why ``entry`` cannot be an ``outbound_allow`` entry (a CIDR or a host name), or ``None``."""
    if not isinstance(entry, str) or not entry.strip():
        return "an entry must be a CIDR (10.0.0.0/8) or a host name"
    if _network(entry) is not None:
        return None
    if literal_address(entry) is not None:
        return f"'{entry}' is an address in a short form; write it as a CIDR (127.0.0.1/32)"
    if "/" in entry or ":" in entry or any(c.isspace() for c in entry):
        return f"'{entry}' is neither a CIDR (10.0.0.0/8) nor a host name"
    labels = _host_key(entry).split(".")
    if not all(label and len(label) <= 63 for label in labels) or not all(
        c.isalnum() or c in "-_" for label in labels for c in label
    ):
        return f"'{entry}' is neither a CIDR (10.0.0.0/8) nor a host name"
    return None


def _network(entry: str) -> Network | None:
    """``entry`` as a network (a bare address is a /32 or /128), or ``None``."""
    try:
        return ipaddress.ip_network(entry.strip().strip("[]"), strict=False)
    except ValueError:
        return None


def _host_key(host: str) -> str:
    """How host names compare: case-insensitive, without brackets or a trailing dot."""
    return host.strip().strip("[]").rstrip(".").lower()
