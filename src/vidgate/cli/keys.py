"""``vidgate keys``: create, list and revoke virtual keys (master key)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from vidgate.cli.base import BaseUrl, check, connect, console, keys_app
from vidgate.settings import cli_env


@keys_app.command("create")
def keys_create(
    alias: Annotated[str | None, typer.Option(help="A name for the key.")] = None,
    models: Annotated[
        list[str] | None, typer.Option("--model", help="Allowed model (repeat).")
    ] = None,
    duration: Annotated[str | None, typer.Option(help="Lifetime, e.g. 30d, 12h.")] = None,
    base_url: BaseUrl = None,
    master_key: Annotated[
        str | None, typer.Option(help="Master key (or VIDGATE_MASTER_KEY).")
    ] = None,
) -> None:
    """Create a key; it is shown once."""
    body = {"key_alias": alias, "models": models or None, "duration": duration}
    with connect(base_url, master_key or cli_env("VIDGATE_MASTER_KEY")) as client:
        record = check(client.post("/key/generate", json={k: v for k, v in body.items() if v}))
    console.print_json(json.dumps(record))


@keys_app.command("list")
def keys_list(
    base_url: BaseUrl = None, master_key: Annotated[str | None, typer.Option()] = None
) -> None:
    """List keys (never their secrets)."""
    with connect(base_url, master_key or cli_env("VIDGATE_MASTER_KEY")) as client:
        records = check(client.get("/key/list"))["keys"]
    table = Table("key_id", "alias", "hint", "models", "expires", "revoked")
    for r in records:
        table.add_row(
            r["key_id"],
            r["key_alias"] or "",
            r["key_hint"],
            ",".join(r["models"]) or "*",
            str(r["expires"] or ""),
            "yes" if r["revoked"] else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id, alias or the key itself.")],
    base_url: BaseUrl = None,
    master_key: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Revoke a key: it gets 401 from then on."""
    with connect(base_url, master_key or cli_env("VIDGATE_MASTER_KEY")) as client:
        result = check(client.post("/key/delete", json={"keys": [key]}))
    console.print(f"revoked {', '.join(result['deleted_keys'])}")
