"""``vidgate config check``: check a config file in one pass, as ``serve`` would and more."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vidgate.cli.base import config_app, console, err


@config_app.command("check")
def configcheck(
    path: Annotated[Path, typer.Argument(help="The YAML config file to check.")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Warnings fail the check too (exit status 1).")
    ] = False,
) -> None:
    """Check a config file without starting anything: every error and warning at once, each
    with its path; exit 1 on errors, else print the deployment table and exit 0."""
    from vidgate.providers.registry import PROVIDERS
    from vidgate.routing.check import check_config_file
    from vidgate.settings import environment_snapshot

    report = check_config_file(path, PROVIDERS, environment_snapshot())
    for problem in report.problems:
        err.print(problem.render(path), markup=False, highlight=False, soft_wrap=True)
    errors, warnings = len(report.errors), len(report.warnings)
    counts = f"{errors} error(s)" + (f" and {warnings} warning(s)" if warnings else "")
    if report.config is None or report.table is None:
        err.print(f"{counts} in {path}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    table, router = report.table, report.config.router
    out = Table("model_name", "deployment", "provider", "model", "weight", "rpm", "max jobs")
    for name, group in sorted(table.groups.items()):
        for dep in group:
            limits = (str(dep.rpm or "-"), str(dep.max_concurrent_jobs or "-"))
            out.add_row(name, dep.id, dep.provider, dep.model, f"{dep.weight:g}", *limits)
    console.print(out)  # never cut when piped: base.py widens a console that is no terminal
    fallbacks = ", ".join(
        f"{k} -> {' -> '.join(v)}" for f in router.fallbacks for k, v in f.items()
    )
    console.print(
        f"OK: {len(table.by_id)} deployment(s) in {len(table.groups)} model group(s); "
        f"default model {table.default_model}; strategy {router.strategy}, "
        f"num_retries {router.num_retries}; fallbacks: {fallbacks or 'none'}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if warnings:
        err.print(f"{counts} in {path}", markup=False, highlight=False, soft_wrap=True)
        if strict:
            raise typer.Exit(1)
