"""The README's examples work as written: its code blocks are read from README.md and run.

- the curl recipe, in bash, against a gateway on the default config whose data dir is the
  `.vidgate` beside it, as `make serve` makes it (only the host and port are changed, and the
  video id pasted where the README says to);
- the Python snippet, with the official SDK, in a process of its own, from the same place;
- "Use an upstream": the first file against the OpenAI simulator with the variable its recipe
  exports; the routing file with simulators of Gemini, Vertex AI and Kling (each entry gets an
  `api_base`, the Vertex entry a service-account file the simulator trusts), with the
  variables its recipe exports: the fallback serves what it can, and the error quoted in the
  README is the one a client gets.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support import (
    Gateway,
    free_port,
    quick,
    running_gateway,
    serve,
    serve_sim,
    video_shape,
    wait_for,
)
from vidgate.providers.kling.simulator import SimulatorConfig as KlingConfig
from vidgate.providers.kling.simulator import create_app as kling_app
from vidgate.providers.openai.simulator import SimulatorConfig as OpenAIConfig
from vidgate.providers.openai.simulator import create_app as openai_app
from vidgate.providers.vertex_ai.simulator import SimulatorConfig as VertexConfig
from vidgate.providers.vertex_ai.simulator import create_app as vertex_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

README = (Path(__file__).parent.parent / "README.md").read_text()
DOCUMENTED = "http://127.0.0.1:4000"


def blocks(language: str) -> list[str]:
    """The README's fenced code blocks in ``language``."""
    return re.findall(rf"^```{language}\n(.*?)^```$", README, flags=re.M | re.S)


def block(language: str, marker: str) -> str:
    (found,) = [b for b in blocks(language) if marker in b]
    return found


def exported(recipe: str) -> dict[str, str]:
    """The variables a shell recipe exports (``export A=1 B=2`` lines)."""
    names: dict[str, str] = {}
    for line in recipe.splitlines():
        if line.startswith("export "):
            names |= dict(re.findall(r"(?:^export|\s)([A-Z_][A-Z0-9_]*)=(\S*)", line))
    return names


# --- Generate a video: curl and the SDK, beside the data dir -----------------------------


@pytest.fixture(scope="module")
def beside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Gateway]]:
    """A folder holding `.vidgate`, the data dir of a gateway on the default config."""
    here = tmp_path_factory.mktemp("checkout")
    with running_gateway(here / ".vidgate") as gw:
        assert (here / ".vidgate" / "master_key").is_file()
        yield here, gw


def run_shell(script: str, cwd: Path, url: str) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace(DOCUMENTED, url)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "VIDGATE_MASTER_KEY"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_curl_recipe(beside: tuple[Path, Gateway]) -> None:
    here, gw = beside
    recipe = block("sh", "/content")
    create, _paste, follow = re.split(r"^(export VIDEO=.*)$", recipe, flags=re.M)
    assert set(exported(create)) == {"KEY"}
    answer = json.loads(run_shell(create, here, gw.url))
    assert answer["object"] == "video" and answer["status"] in ("queued", "in_progress")
    with gw.http() as http:
        wait_for(lambda: http.get(f"/v1/videos/{answer['id']}").json()["status"] == "completed")
    shown = run_shell(
        create.split("curl")[0] + f"export VIDEO={answer['id']}\n" + follow, here, gw.url
    )
    assert json.loads(shown)["status"] == "completed"
    assert video_shape((here / "fox.mp4").read_bytes())[:2] == (1280, 720)


def test_the_python_snippet(beside: tuple[Path, Gateway]) -> None:
    here, gw = beside
    snippet = block("python", "create_and_poll").replace(DOCUMENTED, gw.url)
    (here / "fox.mp4").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "VIDGATE_MASTER_KEY"}
    done = subprocess.run(
        [sys.executable, "-c", snippet], cwd=here, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    width, height, seconds = video_shape((here / "fox.mp4").read_bytes())
    assert (width, height) == (1280, 720) and abs(seconds - 4) <= 0.2


# --- Use an upstream ----------------------------------------------------------------------


def test_the_upstream_recipe(tmp_path: Path) -> None:
    config = yaml.safe_load(block("yaml", "UPSTREAM_KEY"))
    recipe = block("sh", "UPSTREAM_KEY")
    simulate = re.search(r"simulate openai --port (\d+) --api-key (\S+)", recipe)
    assert simulate is not None
    env = exported(recipe)
    assert env == {"UPSTREAM_KEY": simulate[2]}
    with serve_sim(openai_app(quick(OpenAIConfig(api_key=simulate[2])))) as sim:
        (entry,) = [e for e in config["model_list"] if e["provider"] == "openai"]
        assert entry["api_base"] == f"http://127.0.0.1:{simulate[1]}/v1"
        entry["api_base"] = f"{sim.url}/v1"
        with running_gateway(tmp_path / "gw", config, env=env) as gw:
            client = gw.sdk()
            video = client.videos.create_and_poll(prompt="a red fox", poll_interval_ms=50)
            assert video.status == "completed", video.error
            assert video.model == config["default_model"] == "sora-2"


SK = "sim-kling-secret"


@pytest.fixture(scope="module")
def fallback_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The README's routing file: Veo down (nothing listens where its deployments point),
    Kling up; the variables set as its recipe exports them."""
    config = yaml.safe_load(block("yaml", "fallbacks"))
    names = set(exported(block("sh", "KLING_SECRET_KEY")))
    assert names == {"GEMINI_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY"}
    env = {"GEMINI_API_KEY": "AIza-sim", "KLING_ACCESS_KEY": "ak-sim", "KLING_SECRET_KEY": SK}
    data = tmp_path_factory.mktemp("fallback")
    down = f"http://127.0.0.1:{free_port()}"
    vertex = vertex_app(VertexConfig(api_key=None))
    kling = kling_app(quick(KlingConfig(api_key=f"ak-sim:{SK}")))
    with serve(vertex) as vertex_url, serve_sim(kling) as kling_sim:
        account = httpx.get(f"{vertex_url}/__sim__/service_account", timeout=60).json()
        (data / "veo-sa.json").write_text(json.dumps(account))
        for entry in config["model_list"]:
            if entry["provider"] == "gemini":
                entry["api_base"] = f"{down}/v1beta"
            elif entry["provider"] == "vertex_ai":
                assert entry["options"]["credentials"] == "/secrets/veo-sa.json"
                entry["options"]["credentials"] = str(data / "veo-sa.json")
                entry["api_base"] = f"{down}/v1"
            else:
                entry["api_base"] = kling_sim.url
        with running_gateway(data / "gw", config, env=env) as gw:
            yield gw


def create(gw: Gateway, **body: Any) -> httpx.Response:
    with gw.http() as http:
        return http.post("/v1/videos", json={"model": "veo-3", "prompt": "a red fox"} | body)


def test_the_fallback_serves_what_veo_cannot(fallback_gateway: Gateway) -> None:
    gw = fallback_gateway
    for body, tried_veo in (({}, True), ({"seconds": "5"}, False)):
        response = create(gw, **body)
        assert response.status_code == 200, response.text
        video = gw.sdk().videos.poll(response.json()["id"], poll_interval_ms=50)
        assert video.status == "completed", video.error
        assert (video.model, video.seconds) == ("kling-v2", "5")
        with gw.http() as http:
            attempts = http.get(f"/jobs/{video.id}").json()["attempts"]
        assert {a["model"] for a in attempts} == (
            {"veo-3", "kling-v2"} if tried_veo else {"kling-v2"}
        )


def test_a_skipped_fallback_is_named_in_the_error(fallback_gateway: Gateway) -> None:
    quoted = block("text", "was skipped").strip()
    response = create(fallback_gateway, seconds="4")
    assert response.status_code == 502, response.text
    assert response.json()["error"]["message"] == quoted
    # neither can: the requested model's values, then the fallback's
    response = create(fallback_gateway, seconds="7")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == (
        "Invalid value for 'seconds': 7. Model 'veo-3' allows: 4, 6, 8. Fallback 'kling-v2' "
        "was skipped: Invalid value for 'seconds': 7. Model 'kling-v2' allows: 5, 10."
    )
