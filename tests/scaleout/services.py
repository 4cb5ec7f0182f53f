"""Real PostgreSQL, Redis and S3-compatible servers on loopback for the scale-out tests.

A fresh machine (CI) has neither, so the first use installs them with ``apt-get`` (Debian's
``postgresql`` and ``redis-server``) when they are missing. Each server runs from a
temporary directory on a free port and is stopped at the end; nothing uses the system
services. PostgreSQL refuses to run as root, so under root it runs as the ``postgres`` user
the package creates. A server that cannot be installed or started fails the tests: these
suites exist to show the scale-out path works, so they never skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 120.0
"""Starting a server (moto imports a lot) on a two-core machine that is busy with other work."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def ensure_installed() -> None:
    """``apt-get install postgresql redis-server`` unless both are already there."""
    if _pg_bin() is not None and shutil.which("redis-server"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            "PostgreSQL and Redis are needed: apt-get install -y postgresql redis-server"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "postgresql", "redis-server"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class Postgres:
    port: int
    bin: Path
    pid: int
    """The postmaster's process id (its backends are its children)."""

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://vidgate@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its SQLAlchemy URL."""
        command = [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
        subprocess.run([*command, "-U", "vidgate", name], check=True, capture_output=True)
        return self.url(name)

    def psql(self, database: str, sql: str) -> str:
        command = [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U"]
        command += ["vidgate", "-d", database, "-At", "-c", sql]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@contextlib.contextmanager
def postgres_server(*options: str) -> Iterator[Postgres]:
    """A fresh cluster; ``options`` are extra ``-c name=value`` server settings."""
    ensure_installed()
    bin_dir = _pg_bin()
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="vidgate-pg-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    # --no-sync: a throwaway cluster needs no fsync of its new files (initdb's slowest step
    # on a busy disk; the server runs with fsync=off too)
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "vidgate", "--auth=trust"]
    initdb += ["--no-sync"]
    subprocess.run(_as_postgres([*initdb, "-E", "UTF8"]), check=True, capture_output=True)
    port = free_port()
    settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={data}"]
    settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "max_connections=300"]
    settings += [arg for option in options for arg in ("-c", option)]
    server = subprocess.Popen(
        _as_postgres([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), *settings]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"]
        _wait(lambda: subprocess.run(ready).returncode == 0, server, "PostgreSQL")
        yield Postgres(port, bin_dir, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Redis:
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@contextlib.contextmanager
def redis_server() -> Iterator[Redis]:
    ensure_installed()
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            *("--save", ""),
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(lambda: _answers_ping(port), server, "Redis")
        yield Redis(port)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait(ready: object, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():  # type: ignore[operator]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start within {START_TIMEOUT_S} s")
        time.sleep(0.1)


@contextlib.contextmanager
def s3_server(bucket: str) -> Iterator[str]:
    """An S3-compatible server (moto in standalone server mode, a child process) with one
    bucket; its endpoint URL. Credentials: any, e.g. ``testing`` / ``testing``."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _answers_http(f"{url}/moto-api/"), server, "moto")
        request = urllib.request.Request(f"{url}/{bucket}", method="PUT")
        urllib.request.urlopen(request, timeout=60).close()
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _answers_http(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
        return True
    except OSError:
        return False
