"""What every ``vidgate`` command shares: the Typer apps, the consoles, and the HTTP client
the client commands (generate, keys, spend, ...) talk to a running gateway with."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from vidgate.settings import cli_env

app = typer.Typer(
    help="vidgate: a self-hosted gateway for AI video generation.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Manage virtual API keys on a running gateway.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
config_app = typer.Typer(help="Work with config files.", no_args_is_help=True)
app.add_typer(config_app, name="config")
console = Console()
err = Console(stderr=True)
DEFAULT_BASE = "http://127.0.0.1:4000"


def connect(base_url: str | None, api_key: str | None) -> httpx.Client:
    base = (base_url or cli_env("VIDGATE_BASE_URL") or DEFAULT_BASE).rstrip("/")
    key = api_key or cli_env("VIDGATE_API_KEY") or cli_env("VIDGATE_MASTER_KEY")
    if not key:
        err.print("No API key: pass --api-key or set VIDGATE_API_KEY.")
        raise typer.Exit(2)
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:500]
        err.print(f"[red]error {response.status_code}[/red]: {message}")
        raise typer.Exit(1)
    return response.json()


BaseUrl = Annotated[str | None, typer.Option("--base-url", help="Gateway URL.")]
ApiKey = Annotated[str | None, typer.Option("--api-key", help="API key (or VIDGATE_API_KEY).")]
