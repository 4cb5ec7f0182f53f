"""``/health/ready`` pings Redis when ``redis_url`` is set: 503 naming it while Redis is
down, ready again once it is back (the same port)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.scaleout.services import redis_server
from tests.support import running_gateway, wait_for

pytestmark = pytest.mark.scaleout
NO_DISK = ("--save", "", "--appendonly", "no")


def status(url: str) -> httpx.Response:
    return httpx.get(f"{url}/health/ready", timeout=120)


def test_readiness_names_redis_while_it_is_down(tmp_path: Path) -> None:
    with redis_server() as redis:
        config = {"redis_url": redis.url}
        with running_gateway(tmp_path / "gw", config) as gw:
            ready = status(gw.url)
            assert ready.status_code == 200, ready.text
            assert list(ready.json()["checks"]) == ["database", "redis", "storage"]
            with socket.create_connection(("127.0.0.1", redis.port), timeout=10) as sock:
                sock.sendall(b"SHUTDOWN NOSAVE\r\n")
                sock.recv(16)  # the connection closes as the server stops
            down = wait_for(lambda: (r := status(gw.url)).status_code == 503 and r)
            body = down.json()
            assert body["checks"]["redis"]["ok"] is False
            assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]
            assert body["error"]["message"].startswith("Not ready: redis: ")
            assert str(redis.port) not in down.text  # no address
            again = subprocess.Popen(
                ["redis-server", "--port", str(redis.port), "--bind", "127.0.0.1", *NO_DISK],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_for(lambda: status(gw.url).status_code == 200)
            finally:
                again.terminate()
                again.wait(timeout=30)
