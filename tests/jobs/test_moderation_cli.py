"""``vidgate simulate moderation``: the moderation simulator as a user runs it, and the
``settings:`` it prints working as pasted, in front of a gateway."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.cli.run import vidgate
from tests.cli.test_simulate import simulator
from tests.conftest import LOCAL_FAST
from tests.support import free_port, running_gateway, wait_for


def _printed_settings(lines: list[str], proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The YAML printed from ``settings:`` to the blank line after it."""

    def block() -> list[str] | None:
        assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
        text = [line.rstrip("\n") for line in lines]
        if "settings:" not in text:
            return None
        start = text.index("settings:")
        end = next((i for i in range(start, len(text)) if not text[i].strip()), None)
        return None if end is None else text[start:end]

    found: dict[str, Any] = yaml.safe_load("\n".join(wait_for(block)))
    return found


def test_the_list_names_the_moderation_simulator() -> None:
    result = vidgate("simulate", "--list")
    assert result.returncode == 0, result.stderr
    assert "vidgate simulate moderation" in result.stdout


def test_the_printed_settings_work_as_pasted(tmp_path: Path) -> None:
    port = free_port()
    with simulator("moderation", "--port", str(port), "--api-key", "sk-mod-cli") as (lines, proc):
        printed = _printed_settings(lines, proc)
        assert lines[0].startswith(f"moderation simulator on http://127.0.0.1:{port} ")
        deployment = printed["settings"]["moderation"]["deployment"]
        assert deployment["api_key"] == "sk-mod-cli"
        config = {**LOCAL_FAST, "settings": {**LOCAL_FAST["settings"], **printed["settings"]}}
        with running_gateway(tmp_path / "gw", config) as gw, gw.http() as http:
            blocked = http.post("/v1/videos", json={"prompt": "a massacre at noon"})
            assert blocked.status_code == 400, blocked.text
            assert blocked.json()["error"]["code"] == "content_policy_violation"
            fine = http.post("/v1/videos", json={"prompt": "a kite at noon"})
            assert fine.status_code == 200, fine.text
