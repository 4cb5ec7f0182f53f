"""Test plumbing: real servers on loopback (uvicorn in a thread) and a gateway factory."""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import av
import httpx
import httpx2
import openai
import pytest
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


def child_serving(app: str) -> str:
    """Python source for a child process that serves ``app`` (an expression over
    ``settings``, a fresh data dir's) with vidgate's uvicorn config on a free loopback port,
    in a thread, and leaves ``server``, ``url``, ``auth`` (the master key's header) and
    ``settings`` defined: for tests of what a serving process loads (``python -c``)."""
    return (
        "import pathlib, tempfile, threading, time, httpx, uvicorn\n"
        "from vidgate.app import create_app\n"
        "from vidgate.server import server_config\n"
        "from vidgate.settings import build_settings\n"
        "settings = build_settings(data_dir=pathlib.Path(tempfile.mkdtemp()))\n"
        f"config = server_config({app}, host='127.0.0.1', port=0, lifespan='on')\n"
        "server = uvicorn.Server(config)\n"
        "threading.Thread(target=server.run, daemon=True).start()\n"
        "deadline = time.monotonic() + 240\n"
        "while not server.started:\n"
        "    assert time.monotonic() < deadline, 'did not start'\n"
        "    time.sleep(0.01)\n"
        "url = f'http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}'\n"
        "auth = {'Authorization': f'Bearer {settings.master_key}'}\n"
    )


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


TEST_SETTINGS = {"poll_hint_floor_s": 0}
"""Under every test config unless it sets them: the simulators hint 50-200 ms polls, which
the default floor (1 s) would stretch into seconds of waiting per test."""


def write_config(data_dir: Path, config: dict[str, Any]) -> Path:
    path = data_dir / "vidgate.yaml"
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = {**TEST_SETTINGS, **(config.get("settings") or {})}
    path.write_text(yaml.safe_dump({**config, "settings": settings}))
    return path


@contextmanager
def running_gateway(
    data_dir: Path,
    config: dict[str, Any] | None = None,
    *,
    run_poller: bool = True,
    env: dict[str, str] | None = None,
) -> Iterator[Gateway]:
    """A gateway on loopback with its own data dir (and config, if given); ``env``: variables
    set while it runs (for ``os.environ/NAME`` values in the config)."""
    config_path = write_config(data_dir, config) if config is not None else None
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        settings = build_settings(data_dir=data_dir, config_path=config_path, run_poller=run_poller)
        app = create_app(settings)
        with serve(app, settings=settings.config.settings) as url:
            yield Gateway(url, settings.master_key, data_dir, app)


def deployments(
    common: dict[str, Any], models: dict[str, str | dict[str, Any]]
) -> list[dict[str, Any]]:
    """A ``model_list``: one entry per public model name, each ``common`` plus its upstream
    model (a string) or its own fields (a dict, which may override ``common``)."""
    return [
        {**common, "model_name": name, **({"model": spec} if isinstance(spec, str) else spec)}
        for name, spec in models.items()
    ]


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


def png_bytes(
    width: int = 640, height: int = 360, colour: tuple[int, int, int] = (20, 90, 200)
) -> bytes:
    """A solid PNG (an image input every provider accepts)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def png_uri(
    width: int = 640, height: int = 360, colour: tuple[int, int, int] = (20, 90, 200)
) -> str:
    """:func:`png_bytes` as a data URI."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(width, height, colour)).decode()


def gif_uri(width: int = 64, height: int = 64) -> str:
    """A real image, as a data URI, in a format most providers refuse."""
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, format="GIF")
    return "data:image/gif;base64," + base64.b64encode(out.getvalue()).decode()


# --- a provider's simulator, and what reached it ----------------------------------------------

T = TypeVar("T")


@dataclass
class Sim:
    """A provider's simulator on loopback: its URL, its state (``app.state.sim``) and its
    request log (``GET /__sim__/log``: method, path, query, status_code, t of every call)."""

    url: str
    state: Any

    def log(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/__sim__/log", timeout=120)
        response.raise_for_status()
        return list(response.json())

    def mark(self) -> int:
        """Where the log ends now (for :meth:`since`)."""
        return len(self.log())

    def since(self, mark: int) -> list[dict[str, Any]]:
        return self.log()[mark:]

    def posts_since(self, mark: int) -> list[int]:
        """Status codes of the POSTs (creates, mostly) the simulator answered since ``mark``."""
        return [e["status_code"] for e in self.since(mark) if e["method"] == "POST"]

    def find(self, store: str, test: Callable[[Any], Any]) -> Any:
        """The one item of ``state.<store>`` (jobs or tasks by id) that passes ``test``."""
        return only(getattr(self.state, store).values(), test)

    def writes_since(self, mark: int) -> list[dict[str, Any]]:
        """Every call but the GETs (polls of earlier jobs keep running in the background)."""
        return [e for e in self.since(mark) if e["method"] != "GET"]


SIM_TIMING: dict[str, Any] = {"job_seconds": 0.3, "queued_seconds": 0.05, "fps": 8}
"""How simulators run in tests: short jobs, and MP4s at 8 fps (a third of the encoding of
24 fps; frame sizes and durations are the same)."""

C = TypeVar("C")


def quick(config: C, **knobs: Any) -> C:
    """A simulator config (a dataclass) with :data:`SIM_TIMING`, then ``knobs``, applied."""
    return cast(C, replace(cast(Any, config), **(SIM_TIMING | knobs)))


@contextmanager
def serve_sim(app: Any) -> Iterator[Sim]:
    """Serve a simulator app (see :func:`serve`); yield it as a :class:`Sim`."""
    with serve(app) as url:
        yield Sim(url, app.state.sim)


def only(items: Iterable[T], test: Callable[[T], Any]) -> T:
    """The one item that passes ``test`` (an assertion error if none or several do)."""
    found = [item for item in items if test(item)]
    assert len(found) == 1, f"{len(found)} items match"
    return found[0]


# --- a gateway's clients --------------------------------------------------------------------


def post_video(http: httpx.Client, **body: Any) -> httpx.Response:
    """``POST /v1/videos`` with a JSON body."""
    return http.post("/v1/videos", json=body)


def finish(client: openai.OpenAI, video_id: str) -> Any:
    """Poll a video until it is completed or failed (the SDK's poll, every 50 ms)."""
    return client.videos.poll(video_id, poll_interval_ms=50)


def completed(
    client: openai.OpenAI, video_id: str, size: str, seconds: float, tolerance: float = 0.2
) -> Any:
    """Poll a video to its end: it must be completed, ``size`` (``"WxH"``) and ``seconds``
    long, and so must the MP4 it serves (within ``tolerance`` seconds). Returns the video."""
    video = finish(client, video_id)
    assert video.status == "completed", video.error
    assert (video.size, float(video.seconds), video.progress) == (size, seconds, 100)
    width, height, duration = video_shape(client.videos.download_content(video.id).content)
    assert f"{width}x{height}" == size and abs(duration - seconds) <= tolerance, duration
    return video


def post_form(http: httpx.Client, path: str = "/v1/videos", **fields: Any) -> httpx.Response:
    """A multipart ``POST`` (an upload): a tuple is a file (name, bytes, type), a dict is
    sent as JSON, anything else as text."""
    form: list[tuple[str, Any]] = []
    for name, value in fields.items():
        if isinstance(value, tuple):
            form.append((name, value))
        else:
            text = json.dumps(value) if isinstance(value, dict) else str(value)
            form.append((name, (None, text)))
    return http.post(path, files=form)


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The error object of a 400 (an assertion error for any other status)."""
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


@dataclass
class Recorder:
    """Everything clients got from a gateway (an httpx response hook), to look for what must
    never reach a client: upstream ids, hosts and keys."""

    seen: list[str] = field(default_factory=list)

    def record(self, response: Any) -> None:
        """An httpx (or the SDK's httpx2) response hook."""
        response.read()
        text = response.text if "json" in response.headers.get("content-type", "") else ""
        self.seen.append(text + repr(dict(response.headers)) + str(response.url))

    @contextmanager
    def http(self, gw: Gateway) -> Iterator[httpx.Client]:
        """Raw httpx to ``gw`` (master key), every response recorded."""
        with gw.http() as client:
            client.event_hooks = {"response": [self.record]}
            yield client

    @contextmanager
    def sdk(self, gw: Gateway) -> Iterator[openai.OpenAI]:
        """The official openai SDK on ``gw`` (master key, no retries), every response recorded."""
        with httpx2.Client(event_hooks={"response": [self.record]}, timeout=120) as transport:
            client = gw.sdk().with_options(http_client=transport)
            assert client.max_retries == 0
            yield client

    def leaks(self, secrets: Iterable[str | re.Pattern[str]]) -> list[str]:
        """Each secret (a string, or a pattern) found in anything recorded."""
        found = []
        for secret in secrets:
            for seen in self.seen:
                if isinstance(secret, str):
                    found += [secret] if secret and secret in seen else []
                else:
                    found += secret.findall(seen)
        return found


Secrets = Callable[[], Iterable[str | re.Pattern[str]]]
"""What must never reach a client, read when a test ends (it sees the ids the test made)."""


def no_ids(state: Any) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class GatewaySetup:
    """A provider's gateway test module, as ``SETUP``: its simulator and a gateway in front
    of it, one deployment per public model name (``tests/providers/conftest.py`` starts both
    once per module)."""

    provider: str
    simulator: Callable[[Any], Any]
    """The simulator's ``create_app``."""
    sim_config: Any
    """Its ``SimulatorConfig`` (timing aside: :data:`SIM_TIMING`, then :attr:`timing`)."""
    models: dict[str, str | dict[str, Any]]
    """Public name -> upstream model, or the deployment's own fields; the first is the default."""
    path: str = ""
    """Where the API is on the simulator: ``api_base`` is its URL plus this."""
    key: str | None = None
    """The deployments' ``api_key``, given as ``os.environ/<PROVIDER>_SIM_KEY``."""
    common: dict[str, Any] = field(default_factory=dict)
    """More fields for every deployment."""
    env: dict[str, str] = field(default_factory=dict)
    """More variables set while the gateway runs."""
    gateway_config: dict[str, Any] = field(default_factory=dict)
    """More gateway config (``settings``, ``router``...)."""
    timing: dict[str, Any] = field(default_factory=dict)
    """Simulator knobs other than :data:`SIM_TIMING`'s (``job_seconds``...)."""
    upstream_ids: Callable[[Any], Iterable[str | re.Pattern[str]]] = no_ids
    """From the simulator's state, what besides the key and its host no client may see."""

    @contextmanager
    def gateway(self, sim_url: str, data_dir: Path, **models: Any) -> Iterator[Gateway]:
        """The gateway (``models``: more deployments, as in :attr:`models`)."""
        common = {"provider": self.provider, "api_base": f"{sim_url}{self.path}"}
        common |= {"poll_interval_s": 0.1, **self.common}
        env = dict(self.env)
        if self.key is not None:
            name = f"{self.provider.upper()}_SIM_KEY"
            common["api_key"], env[name] = f"os.environ/{name}", self.key
        model_list = deployments(common, self.models | models)
        config = {"model_list": model_list, "default_model": next(iter(self.models))}
        with running_gateway(data_dir, config | self.gateway_config, env=env) as gw:
            yield gw

    def app(self) -> Any:
        """The simulator's app."""
        return self.simulator(quick(self.sim_config, **self.timing))

    def secrets(self, sim: Sim) -> Secrets:
        key = [self.key] if self.key else []
        host = sim.url.removeprefix("http://")
        return lambda: [*key, host, *self.upstream_ids(sim.state)]
