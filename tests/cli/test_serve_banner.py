"""``vidgate serve`` as a user runs it: the banner comes once the port is bound and the app
has started, its commands work when pasted into a shell, the master key is printed at its
first start only, a busy port is one line and creates nothing, ``--log-file`` takes the
logs, and what the environment registered is named."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cli.run import vidgate
from tests.support import free_port, video_shape, wait_for
from vidgate.providers.registry import PROVIDERS

VIDGATE = Path(sys.executable).parent / "vidgate"
"""The installed console script (``make serve`` runs ``.venv/bin/vidgate``)."""
CREDENTIALS = {var for provider in PROVIDERS.values() for var in provider.spec.env.values()}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without vidgate's variables and provider credentials, and without the
    venv on ``PATH`` (so the banner cannot count on ``vidgate`` being found there)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VIDGATE_") and k not in CREDENTIALS and k != "VIRTUAL_ENV"
    }
    bin_dir = str(VIDGATE.parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != bin_dir)
    return {**env, **extra}


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    out: Path
    err: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()

    def try_it(self) -> list[str]:
        """The commands the banner prints under ``try it:``."""
        lines = self.stdout().splitlines()
        start = lines.index("try it:") + 1
        return [line.strip() for line in lines[start:] if line.startswith("  ")]


def start(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, tty: bool = False
) -> Served:
    """``vidgate serve`` in a process of its own; returns once its banner is complete.
    ``tty``: its stdout is a terminal (a pseudo-terminal copied to the ``.out`` file), as
    when a user runs it; otherwise a file, as under systemd."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    out, err = data_dir.parent / f"{data_dir.name}.out", data_dir.parent / f"{data_dir.name}.err"
    command = [str(VIDGATE), "serve", "--port", str(port), "--data-dir", str(data_dir), *args]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        terminal, screen = pty.openpty() if tty else (None, None)
        process = subprocess.Popen(
            command,
            stdout=stdout if screen is None else screen,
            stderr=stderr,
            env=env or clean_env(),
            cwd=data_dir.parent,
        )
    if terminal is not None and screen is not None:
        os.close(screen)
        threading.Thread(target=_copy, args=(terminal, out), daemon=True).start()
    served = Served(process, port, out, err)

    def banner_done() -> bool:
        assert process.poll() is None, served.stderr()[-3000:]
        return "console: " in served.stdout()  # the banner's last line

    try:
        wait_for(banner_done)
    except BaseException:
        stop(served)
        raise
    return served


def _copy(terminal: int, out: Path) -> None:
    """What the process writes to its terminal, into ``out``, until it closes."""
    with out.open("ab") as copy:
        while True:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # the process ended
                break
            if not chunk:
                break
            copy.write(chunk.replace(b"\r\n", b"\n"))
            copy.flush()
    os.close(terminal)


def stop(served: Served) -> None:
    served.process.terminate()
    served.process.wait(timeout=120)


@pytest.fixture
def stopping() -> Iterator[list[Served]]:
    """Servers to stop when the test ends, however it ends."""
    started: list[Served] = []
    yield started
    for served in started:
        if served.process.poll() is None:
            stop(served)


def bash(script: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run pasted lines in a fresh shell (no VIDGATE_* variables, no venv on PATH)."""
    return subprocess.run(
        ["bash", "-c", f"set -e\n{script}"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(),
        cwd=cwd,
    )


def created_video(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    video: dict[str, object] = json.loads(result.stdout)
    assert str(video.get("id", "")).startswith("video_"), video
    return video


def test_the_master_key_is_printed_at_its_first_start_only_and_every_command_works(
    tmp_path: Path, stopping: list[Served]
) -> None:
    data = tmp_path / "data"
    first = start(data, tty=True)
    stopping.append(first)
    key = (data / "master_key").read_text().strip()
    assert f"listening on {first.url}" in first.stdout()
    assert f"console: {first.url}/ui (sign in with the master key)" in first.stdout()
    console = httpx.get(f"{first.url}/ui", headers={"accept": "text/html"}, timeout=120)
    assert console.status_code == 303  # to the jobs page, which sends a new browser to sign in
    assert first.stdout().count(key) == 2  # the banner's key line and its export line
    export, curl, generate = first.try_it()
    assert '"Authorization: Bearer $VIDGATE_MASTER_KEY"' in curl  # double quotes: it expands
    created_video(bash(f"{export}\n{curl}", tmp_path))
    assert "alembic" not in first.stderr()  # the first start migrates, quietly
    stop(first)

    second = start(data)
    stopping.append(second)
    assert key not in second.stdout() and key not in second.stderr()
    assert f"master key: in {data / 'master_key'}" in second.stdout()
    export, curl, generate = second.try_it()
    created_video(bash(f"{export}\n{curl}", tmp_path))
    # vidgate is not on the shell's PATH: the banner names the one that runs
    assert generate.startswith(f"{VIDGATE} generate ")
    result = bash(f"{export}\n{generate}", tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    width, height, duration = video_shape((tmp_path / "fox.mp4").read_bytes())
    assert (width, height) == (1280, 720) and abs(duration - 4) <= 0.2, duration


def test_a_new_master_key_is_not_printed_when_the_output_is_a_log(
    tmp_path: Path, stopping: list[Served]
) -> None:
    """Under systemd or docker stdout is a log: the new key stays in its file."""
    data = tmp_path / "data"
    served = start(data)
    stopping.append(served)
    key = (data / "master_key").read_text().strip()
    assert key not in served.stdout() and key not in served.stderr()
    assert f"master key: new, kept in {data / 'master_key'} (mode 0600); not printed" in (
        served.stdout()
    )
    export, curl, _ = served.try_it()
    created_video(bash(f"{export}\n{curl}", tmp_path))  # the export reads the file


def test_a_second_serve_on_a_busy_port_says_so_and_creates_nothing(
    tmp_path: Path, stopping: list[Served]
) -> None:
    running = start(tmp_path / "running")
    stopping.append(running)
    other = tmp_path / "other"
    command = [str(VIDGATE), "serve", "--port", str(running.port), "--data-dir", str(other)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=clean_env())
    assert result.returncode != 0
    assert result.stdout == ""  # no banner, no key
    assert result.stderr.startswith(f"port {running.port} is in use: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not other.exists()  # no data dir, no master key
    assert httpx.get(f"{running.url}/health", timeout=120).status_code == 200


def test_log_file_takes_the_logs(tmp_path: Path, stopping: list[Served]) -> None:
    log = tmp_path / "logs" / "vidgate.log"
    env = clean_env(VIDGATE_MASTER_KEY="sk-test-log-file")
    served = start(tmp_path / "data", "--log-file", str(log), env=env)
    stopping.append(served)
    assert "master key: from the environment (VIDGATE_MASTER_KEY)" in served.stdout()
    assert "sk-test-log-file" not in served.stdout()
    headers = {"Authorization": "Bearer sk-test-log-file"}
    response = httpx.get(f"{served.url}/v1/models", headers=headers, timeout=120)
    assert response.status_code == 200

    def logged() -> list[dict[str, object]]:
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return [line for line in lines if line.get("route") == "/v1/models"]

    (line,) = wait_for(logged)
    assert line["status_code"] == 200
    log.rename(log.with_suffix(".log.1"))  # as logrotate moves it: the next lines go anew
    response = httpx.get(f"{served.url}/v1/models", headers=headers, timeout=120)
    assert response.status_code == 200
    (line,) = wait_for(logged)
    assert line["status_code"] == 200
    stop(served)
    assert served.stderr() == ""  # everything went to the file
    assert "sk-test-log-file" not in log.read_text()


def test_sigterm_leaves_no_line_unwritten(tmp_path: Path, stopping: list[Served]) -> None:
    """uvicorn re-raises the SIGTERM it caught once shut down (no atexit, no
    ``logging.shutdown``): the lines still queued for the batched writer, its last ones
    included, are written before that."""
    log = tmp_path / "vidgate.log"
    env = clean_env(VIDGATE_MASTER_KEY="sk-test-sigterm")
    served = start(tmp_path / "data", "--log-file", str(log), "--log-level", "info", env=env)
    stopping.append(served)
    stop(served)  # SIGTERM
    assert served.process.returncode == -signal.SIGTERM
    messages = [json.loads(line)["msg"] for line in log.read_text().splitlines()]
    assert "Application shutdown complete." in messages, messages
    assert messages[-1].startswith("Finished server process"), messages


def test_the_banner_names_what_the_environment_registered(
    tmp_path: Path, stopping: list[Served]
) -> None:
    env = clean_env(GEMINI_API_KEY="gemini-test-key", VIDGATE_MASTER_KEY="sk-test-env")
    headers = {"Authorization": "Bearer sk-test-env"}
    bare = start(tmp_path / "bare", env=env)  # no config file: the environment registers
    stopping.append(bare)
    assert "from the environment: gemini (3 models)" in bare.stdout()
    models = httpx.get(f"{bare.url}/v1/models", headers=headers, timeout=120).json()["data"]
    assert "gemini/veo-3.1-generate-preview" in {m["id"] for m in models}
    stop(bare)

    config = tmp_path / "vidgate.yaml"
    config.write_text("model_list:\n  - {model_name: mine, provider: local, model: preview}\n")
    configured = start(tmp_path / "configured", "--config", str(config), env=env)
    stopping.append(configured)
    assert "from the environment: " not in configured.stdout()
    assert "not registered: credentials for gemini are in the environment" in configured.stdout()
    models = httpx.get(f"{configured.url}/v1/models", headers=headers, timeout=120).json()["data"]
    assert {m["id"] for m in models if m["alias_for"] is None} == {"mine"}


def test_serve_says_in_one_line_why_it_cannot_start(tmp_path: Path) -> None:
    """A data dir it cannot make, and a config whose text looks like Rich markup: one
    readable error, no traceback."""
    unusable = vidgate("serve", "--port", str(free_port()), "--data-dir", "/proc/vidgate-nope")
    assert unusable.returncode == 2 and "Traceback" not in unusable.stderr
    assert unusable.stderr.strip().splitlines() == [
        "error: cannot use the data dir: /proc/vidgate-nope: no such file or directory "
        "(pass --data-dir)"
    ]
    config = tmp_path / "vidgate.yaml"
    config.write_text('model_list: []\n"[/x]": 1\n')
    marked = vidgate(
        "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d"),
        "--config", str(config),
    )  # fmt: skip
    assert marked.returncode == 2 and "Traceback" not in marked.stderr
    assert "[/x]: unknown key" in marked.stderr
