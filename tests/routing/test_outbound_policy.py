"""Client image URLs through the gateway, on every surface that takes one: refused unless
the address policy allows them, redirects re-checked, one error for every failure, each URL
fetched once. Veo (Gemini simulator) inlines images, so the gateway must fetch them; the
image servers listen on 127.0.0.1 and ::1 and record every request."""

from __future__ import annotations

import base64
import itertools
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.outbound_targets import LOOPBACK_V4, LOOPBACK_V6, numeric_lookups_only
from tests.routing.faults import Fault, Faults
from tests.routing.imageserver import PNG, ImageServer
from tests.support import Gateway, running_gateway, serve
from vidgate.providers.gemini.simulator import SimState, SimulatorConfig, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "AIza-sim-upstream-key"
PROMPTS = (f"outbound {n}" for n in itertools.count())


@dataclass(frozen=True)
class Surface:
    """One way a client sends an image URL: the route, the body, the field errors name."""

    name: str
    path: str
    param: str

    def body(self, url: str, prompt: str) -> dict[str, Any]:
        body: dict[str, Any] = {"model": "veo", "prompt": prompt}
        if self.name == "input_reference":
            body["input_reference"] = {"image_url": url}
        elif self.name == "images":
            body["images"] = [url]
        else:
            body[self.name] = url
        return body


SURFACES = (
    Surface("input_reference", "/v1/videos", "input_reference"),
    Surface("image", "/v1/videos", "image"),
    Surface("image_url", "/v2/video/generations", "image_url"),
    Surface("images", "/v1/video/generations", "images[0]"),
)


@dataclass
class Servers:
    v4: ImageServer
    v4_port: int
    v6: ImageServer
    v6_port: int
    trap: ImageServer
    trap_url: str

    def hits(self) -> int:
        return self.v4.count() + self.v6.count() + self.trap.count()


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    numeric_lookups_only(monkeypatch)


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[str, SimState]]:
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=0.3, queued_seconds=0.05, fps=8))
    with serve(app) as url:
        yield url, app.state.sim


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    v4, v6, trap = ImageServer(), ImageServer(), ImageServer()
    with (
        serve(v4.app) as v4_url,
        serve(v6.app, "::1") as v6_url,
        serve(trap.app, "127.0.0.2") as trap_url,
    ):
        v4_port, v6_port = httpx.URL(v4_url).port, httpx.URL(v6_url).port
        assert v4_port and v6_port
        yield Servers(v4, v4_port, v6, v6_port, trap, trap_url)


def config(sim_url: str, **settings: Any) -> dict[str, Any]:
    base = {"provider": "gemini", "api_base": f"{sim_url}/v1beta", "poll_interval_s": 0.1}
    return {
        "model_list": [
            {**base, "model_name": "veo", "model": "veo-3.1-generate-preview", "api_key": KEY},
            {"model_name": "local/preview", "provider": "local", "model": "preview"},
        ],
        "settings": settings,
    }


@pytest.fixture(scope="module")
def strict(
    sim: tuple[str, SimState], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("strict"), config(sim[0])) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def allowing(
    sim: tuple[str, SimState], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    settings = {"outbound_allow": ["127.0.0.1/32"]}
    with running_gateway(tmp_path_factory.mktemp("allow"), config(sim[0], **settings)) as gateway:
        yield gateway


def create(gw: Gateway, surface: Surface, url: str, prompt: str | None = None) -> httpx.Response:
    with gw.http() as http:
        return http.post(surface.path, json=surface.body(url, prompt or next(PROMPTS)))


def refusal(response: httpx.Response, surface: Surface) -> str:
    """The error's message, once the response is the expected 400 naming the field."""
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == surface.param and error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_image_url"
    return str(error["message"])


def creates(state: SimState) -> int:
    return len(state.jobs)


@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: s.name)
def test_loopback_targets_are_refused_without_a_hit(
    strict: Gateway, servers: Servers, sim: tuple[str, SimState], surface: Surface
) -> None:
    before, upstream = servers.hits(), creates(sim[1])
    targets = [f"http://{host}:{servers.v4_port}/img.png" for host in LOOPBACK_V4]
    targets += [f"http://{host}:{servers.v6_port}/img.png" for host in LOOPBACK_V6]
    targets += [f"https://{host}:{servers.v4_port}/img.png" for host in ("127.0.0.1", "localhost")]
    messages = {refusal(create(strict, surface, url), surface) for url in targets}
    assert len(messages) == 1, messages
    assert servers.hits() == before and creates(sim[1]) == upstream


@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: s.name)
def test_an_allowed_image_is_fetched_once_and_inlined(
    allowing: Gateway, servers: Servers, sim: tuple[str, SimState], surface: Surface
) -> None:
    prompt = next(PROMPTS)
    before = servers.v4.count("/img.png")
    url = f"http://127.0.0.1:{servers.v4_port}/img.png"
    response = create(allowing, surface, url, prompt)
    assert response.status_code in (200, 201), response.text
    [job] = [j for j in sim[1].jobs.values() if j.prompt == prompt]
    image = job.request["instances"][0]["image"]
    assert image == {"bytesBase64Encoded": base64.b64encode(PNG).decode(), "mimeType": "image/png"}
    assert servers.v4.count("/img.png") == before + 1


def test_allowed_spellings_of_the_allowed_address_work(allowing: Gateway, servers: Servers) -> None:
    surface = SURFACES[0]
    before = servers.v4.count("/img.png")
    for host in ("2130706433", "127.1", "[::ffff:127.0.0.1]"):
        url = f"http://{host}:{servers.v4_port}/img.png"
        assert create(allowing, surface, url).status_code == 200
    assert servers.v4.count("/img.png") == before + 3


@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: s.name)
def test_a_redirect_to_a_refused_target_is_refused(
    allowing: Gateway, servers: Servers, sim: tuple[str, SimState], surface: Surface
) -> None:
    upstream = creates(sim[1])
    trap_port = httpx.URL(servers.trap_url).port
    targets = [
        f"{servers.trap_url}/img.png",
        f"http://2130706434:{trap_port}/img.png",
        f"http://[::1]:{servers.v6_port}/img.png",
        f"http://localhost:{servers.v6_port}/img.png",
    ]
    base = f"http://127.0.0.1:{servers.v4_port}/redirect"
    before = (servers.v6.count(), servers.trap.count(), servers.v4.count("/redirect"))
    for target in targets:
        refusal(create(allowing, surface, f"{base}?to={target}"), surface)
    after = (servers.v6.count(), servers.trap.count(), servers.v4.count("/redirect"))
    assert after == (before[0], before[1], before[2] + len(targets))
    assert creates(sim[1]) == upstream


def test_failures_of_allowed_targets_read_like_refusals(
    allowing: Gateway, strict: Gateway, servers: Servers
) -> None:
    """Not an image, a 404, a closed port, too large: the same answer as a refused target,
    so the error tells nothing about which internal hosts exist."""
    surface = SURFACES[0]
    v4 = f"http://127.0.0.1:{servers.v4_port}"
    refused = refusal(create(strict, surface, f"{v4}/img.png"), surface)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{closed.getsockname()[1]}/img.png"
    for url in (f"{v4}/text", f"{v4}/missing", closed_url, f"{v4}/declared-huge"):
        assert refusal(create(allowing, surface, url), surface) == refused


def test_the_local_renderer_never_fetches_urls(allowing: Gateway, servers: Servers) -> None:
    before = servers.v4.count()
    url = f"http://127.0.0.1:{servers.v4_port}/img.png"
    with allowing.http() as http:
        body = {"model": "local/preview", "prompt": "x", "input_reference": {"image_url": url}}
        response = http.post("/v1/videos", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == "input_reference"
    assert servers.v4.count() == before


def test_an_image_url_is_fetched_once_for_all_the_attempts_of_a_request(
    servers: Servers, tmp_path: Path
) -> None:
    """The first group fails every create (5 attempts), its fallback takes the job: the
    image was fetched for the first attempt only."""
    app = create_app(SimulatorConfig(api_key=KEY, job_seconds=0.3, queued_seconds=0.05, fps=8))
    failing = Faults(app, r".*:predictLongRunning")
    failing.set(Fault(status=503, body={"error": {"code": 503, "message": "overloaded"}}))
    with serve(failing) as failing_url, serve(app) as working_url:
        cfg = config(working_url, outbound_allow=["127.0.0.1/32"])
        veo = cfg["model_list"][0]
        cfg["model_list"].append(
            {**veo, "model_name": "veo-a", "api_base": f"{failing_url}/v1beta"}
        )
        cfg["router"] = {"fallbacks": [{"veo-a": ["veo"]}], "retry_backoff_s": 0}
        with running_gateway(tmp_path / "gw", cfg) as gw, gw.http() as http:
            before = servers.v4.count("/img.png")
            url = f"http://127.0.0.1:{servers.v4_port}/img.png"
            body = {"model": "veo-a", "prompt": "fetched once", "image": url}
            response = http.post("/v1/videos", json=body)
            assert response.status_code == 200, response.text
            attempts = http.get(f"/jobs/{response.json()['id']}").json()["attempts"]
    assert failing.faulted >= 2 and len(attempts) == failing.faulted + 1
    assert servers.v4.count("/img.png") == before + 1
