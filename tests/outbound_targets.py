"""The targets a client may try to make the gateway reach, as URL hosts.

``LOOPBACK_V4`` and ``LOOPBACK_V6`` connect to this machine (127.0.0.1, ::1), so the gateway
tests may try them over real HTTP with a recording server listening there. ``OTHER_PRIVATE``
(other loopback addresses aside) are tried only against the policy functions, never through
a socket: a test must never send a packet to a non-loopback address.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

LOOPBACK_V4 = (
    "127.0.0.1",
    "localhost",
    "LOCALHOST.",
    "localhost.",
    "img.localhost",
    "2130706433",
    "0x7f000001",
    "017700000001",
    "127.1",
    "0x7f.1",
    "127.0.1",
    "0.0.0.0",
    "0",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:7f00:1]",
)
"""Hosts whose connection would reach 127.0.0.1 (or, for ``0.0.0.0``, this host)."""

LOOPBACK_V6 = ("[::1]", "[0:0:0:0:0:0:0:1]", "[::]")
"""Hosts whose connection would reach ::1."""

OTHER_PRIVATE = (
    "127.0.0.2",
    "127.255.255.254",
    "169.254.169.254",
    "169.254.0.1",
    "2852039166",  # 169.254.169.254 as one number
    "0xa9fea9fe",
    "0251.0376.0251.0376",
    "[::ffff:169.254.169.254]",
    "[::ffff:a9fe:a9fe]",
    "[fe80::1]",
    "[fe80::1%25eth0]",
    "10.0.0.1",
    "10.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "198.19.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "198.51.100.1",
    "203.0.113.1",
    "192.88.99.1",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fec0::1]",
    "[ff02::1]",
    "[::127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[64:ff9b::a9fe:a9fe]",
    "[64:ff9b:1::a00:1]",
    "[2002:7f00:1::]",
    "[2002:a00:1::1]",
    "[2001::1]",
    "[2001:db8::1]",
    "[100::1]",
    "[3fff::1]",
    "[5f00::1]",
)
"""Private, link-local, shared, multicast, reserved and documentation targets elsewhere."""

PUBLIC = (
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "[2606:4700:4700::1111]",
    "[::ffff:8.8.8.8]",
    "[64:ff9b::808:808]",
)
"""Public addresses the policy must let through (checked as values only: never connected)."""


def numeric_lookups_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every ``getaddrinfo`` of this process numeric-only for the test, so no name can
    reach a DNS server even if a regression let one through to the system resolver."""
    real = socket.getaddrinfo

    def numeric(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", numeric)
