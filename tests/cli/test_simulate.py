"""``vidgate simulate``: the list, its one-line errors, and a printed ``model_list`` entry
that works as pasted."""

from __future__ import annotations

import contextlib
import importlib
import io
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import httpx
import pytest
import yaml

from tests.cli.run import one_line_error, vidgate
from tests.support import free_port, running_gateway, serve_sim, wait_for
from vidgate.cli.simulate import model_entry, simulators
from vidgate.providers.registry import PROVIDERS


def test_simulate_lists_the_simulators() -> None:
    for args in (["simulate"], ["simulate", "--list"]):
        result = vidgate(*args)
        assert result.returncode == 0, result.stderr
        listed = result.stdout.splitlines()[0].removeprefix("simulators: ").split(", ")
        assert listed == simulators()
        assert {"openai", "gemini", "luma", "xai", "kling", "vertex_ai"} <= set(listed)
        assert "local" not in listed  # the local renderer needs no upstream


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_simulate_rejects_a_port_outside_the_range(port: str) -> None:
    line = one_line_error(vidgate("simulate", "gemini", f"--port={port}"), 2)
    assert line == f"error: --port {port}: give a port from 1 to 65535"


def test_simulate_unknown_provider_and_busy_port() -> None:
    line = one_line_error(vidgate("simulate", "nope"), 2)
    assert line.startswith("error: no simulator for provider 'nope'; there are: openai, ")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(vidgate("simulate", "luma", "--port", str(port)), 1)
    assert (
        line == f"error: cannot listen on 127.0.0.1:{port} (it is in use): pick another with --port"
    )


def test_simulate_serves_with_its_key_only() -> None:
    port = free_port()
    with simulator("openai", "--port", str(port), "--api-key", "sk-dev"):
        url = f"http://127.0.0.1:{port}/v1/videos"
        wait_for(lambda: _listening(url))
        assert httpx.get(url, headers={"Authorization": "Bearer sk-other"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer sk-dev"}).status_code == 200


@contextlib.contextmanager
def simulator(*args: str) -> Iterator[tuple[list[str], subprocess.Popen[str]]]:
    """``vidgate simulate ARGS`` running; its stdout lines so far (read as they come)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidgate", "simulate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        yield lines, proc
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=60)
        reader.join(timeout=60)
        assert "Traceback" not in stderr, stderr


def printed_config(lines: list[str], proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The YAML the simulator printed (from ``model_list:`` to the blank line after it)."""

    def block() -> list[str] | None:
        assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
        text = [line.rstrip("\n") for line in lines]
        if "model_list:" not in text:
            return None
        start = text.index("model_list:")
        end = next((i for i in range(start, len(text)) if not text[i].strip()), None)
        return None if end is None else text[start:end]

    found: dict[str, Any] = yaml.safe_load("\n".join(wait_for(block)))
    return found


def _listening(url: str) -> bool:
    try:
        httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return False
    return True


def _create(client: httpx.Client, model: str) -> str:
    response = client.post("/v1/videos", json={"model": model, "prompt": "a red kite"})
    assert response.status_code == 200, f"{model}: {response.text}"
    return str(response.json()["id"])


def _rendered(client: httpx.Client, video_id: str) -> None:
    """The video completes, and its content is a real MP4."""

    def done() -> dict[str, Any] | None:
        video: dict[str, Any] = client.get(f"/v1/videos/{video_id}").json()
        return video if video["status"] in ("completed", "failed") else None

    video = wait_for(done)
    assert video["status"] == "completed", (video["model"], video["error"])
    content = client.get(f"/v1/videos/{video_id}/content")
    assert content.status_code == 200
    with av.open(io.BytesIO(content.content)) as container:
        assert container.streams.video[0].codec_context.width > 0


@pytest.mark.parametrize("provider", ["gemini", "luma", "xai"])
def test_the_printed_entry_works_as_pasted(provider: str, tmp_path: Path) -> None:
    """Gemini, Luma and xAI answer 404 on a bare host:port: the entry carries their path."""
    port = free_port()
    with simulator(provider, "--port", str(port), "--api-key", "K", "--job-seconds", "0.5") as (
        lines,
        proc,
    ):
        config = printed_config(lines, proc)
        (entry,) = config["model_list"]
        assert entry["api_base"] != f"http://127.0.0.1:{port}"
        assert entry["api_base"].startswith(f"http://127.0.0.1:{port}/")
        assert entry["api_key"] == "K" and entry["provider"] == provider
        assert lines[0].startswith(f"{provider} simulator on http://127.0.0.1:{port} ")
        wait_for(lambda: _listening(f"http://127.0.0.1:{port}/__sim__/log"))
        with running_gateway(tmp_path / "gw", config) as gw, gw.http() as client:
            _rendered(client, _create(client, entry["model_name"]))


def test_every_simulators_entry_renders_a_video(tmp_path: Path) -> None:
    """Each provider's printed entry (its path, model and options) serves a video through a
    gateway: every simulator at once, in-process, one gateway in front of them all."""
    with contextlib.ExitStack() as stack:
        entries = []
        for provider in simulators():
            module = importlib.import_module(f"vidgate.providers.{provider}.simulator")
            app = module.create_app(module.SimulatorConfig(api_key="K:S", job_seconds=0.3))
            sim = stack.enter_context(serve_sim(app))
            port = urlsplit(sim.url).port
            assert port is not None
            entry, steps = model_entry(provider, port, "K:S")
            if provider == "vertex_ai":  # the step the command prints, done
                assert "__sim__/service_account > sim-sa.json" in steps[0]
                account = httpx.get(f"{sim.url}/__sim__/service_account", timeout=60)
                (tmp_path / "sim-sa.json").write_text(account.text)
                entry["options"]["credentials"] = str(tmp_path / "sim-sa.json")
            entries.append(entry)
        gw = stack.enter_context(running_gateway(tmp_path / "gw", {"model_list": entries}))
        with gw.http() as client:  # every create first, then every result
            created = [_create(client, entry["model_name"]) for entry in entries]
            for video_id in created:
                _rendered(client, video_id)


def test_each_simulator_path_is_its_provider_path() -> None:
    """``API_PATH`` is where the real API lives on its host (the simulator mirrors it)."""
    for provider in simulators():
        module = importlib.import_module(f"vidgate.providers.{provider}.simulator")
        default = PROVIDERS[provider].spec.default_api_base
        if default is not None:
            assert urlsplit(default).path.rstrip("/") == module.API_PATH, provider
