"""A config file checked in one pass, for ``vidgate config check``.

Everything ``serve`` refuses is an error here too — the YAML, the schema, unset
``os.environ/NAME`` variables, unknown providers and models, a default model, aliases and
fallbacks naming groups that do not exist — and all of it is found together: the parts of
the file the schema rejects are left out (``settings.check_document``) and the rest is still
checked against the providers, as ``routing.config.build_table`` checks it at start.

On top, what would only fail at the first request to a deployment, from what each provider
declares it authenticates with (``ProviderSpec.credentials``):

- a *required* credential missing (Kling's access and secret keys, Vertex AI's
  service-account key: vidgate signs or exchanges them, so it cannot build a request
  without them), or a credentials file that does not exist, is an **error**;
- any other missing credential (``api_key``) is a **warning**: the request goes out without
  one and the upstream decides (an OpenAI-compatible server of your own may not need one).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidgate.providers.base import Credential, Provider
from vidgate.routing.config import DeploymentTable, build_table
from vidgate.settings import (
    ConfigError,
    ConfigProblem,
    DeploymentEntry,
    FileConfig,
    Loc,
    Severity,
    check_document,
    read_config_document,
)


@dataclass(frozen=True)
class ConfigReport:
    """What ``check_config_file`` found: every problem, errors first, each in file order."""

    path: Path
    problems: tuple[ConfigProblem, ...]
    config: FileConfig | None = None
    """The file's config when it has no errors."""
    table: DeploymentTable | None = None
    """The deployments ``serve`` would route over, when the file has no errors."""

    @property
    def errors(self) -> tuple[ConfigProblem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[ConfigProblem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")


def check_config_file(
    path: Path, providers: Mapping[str, Provider], environment: Mapping[str, str]
) -> ConfigReport:
    """Check ``path`` as ``serve`` would, and its deployments' credentials; never raises
    for a bad file (every problem is in the report)."""
    document = read_config_document(path)
    if document.data is None:
        return ConfigReport(path, document.problems)
    checked = check_document(document.data)
    problems = list(checked.problems)
    table: DeploymentTable | None = None
    try:
        table = build_table(checked.usable, providers, environment)
    except ConfigError as exc:
        problems.extend(exc.problems)
    problems.extend(credential_problems(checked.usable, providers, skip=checked.stand_ins))
    ordered = _in_order(document.locate(problem) for problem in _once(problems))
    if any(problem.severity == "error" for problem in ordered):
        return ConfigReport(path, ordered)
    return ConfigReport(path, ordered, checked.config, table)


def credential_problems(
    config: FileConfig, providers: Mapping[str, Provider], skip: frozenset[int] = frozenset()
) -> list[ConfigProblem]:
    """Every ``model_list`` entry (but those in ``skip``) against its provider's
    ``credentials``: missing ones, and credential files that do not exist."""
    problems = []
    for index, entry in enumerate(config.model_list):
        provider = providers.get(entry.provider)
        if index in skip or provider is None:
            continue
        for credential in provider.spec.credentials:
            loc: Loc = ("model_list", index, *credential.field.split("."))
            value = _field(entry, credential.field)
            if value is None or value == "":
                variable = provider.spec.env.get(credential.field)
                message = _missing(entry.provider, credential, value, variable)
                severity: Severity = "error" if credential.required else "warning"
                problems.append(ConfigProblem(loc, message, severity))
            elif credential.file and isinstance(value, str):
                problem = _file_problem(value)
                if problem:
                    problems.append(ConfigProblem(loc, problem))
    return problems


def _field(entry: DeploymentEntry, name: str) -> Any:
    if name.startswith("options."):
        return entry.options.get(name.removeprefix("options."))
    return getattr(entry, name, None)


def _missing(provider: str, credential: Credential, value: Any, variable: str | None) -> str:
    state = "empty" if value == "" else "not set"
    key = credential.field.rpartition(".")[2]
    where = " under options" if credential.field.startswith("options.") else ""
    example = f"{key}: os.environ/{variable or 'NAME'}"
    if credential.required:
        return (
            f"{state}: provider {provider!r} cannot authenticate a request without it, so "
            f"every request to this deployment would fail (add `{example}`{where})"
        )
    return (
        f"{state}: requests go out without credentials and provider {provider!r} will "
        f"likely refuse them (add `{example}`{where}, unless the upstream needs no key)"
    )


def _file_problem(value: str) -> str | None:
    text = value.strip()
    if text.startswith("{"):  # the JSON itself, not a path
        return None
    path = Path(text).expanduser()
    if not path.is_file():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        return f"the credentials file {text!r} does not exist{where}"
    if not os.access(path, os.R_OK):
        return f"the credentials file {text!r} is not readable"
    return None


def _once(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """One problem per path: a later one at a path already reported (a credential that is
    missing because its environment variable is unset) is the same mistake."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for problem in problems:
        key = problem.loc or (problem.message,)
        if key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept


def _in_order(problems: Any) -> tuple[ConfigProblem, ...]:
    """Errors, then warnings, each in the order of the file (unplaced ones last)."""
    listed: list[ConfigProblem] = list(problems)
    return tuple(
        sorted(
            listed,
            key=lambda p: (p.severity != "error", p.line is None, p.line or 0, p.column or 0),
        )
    )
