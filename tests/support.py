"""Test plumbing: real servers on loopback (uvicorn in a thread) and a gateway factory."""

from __future__ import annotations

import base64
import io
import ipaddress
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import openai
import uvicorn
import yaml
from PIL import Image

from vidgate.app import create_app
from vidgate.server import server_config
from vidgate.settings import GatewaySettings, build_settings


@contextmanager
def serve(
    app: Any, host: str = "127.0.0.1", *, settings: GatewaySettings | None = None
) -> Iterator[str]:
    """Run an ASGI app with uvicorn, configured as ``vidgate serve`` runs (``vidgate.server``;
    ``settings``: its timeouts), on a free loopback port in a thread; yield its base URL.

    ``host`` may be another loopback address (``127.0.0.2``, ``::1``), never a routable one."""
    assert ipaddress.ip_address(host).is_loopback, host
    config = server_config(app, host=host, port=0, settings=settings, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # start-up on a busy machine
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{f'[{host}]' if ':' in host else host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=120)


@dataclass
class Gateway:
    """A running gateway: its URL, master key, data dir and the ASGI app object."""

    url: str
    master_key: str
    data_dir: Path
    app: Any

    def http(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.master_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def sdk(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=key or self.master_key, max_retries=0
        )

    def new_key(self, **body: Any) -> str:
        with self.http() as client:
            response = client.post("/key/generate", json=body)
            assert response.status_code == 200, response.text
            return str(response.json()["key"])


def free_port() -> int:
    """A loopback port nobody listens on right now (for servers started as processes)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_vidgate(
    data_dir: Path,
    config: Path | None,
    master_key: str,
    *,
    port: int | None = None,
    log: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """``vidgate serve`` as users run it, in a process of its own (its stderr, the logs, to
    ``log``, by default ``data_dir/serve.log``); returns once it answers ``/health``."""
    port = port or free_port()
    log = log or data_dir / "serve.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "vidgate", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir)] + (["--config", str(config)] if config else [])
    env = {**os.environ, "VIDGATE_MASTER_KEY": master_key}
    with log.open("ab") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            return httpx.get(f"{url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy)
    except BaseException:
        process.terminate()
        process.wait(timeout=60)
        raise
    return process, url


def write_config(data_dir: Path, config: dict[str, Any]) -> Path:
    path = data_dir / "vidgate.yaml"
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def running_gateway(
    data_dir: Path, config: dict[str, Any] | None = None, *, run_poller: bool = True
) -> Iterator[Gateway]:
    """A gateway on loopback with its own data dir (and config, if given)."""
    config_path = write_config(data_dir, config) if config is not None else None
    settings = build_settings(data_dir=data_dir, config_path=config_path, run_poller=run_poller)
    app = create_app(settings)
    with serve(app, settings=settings.config.settings) as url:
        yield Gateway(url, settings.master_key, data_dir, app)


def wait_for(predicate: Any, timeout: float = 120.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy (for state reached over time).

    The default deadline is generous on purpose: only state that never comes reaches it,
    and on a two-core machine running other suites beside this one, work that takes 2 s
    alone can take 20. Pass a shorter one only where the test measures how soon something
    happens."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)


def video_shape(data: bytes) -> tuple[int, int, float]:
    """Width, height and container duration (s) of an MP4 given as bytes."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        duration = (container.duration or 0) / 1e6
        return stream.codec_context.width, stream.codec_context.height, duration


def png_uri(
    width: int = 640, height: int = 360, colour: tuple[int, int, int] = (20, 90, 200)
) -> str:
    """A solid PNG as a data URI (an image input every provider accepts)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()
