"""``vidgate serve``: run the gateway, and the banner that says how to call it.

The port is bound first: a busy port is one line on stderr and exit 3, before a master key
is created or anything is announced. The banner is printed once the gateway has started and
accepts connections, and every command it prints works when pasted into a POSIX shell.
"""

from __future__ import annotations

import errno
import logging
import os
import shlex
import shutil
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from vidgate.cli.base import app, console, err
from vidgate.settings import ConfigError, Settings, build_settings, cli_env

START_FAILED = 3
"""Exit status when the server could not start (port in use, start-up failed)."""


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
    log_file: Annotated[
        Path | None,
        typer.Option(
            help="Write the logs to this file (appended; reopened when rotated) instead of stderr."
        ),
    ] = None,
) -> None:
    """Run the gateway."""
    from vidgate.server import bind

    address = host or cli_env("VIDGATE_HOST") or "127.0.0.1"
    port_text = str(port) if port is not None else cli_env("VIDGATE_PORT") or "4000"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        err.print(f"error: port {port_text!r} is not a number from 0 to 65535", highlight=False)
        raise typer.Exit(2)
    wanted = int(port_text)
    try:
        sock = bind(address, wanted)
    except OSError as exc:
        err.print(_bind_error(address, wanted, exc), soft_wrap=True, highlight=False)
        raise typer.Exit(START_FAILED) from None
    with sock:
        _serve(sock, address, data_dir, config, log_level, log_format, app_log_level, log_file)


def _bind_error(host: str, port: int, exc: OSError) -> str:
    reason = (exc.strerror or str(exc)).lower()
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} is in use: {reason} (is vidgate already running? "
            "stop it, or pick another port with --port)"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {host}:{port}: {reason} (ports below 1024 need root)"
    return f"cannot listen on {host}:{port}: {reason} (check --host)"


def _serve(
    sock: socket.socket,
    host: str,
    data_dir: Path | None,
    config: Path | None,
    log_level: str,
    log_format: str,
    app_log_level: str,
    log_file: Path | None,
) -> None:
    from vidgate.app import create_app
    from vidgate.observe.logs import configure as configure_logging
    from vidgate.redact import REDACTOR
    from vidgate.server import run_server, server_config

    port = int(sock.getsockname()[1])
    try:
        settings = build_settings(host=host, port=port, data_dir=data_dir, config_path=config)
        application = create_app(settings, migrate_apart=True)  # no Alembic in memory
    except ConfigError as exc:
        err.print("config error", style="red", highlight=False)
        err.print(_every_error(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except OSError as exc:  # the data dir cannot be made or its master key file written
        where = f" {exc.filename}" if exc.filename else ""
        reason = (exc.strerror or str(exc)).lower()
        err.print(
            f"error: cannot use the data dir:{where}: {reason} (pass --data-dir)",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2) from None
    configure_logging(REDACTOR, json_lines=log_format == "json", level=app_log_level)
    if log_file is not None:
        _log_to_file(log_file)
    served = server_config(
        application,
        host=settings.host,
        port=settings.port,
        settings=settings.config.settings,
        log_level=log_level,
        log_config=None,  # uvicorn's loggers go through vidgate's redacting handler
    )

    def banner() -> None:  # after start-up: the app's state holds the deployment table
        table = application.state.live.table
        _banner(settings, dict(table.from_env), table.env_unused)

    try:
        started = run_server(served, sock=sock, on_started=banner)
    except SystemExit:  # uvicorn's exit when the app's start-up failed
        started = False
    if not started:
        where = f"; the log is in {log_file}" if log_file is not None else ""
        err.print(f"error: vidgate did not start{where}", highlight=False)
        raise typer.Exit(START_FAILED)


def _log_to_file(path: Path) -> None:
    """Send the log lines (vidgate's, uvicorn's, httpx's) to ``path`` instead of stderr,
    formatted and redacted as they were; the handler reopens the file when logrotate moves
    it."""
    from vidgate.observe.logs import LineHandler

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = LineHandler(path=path)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        err.print(f"error: --log-file {path}: {reason}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    root = logging.getLogger()
    for old in list(root.handlers):
        handler.setFormatter(old.formatter)
        for one in old.filters:
            handler.addFilter(one)
        root.removeHandler(old)
    root.addHandler(handler)


def _every_error(exc: ConfigError) -> str:
    """The error, or, for a config file, every error in it at once (as ``config check`` finds
    them: a bad schema does not hide an unknown provider or a missing credential)."""
    if exc.file is None:
        return str(exc)
    from vidgate.providers.registry import PROVIDERS
    from vidgate.routing.check import check_config_file
    from vidgate.settings import environment_snapshot

    report = check_config_file(Path(exc.file), PROVIDERS, environment_snapshot())
    if not report.errors:
        return str(exc)
    return "\n".join(problem.render(exc.file) for problem in report.errors)


def _banner(settings: Settings, from_env: dict[str, int], unused: tuple[str, ...]) -> None:
    """Where to reach the gateway and how to call it, once it listens.

    The master key is printed once, at the start that created it; later starts name the file
    it is kept in, and one given in the environment (as in production, where stdout goes to
    the logs) is only named. Every command printed works when pasted into a shell."""
    base = _base_url(settings.host, settings.port)
    console.print(
        f"[bold]vidgate[/bold] listening on {base}  (data: {settings.data_dir})",
        soft_wrap=True,
        highlight=False,
    )
    if from_env:
        names = ", ".join(f"{name} ({count} models)" for name, count in from_env.items())
        console.print(f"from the environment: {names}", soft_wrap=True, highlight=False)
    if unused:
        console.print(
            f"not registered: credentials for {', '.join(unused)} are in the environment, but "
            "the config file's model_list is all there is (settings.register_from_env: true "
            "adds them)",
            soft_wrap=True,
            highlight=False,
        )
    key_file = settings.data_dir / "master_key"
    if os.environ.get("VIDGATE_MASTER_KEY"):
        console.print("master key: from the environment (VIDGATE_MASTER_KEY)", highlight=False)
        export = None
    elif settings.master_key_generated and sys.stdout.isatty():
        console.print(
            f"master key (new; shown this once, kept in {key_file}, mode 0600): "
            f"{settings.master_key}",
            soft_wrap=True,
            highlight=False,
        )
        export = f"export VIDGATE_MASTER_KEY={shlex.quote(settings.master_key)}"
    elif settings.master_key_generated:  # stdout is a log (systemd, docker): no key in it
        console.print(
            f"master key: new, kept in {key_file} (mode 0600); not printed, as this output "
            "is not a terminal",
            soft_wrap=True,
            highlight=False,
        )
        export = f'export VIDGATE_MASTER_KEY="$(cat {shlex.quote(str(key_file))})"'
    else:
        console.print(f"master key: in {key_file}", soft_wrap=True, highlight=False)
        export = f'export VIDGATE_MASTER_KEY="$(cat {shlex.quote(str(key_file))})"'
    console.print("try it:", highlight=False)
    lines = [export] if export else []
    lines.append(
        f'curl -s {base}/v1/videos -H "Authorization: Bearer $VIDGATE_MASTER_KEY" '
        "-H 'Content-Type: application/json' -d '{\"prompt\": \"a red fox in the snow\"}'"
    )
    lines.append(
        f"{_vidgate_command()} generate 'a red fox in the snow' --base-url {base} "
        '--api-key "$VIDGATE_MASTER_KEY" -o fox.mp4'
    )
    for line in lines:
        console.print(f"  {line}", soft_wrap=True, highlight=False, markup=False)
    console.print(
        f"console: {base}/ui (sign in with the master key)  ·  API reference: {base}/docs",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


def _base_url(host: str, port: int) -> str:
    """The URL a client on this machine uses (a wildcard address is reached on loopback)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _vidgate_command() -> str:
    """How to run this ``vidgate`` from a shell: ``vidgate`` when that is the one on PATH,
    else the running script's absolute path, else ``<python> -m vidgate``."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "vidgate" and script.exists():
        running = script.resolve()
        on_path = shutil.which("vidgate")
        if on_path and Path(on_path).resolve() == running:
            return "vidgate"
        return shlex.quote(str(script.absolute()))
    return f"{shlex.quote(sys.executable)} -m vidgate"
