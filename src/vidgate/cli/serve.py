"""``vidgate serve``: run the gateway, and the banner that says how to call it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from vidgate.cli.base import app, console, err
from vidgate.settings import ConfigError, build_settings


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default $VIDGATE_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default $VIDGATE_PORT or 4000).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (default ./.vidgate).")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="YAML config file (model_list, ...).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    log_format: Annotated[str, typer.Option(help="json (one object per line) or text.")] = "json",
    app_log_level: Annotated[
        str, typer.Option(help="vidgate log level (info logs every request and job end).")
    ] = "info",
) -> None:
    """Run the gateway."""
    from vidgate.app import create_app
    from vidgate.observe.logs import configure as configure_logging
    from vidgate.redact import REDACTOR
    from vidgate.server import run_server, server_config

    try:
        settings = build_settings(host=host, port=port, data_dir=data_dir, config_path=config)
        application = create_app(settings)
    except ConfigError as exc:
        err.print(f"[red]config error[/red]\n{exc}")
        raise typer.Exit(2) from None
    configure_logging(REDACTOR, json_lines=log_format == "json", level=app_log_level)
    _banner(
        settings.host,
        settings.port,
        settings.master_key,
        settings.data_dir,
        application.state,
        settings.master_key_generated,
    )
    served = server_config(
        application,
        host=settings.host,
        port=settings.port,
        settings=settings.config.settings,
        log_level=log_level,
        log_config=None,  # uvicorn's loggers go through vidgate's redacting handler
    )
    if not run_server(served):
        raise typer.Exit(3)


def _banner(host: str, port: int, key: str, data_dir: Path, _state: Any, generated: bool) -> None:
    """Where to reach the gateway and how to call it. A master key given in the environment
    (as in production, where stdout goes to the logs) is never printed, only named; one kept
    in the data dir is printed, as ``make serve`` promises."""
    base = f"http://{host}:{port}"
    note = " (new; saved in the data dir, mode 0600)" if generated else ""
    console.print(f"[bold]vidgate[/bold] listening on {base}  (data: {data_dir})")
    if os.environ.get("VIDGATE_MASTER_KEY"):
        key = "$VIDGATE_MASTER_KEY"
        console.print("master key: from the environment (VIDGATE_MASTER_KEY)")
    else:
        console.print(f"master key{note}: {key}")
    console.print("try it:")
    console.print(
        f"  curl -s {base}/v1/videos -H 'Authorization: Bearer {key}' "
        "-H 'Content-Type: application/json' -d '{\"prompt\": \"a red fox in the snow\"}'",
        soft_wrap=True,
        highlight=False,
    )
    console.print(
        f"  vidgate generate 'a red fox in the snow' --base-url {base} --api-key {key}",
        soft_wrap=True,
        highlight=False,
    )
