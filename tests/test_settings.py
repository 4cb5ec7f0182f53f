"""Config loading: env references, defaults, and errors that name the bad entry."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vidgate.providers.registry import PROVIDERS
from vidgate.routing.config import EMBEDDED_MODEL, build_table
from vidgate.settings import ConfigError, build_settings, check_document, load_config_file


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vidgate.yaml"
    path.write_text(text)
    return path


def test_embedded_default_registers_local_renderer(tmp_path: Path) -> None:
    settings = build_settings(data_dir=tmp_path)
    table = build_table(settings.config, PROVIDERS)
    assert table.default_model == EMBEDDED_MODEL
    assert table.group(EMBEDDED_MODEL)[0].provider == "local"
    assert settings.database_url.startswith("sqlite:///")


def test_master_key_generated_once_with_mode_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIDGATE_MASTER_KEY", raising=False)
    first = build_settings(data_dir=tmp_path)
    again = build_settings(data_dir=tmp_path)
    assert first.master_key_generated and not again.master_key_generated
    assert first.master_key == again.master_key
    assert stat.S_IMODE(os.stat(tmp_path / "master_key").st_mode) == 0o600
    monkeypatch.setenv("VIDGATE_MASTER_KEY", "sk-from-env")
    assert build_settings(data_dir=tmp_path).master_key == "sk-from-env"


def test_env_references_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_KEY", "sk-secret")
    path = write(
        tmp_path,
        """
model_list:
  - model_name: sora-2
    provider: openai
    model: sora-2
    api_base: http://127.0.0.1:9100/v1
    api_key: os.environ/UPSTREAM_KEY
default_model: sora-2
""",
    )
    table = build_table(load_config_file(path), PROVIDERS)
    deployment = table.group("sora-2")[0]
    assert deployment.api_key == "sk-secret" and "sk-secret" not in repr(deployment)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("model_list:\n  - model_name: a\n    provider: nope\n    model: m\n",
         "model_list[0].provider: unknown provider 'nope'"),
        ("model_list:\n  - model_name: a\n    provider: openai\n    model: sora-2\n",
         "model_list[0].api_base: required"),
        ("model_list:\n  - model_name: a\n    provider: local\n    model: big\n",
         "model_list[0].model: provider 'local' has no model 'big'"),
        ("model_list:\n  - model_name: a\n    provider: local\n    model: preview\n    colour: 3\n",
         "model_list[0].colour: unknown key"),
        ("model_list:\n  - model_name: a\n    provider: local\n    model: preview\n"
         "default_model: b\n", "default_model: 'b' is not a model_name"),
        ("model_list:\n  - model_name: a\n    provider: openai\n    model: sora-2\n"
         "    api_base: http://x\n    api_key: os.environ/NOT_SET_ANYWHERE\n",
         "model_list[0].api_key: environment variable NOT_SET_ANYWHERE is not set"),
        ("settings:\n  job_timeout_s: -1\n", "settings.job_timeout_s"),
        ("- just a list\n", "top level must be a mapping"),
        ("model_list: [\n", "cannot read config"),
    ],
)  # fmt: skip
def test_config_errors_name_the_path(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        build_table(load_config_file(path), PROVIDERS)
    assert needle in str(caught.value)


def test_a_storage_url_from_the_environment_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDGATE_STORAGE_URL", "/just/a/path")
    with pytest.raises(ConfigError, match="neither file:///path nor s3://bucket"):
        build_settings(data_dir=tmp_path)
    monkeypatch.setenv("VIDGATE_STORAGE_URL", "s3://bucket/prefix")
    assert build_settings(data_dir=tmp_path).storage_url == "s3://bucket/prefix"


def test_a_yaml_syntax_error_is_one_problem_with_its_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "model_list: [\n  {model_name: a}\n")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (3, 1)
    assert str(caught.value) == (
        f"{path}: line 3, column 1: cannot read config: expected ',' or ']', "
        "but got '<stream end>' (while parsing a flow sequence at line 1, column 13)"
    )


def test_every_schema_problem_once_with_a_guess_and_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VG_TEST_UNSET_MODEL", raising=False)
    path = write(
        tmp_path,
        "model_list:\n"
        "  - model_name: a\n"
        "    provder: local\n"
        "    model: preview\n"
        "  - {model_name: b, provider: local, model: os.environ/VG_TEST_UNSET_MODEL}\n"
        "router: {strategy: fastest, num_retries: 3}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    found = [(p.path, p.line) for p in caught.value.problems]
    assert found == [
        ("model_list[1].model", 5),  # the unset variable; not also "too short"
        ("model_list[0].provder", 3),  # a misspelt key; not also "provider: Field required"
        ("router.strategy", 6),
    ]
    assert "did you mean 'provider' (required)?" in caught.value.problems[1].message


def test_check_document_keeps_what_is_good_for_the_cross_checks() -> None:
    checked = check_document(
        {
            "model_list": [
                {"model_name": "a", "provder": "local", "model": "preview"},
                {"model_name": "b", "provider": "nope", "model": "m", "wieght": 1},
            ],
            "settings": {"job_timeout": 5, "poll_batch": 7},
            "router": {"fallbacks": [{"a": ["b"]}]},
        }
    )
    assert checked.config is None and len(checked.problems) == 3
    usable = checked.usable
    assert checked.stand_ins == {0}  # a required key is missing: a stand-in keeps its name
    assert [(e.model_name, e.provider) for e in usable.model_list] == [
        ("a", "local"),
        ("b", "nope"),
    ]
    assert usable.settings.poll_batch == 7 and usable.router.fallbacks == [{"a": ["b"]}]
    with pytest.raises(ConfigError) as caught:  # the rest is checked against the providers
        build_table(usable, PROVIDERS)
    assert [p.path for p in caught.value.problems] == ["model_list[1].provider"]
    assert "did you mean" not in str(caught.value)  # 'nope' is like no provider
