"""Credentials in the environment add deployments only when no config file is given, or when
the file opts in (``settings.register_from_env: true``); configured deployments keep their
``<provider>/<model>`` names and the built-in aliases either way. Checked on the table and
over HTTP (``GET /v1/models``) on a gateway with a config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import running_gateway
from vidgate.providers.registry import PROVIDERS
from vidgate.routing.config import build_table
from vidgate.settings import FileConfig, load_config_file

KLING_ENV = {"KLING_ACCESS_KEY": "ak-test", "KLING_SECRET_KEY": "sk-kling-test"}
SIM_KLING = {
    "model_name": "kling-sim",
    "provider": "kling",
    "model": "kling-v2-1",
    "api_base": "http://127.0.0.1:9/kling",  # a simulator; never called here
    "api_key": "ak-sim",
    "options": {"secret_key": "sk-sim"},
}
LOCAL = {"model_name": "local/preview", "provider": "local", "model": "preview"}


def models(config: dict[str, Any], tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    """``GET /v1/models`` of a gateway started with ``config`` as its file: name → alias_for."""
    with running_gateway(tmp_path / "gw", config, env=env) as gw, gw.http() as http:
        response = http.get("/v1/models")
        assert response.status_code == 200, response.text
        return {m["id"]: m["alias_for"] for m in response.json()["data"]}


def groups(names: dict[str, Any]) -> set[str]:
    return {name for name, target in names.items() if target is None}


def test_a_config_file_is_all_there_is(tmp_path: Path) -> None:
    names = models({"model_list": [SIM_KLING, LOCAL]}, tmp_path, KLING_ENV)
    assert groups(names) == {"kling-sim", "local/preview"}
    assert names["kling-video"] == names["kling/kling-v2-1"] == "kling-sim"


def test_register_from_env_adds_the_environments_providers(tmp_path: Path) -> None:
    config = {"model_list": [SIM_KLING, LOCAL], "settings": {"register_from_env": True}}
    names = models(config, tmp_path, KLING_ENV)
    kling = {n for n in groups(names) if n.startswith("kling/")}
    assert len(kling) == 8  # the 9 auto models but the one the config already has
    assert "kling/kling-v2-1" not in kling
    # configured deployments win: the provider/model name and the built-in alias
    assert names["kling/kling-v2-1"] == "kling-sim" and names["kling-video"] == "kling-sim"


def test_without_a_config_file_the_environment_registers() -> None:
    table = build_table(FileConfig(), PROVIDERS, KLING_ENV)
    assert table.from_env == {"kling": 9} and table.env_unused == ()
    assert table.default_model == "local/preview"
    assert table.resolve("kling-video").startswith("kling/")


def test_the_table_names_what_a_config_file_left_out(tmp_path: Path) -> None:
    path = tmp_path / "vidgate.yaml"
    path.write_text("model_list:\n  - {model_name: mine, provider: local, model: preview}\n")
    config = load_config_file(path)
    assert config.settings.register_from_env is False
    table = build_table(config, PROVIDERS, {**KLING_ENV, "GEMINI_API_KEY": "g"})
    assert set(table.groups) == {"mine"} and table.from_env == {}
    assert set(table.env_unused) == {"gemini", "kling"}


def test_a_provider_the_config_uses_is_not_called_left_out(tmp_path: Path) -> None:
    """README's second example exports GEMINI_API_KEY and the Kling keys for its own
    entries: nothing was left out."""
    path = tmp_path / "vidgate.yaml"
    path.write_text(
        "model_list:\n"
        "  - {model_name: veo, provider: gemini, model: veo-3.0-generate-001,"
        " api_key: g}\n"
    )
    table = build_table(load_config_file(path), PROVIDERS, {**KLING_ENV, "GEMINI_API_KEY": "g"})
    assert table.env_unused == ("kling",)


@pytest.mark.parametrize("configured_model", ["kling-v2-1", "kling-v3"])
def test_a_configured_deployment_wins_the_builtin_alias_over_an_earlier_candidate(
    configured_model: str,
) -> None:
    """``kling-video`` lists kling-v2-6 first: registered from the environment, it still
    loses to the configured deployment of a later candidate."""
    entry = {**SIM_KLING, "model": configured_model}
    config = FileConfig.model_validate(
        {"model_list": [entry], "settings": {"register_from_env": True}}
    )
    table = build_table(config, PROVIDERS, KLING_ENV)
    assert "kling/kling-v2-6" in table.groups  # the environment registered the first candidate
    assert table.resolve("kling-video") == "kling-sim"
    assert table.resolve(f"kling/{configured_model}") == "kling-sim"
