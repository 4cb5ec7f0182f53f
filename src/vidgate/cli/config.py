"""``vidgate config check``: validate a config file as ``serve`` would."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vidgate.cli.base import config_app, console, err
from vidgate.settings import ConfigError


@config_app.command("check")
def configcheck(
    path: Annotated[Path, typer.Argument(help="The YAML config file to check.")],
) -> None:
    """Validate a config file as ``serve`` would; list every error with its path."""
    from vidgate.providers.registry import PROVIDERS
    from vidgate.routing.config import build_table
    from vidgate.settings import environment_snapshot, load_config_file

    try:
        config = load_config_file(path)
        table = build_table(config, PROVIDERS, environment_snapshot())
    except ConfigError as exc:
        lines = str(exc).splitlines()
        for line in lines:
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        err.print(f"{len(lines)} error(s) in {path}", markup=False)
        raise typer.Exit(1) from None
    out = Table("model_name", "deployment", "provider", "model", "weight", "rpm", "max jobs")
    for name, group in sorted(table.groups.items()):
        for dep in group:
            limits = (str(dep.rpm or "-"), str(dep.max_concurrent_jobs or "-"))
            out.add_row(name, dep.id, dep.provider, dep.model, f"{dep.weight:g}", *limits)
    console.print(out)
    router = config.router
    fallbacks = ", ".join(
        f"{k} -> {' -> '.join(v)}" for f in router.fallbacks for k, v in f.items()
    )
    console.print(
        f"OK: {len(table.by_id)} deployment(s) in {len(table.groups)} model group(s); "
        f"default model {table.default_model}; strategy {router.strategy}, "
        f"num_retries {router.num_retries}; fallbacks: {fallbacks or 'none'}",
        markup=False,
        soft_wrap=True,
    )
