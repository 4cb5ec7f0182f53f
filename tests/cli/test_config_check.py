"""``vidgate config check`` finds everything in one pass, run as a real process (piped: not
a terminal): schema errors, unknown providers and models, fallbacks to missing groups and
unset environment variables together, each once with its file, path and line; misspelt keys
with the closest real one; what would fail at the first request (credentials)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from vidgate.providers.registry import PROVIDERS


def vidgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    environment.pop("COLUMNS", None)  # the width a pipe gets, not the caller's terminal's
    return subprocess.run(
        [sys.executable, "-m", "vidgate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


EVERY_MISTAKE = """\
model_list:
  - model_name: sora
    provder: openai
    model: sora-2
    api_base: http://127.0.0.1:9100/v1
    api_key: os.environ/VG_TEST_UNSET_OPENAI_KEY
  - model_name: sora
    provider: openai
    model: sora-2
    api_base: http://127.0.0.1:9101/v1
    wieght: 2
  - model_name: veo
    provider: gemni
    model: veo-3.1-generate-preview
  - model_name: preview
    provider: local
    model: previw
  - model_name: kling
    provider: kling
    model: kling-v2-1-master
    api_key: os.environ/VG_TEST_KLING_ACCESS
  - model_name: vertex
    provider: vertex_ai
    model: veo-3.1-generate-001
    options:
      credentials: /nonexistent/service-account.json
default_modle: sora
settings:
  job_timeout: 600
router:
  fallbacks:
    - sora: [veo, sora-backup]
"""


def test_every_mistake_is_reported_once_in_one_pass(tmp_path: Path) -> None:
    config = tmp_path / "vidgate.yaml"
    config.write_text(EVERY_MISTAKE)
    assert "VG_TEST_UNSET_OPENAI_KEY" not in os.environ
    result = vidgate("config", "check", str(config), env={"VG_TEST_KLING_ACCESS": "ak-test"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    expected = [
        "model_list[0].provder: unknown key; did you mean 'provider' (required)? (line 3)",
        "model_list[0].api_key: environment variable VG_TEST_UNSET_OPENAI_KEY is not set (line 6)",
        "model_list[1].wieght: unknown key; did you mean 'weight'? (line 11)",
        "model_list[2].provider: unknown provider 'gemni'; did you mean 'gemini'?",
        "model_list[3].model: provider 'local' has no model 'previw'; did you mean 'preview'?",
        "model_list[4].options.secret_key: not set: provider 'kling' cannot authenticate",
        "model_list[5].options.credentials: the credentials file "
        "'/nonexistent/service-account.json' does not exist (line 26)",
        "default_modle: unknown key; did you mean 'default_model'? (line 27)",
        "settings.job_timeout: unknown key; did you mean 'job_timeout_s'? (line 29)",
        "router.fallbacks[0].sora[1]: 'sora-backup' is not a model_name in model_list (line 32)",
        "model_list[1].api_key: warning: not set: requests go out without credentials",
    ]
    lines = result.stderr.splitlines()
    assert len(lines) == len(expected) + 1, result.stderr  # one line per problem, one count
    for line, needle in zip(lines, expected, strict=False):
        assert line.startswith(f"{config}: ") and needle in line, (needle, line)
    assert lines[-1] == f"10 error(s) and 1 warning(s) in {config}"
    assert result.stdout == ""


def test_a_yaml_syntax_error_is_one_error_with_its_line_and_column(tmp_path: Path) -> None:
    config = tmp_path / "vidgate.yaml"
    config.write_text("model_list:\n  - model_name: a\n    provider: local\n     model: x\n")
    result = vidgate("config", "check", str(config))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{config}: line 4, column 11: cannot read config: mapping values are not allowed here",
        f"1 error(s) in {config}",
    ]
    result = vidgate("config", "check", str(tmp_path / "missing.yaml"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "missing.yaml: cannot read config: No such file or directory" in result.stderr


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("model_list:\n  - {model_name: a, provder: local, model: preview}\n",
         "model_list[0].provder: unknown key; did you mean 'provider' (required)?"),
        ("model_list:\n  - {model_name: a, provider: local, model: preview, wieght: 2}\n",
         "model_list[0].wieght: unknown key; did you mean 'weight'?"),
        ("default_modle: a\n", "default_modle: unknown key; did you mean 'default_model'?"),
        ("settings: {job_timeout: 60}\n",
         "settings.job_timeout: unknown key; did you mean 'job_timeout_s'?"),
        ("router: {stratgy: cost}\n", "router.stratgy: unknown key; did you mean 'strategy'?"),
        ("model_list:\n  - {model_name: a, provider: local, model: preview, colour: red}\n",
         "model_list[0].colour: unknown key (known here: model_name, provider, model,"),
    ],
)  # fmt: skip
def test_misspelt_keys_are_one_error_with_a_guess(tmp_path: Path, text: str, line: str) -> None:
    config = tmp_path / "vidgate.yaml"
    config.write_text(text)
    result = vidgate("config", "check", str(config))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{config}: {line}" + result.stderr.splitlines()[0].partition(line)[2],
        f"1 error(s) in {config}",
    ]


def test_credentials_that_would_fail_the_first_request(tmp_path: Path) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps({"type": "service_account"}))
    config = tmp_path / "vidgate.yaml"
    config.write_text(
        "model_list:\n"
        "  - {model_name: own, provider: openai, model: sora-2, api_base: http://127.0.0.1:9}\n"
        f"  - {{model_name: v, provider: vertex_ai, model: veo-3.1-generate-001,"
        f" options: {{credentials: {key_file}}}}}\n"
        "  - {model_name: w, provider: vertex_ai, model: veo-3.1-generate-001,"
        " options: {credentials: {type: service_account}}}\n"
    )
    result = vidgate("config", "check", str(config))
    assert result.returncode == 0, result.stderr  # a warning: the upstream may need no key
    assert result.stderr.splitlines() == [
        f"{config}: model_list[0].api_key: warning: not set: requests go out without "
        "credentials and provider 'openai' will likely refuse them (add `api_key: "
        "os.environ/NAME`, unless the upstream needs no key) (line 2)",
        f"0 error(s) and 1 warning(s) in {config}",
    ]
    assert "OK: 3 deployment(s) in 3 model group(s)" in result.stdout
    strict = vidgate("config", "check", "--strict", str(config))
    assert strict.returncode == 1 and strict.stderr == result.stderr

    config.write_text(
        "model_list:\n"
        "  - {model_name: k, provider: kling, model: kling-v2-1-master, api_key: ak}\n"
        "  - {model_name: j, provider: kling, model: kling-v2-1-master}\n"
        "  - {model_name: v, provider: vertex_ai, model: veo-3.1-generate-001}\n"
        "  - {model_name: g, provider: gemini, model: veo-3.1-generate-preview,"
        " api_key: os.environ/VG_TEST_UNSET_GEMINI}\n"
    )
    result = vidgate("config", "check", str(config))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert [line.split(": ")[1] for line in lines[:-1]] == [
        "model_list[0].options.secret_key",
        "model_list[1].api_key",
        "model_list[1].options.secret_key",
        "model_list[2].options.credentials",
        "model_list[3].api_key",  # the unset variable, not a second "missing api_key"
    ]
    assert "add `secret_key: os.environ/KLING_SECRET_KEY` under options" in lines[0]
    assert "add `credentials: os.environ/GOOGLE_APPLICATION_CREDENTIALS`" in lines[3]
    assert "environment variable VG_TEST_UNSET_GEMINI is not set" in lines[4]
    assert lines[-1] == f"5 error(s) in {config}"


def test_the_table_is_not_cut_when_piped(tmp_path: Path) -> None:
    config = tmp_path / "vidgate.yaml"
    long_name = "sora-2-production-primary-in-the-eu-west-region"
    config.write_text(
        "model_list:\n"
        f"  - {{model_name: {long_name}, provider: openai, model: sora-2, api_key: sk-x,"
        f" api_base: http://127.0.0.1:9, id: {long_name}-deployment-one, rpm: 600}}\n"
        "  - {model_name: local-preview-for-the-integration-tests, provider: local,"
        " model: preview, max_concurrent_jobs: 100}\n"
    )
    result = vidgate("config", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for text in (
        long_name,
        f"{long_name}-deployment-one",
        "local-preview-for-the-integration-tests",
    ):
        assert f" {text} " in result.stdout
    assert "…" not in result.stdout
    row = next(line for line in result.stdout.splitlines() if "deployment-one" in line)
    assert "600" in row and "openai" in row and "sora-2" in row


def test_serve_still_refuses_a_bad_file_and_names_every_schema_error(tmp_path: Path) -> None:
    config = tmp_path / "vidgate.yaml"
    config.write_text(
        "model_list:\n  - {model_name: a, provder: local, model: preview, wieght: 2}\n"
        "  - {model_name: b, provider: gemni, model: veo-3}\n"
        "settings: {job_timeout: 60}\n"
    )
    data = str(tmp_path / "data")  # serve binds its port before it reads the config
    result = vidgate("serve", "--data-dir", data, "--port", free_port(), "--config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "config error" in result.stderr
    for needle in (
        "model_list[0].provder: unknown key; did you mean 'provider' (required)?",
        "model_list[0].wieght: unknown key; did you mean 'weight'?",
        "settings.job_timeout: unknown key; did you mean 'job_timeout_s'?",
        "model_list[1].provider: unknown provider 'gemni'; did you mean 'gemini'?",  # same pass
    ):
        assert needle in result.stderr
    assert "Field required" not in result.stderr  # the misspelt key is the one error


def test_every_credential_a_provider_reads_from_the_environment_is_declared() -> None:
    """``config check`` knows a provider's credentials from its spec alone: each field its
    ``env`` fills (but ``api_base``) is one of its ``credentials``."""
    for name, provider in PROVIDERS.items():
        declared = {credential.field for credential in provider.spec.credentials}
        wanted = set(provider.spec.env) - {"api_base"}
        assert wanted <= declared, name
        assert all(f == "api_key" or f.startswith("options.") for f in declared), name


# Kept from tests/test_cli.py (before it was split into tests/cli/).


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_serve_reports_config_errors_with_the_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("model_list:\n  - model_name: a\n    provider: nope\n    model: m\n")
    data = str(tmp_path / "data")
    result = vidgate("serve", "--data-dir", data, "--port", free_port(), "--config", str(config))
    assert result.returncode == 2
    assert "model_list[0].provider: unknown provider 'nope' (known:" in result.stderr


def test_config_check_reports_every_error_with_its_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "model_list:\n"
        "  - {model_name: a, provider: nope, model: m}\n"
        "  - {model_name: b, provider: local, model: no-such-model}\n"
        "  - {model_name: c, provider: local, model: preview}\n"
        "router:\n"
        "  fallbacks: [{c: [zzz, c]}]\n"
    )
    result = vidgate("config", "check", str(config))
    assert result.returncode == 1
    for path in (
        "model_list[0].provider: unknown provider 'nope'",
        "model_list[1].model: provider 'local' has no model 'no-such-model'",
        "router.fallbacks[0].c[0]: 'zzz' is not a model_name",
        "router.fallbacks[0].c[1]: a group cannot fall back to itself",
    ):
        assert path in result.stderr
    assert "4 error(s)" in result.stderr
    config.write_text(
        "model_list:\n  - {model_name: c, provider: local, model: preview, rpm: 0}\n"
        "  - {model_name: d, provider: local, model: preview, api_key: os.environ/VG_UNSET_X}\n"
        "router: {strategy: fastest, cooldown: {min_requests: 0}}\n"
    )
    assert "VG_UNSET_X" not in os.environ
    result = vidgate("config", "check", str(config))
    assert result.returncode == 1
    for path in (
        "model_list[1].api_key: environment variable VG_UNSET_X is not set",
        "model_list[0].rpm",
        "router.strategy",
        "router.cooldown.min_requests",
    ):
        assert path in result.stderr


def test_config_check_summarises_a_good_config(tmp_path: Path) -> None:
    config = tmp_path / "good.yaml"
    config.write_text(
        "model_list:\n"
        "  - {model_name: fast, provider: local, model: preview, weight: 3, rpm: 60}\n"
        "  - {model_name: fast, provider: local, model: preview, id: spare, weight: 0}\n"
        "  - {model_name: slow, provider: local, model: preview, id: slow-1}\n"
        "router: {strategy: least-busy, fallbacks: [{fast: [slow]}]}\n"
    )
    result = vidgate("config", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert "OK: 3 deployment(s) in 2 model group(s)" in result.stdout
    assert "strategy least-busy" in result.stdout and "fast -> slow" in result.stdout
