"""``vidgate models``: the model names a key may use (``GET /v1/models``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from vidgate.cli.base import (
    ApiKey,
    BaseUrl,
    DataDir,
    app,
    check,
    client_command,
    connect,
    console,
)


@app.command("models")
@client_command
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
) -> None:
    """List the models the key may use: provider, durations and sizes (* the default)."""
    with connect(base_url, api_key, data_dir) as client:
        reply = check(client.get("/v1/models"))
    if as_json:
        console.print_json(json.dumps(reply))
        return
    table = Table("name", "provider", "seconds", "sizes", "image", "alias for")
    for column in table.columns:
        column.overflow = "fold"
    for model in reply["data"]:
        table.add_row(*_row(model))
    console.print(table, highlight=False)
    console.print(
        f"{len(reply['data'])} model name(s); * marks the default", highlight=False, markup=False
    )


def _marked(values: list[Any], default: Any) -> str:
    return ", ".join(f"{v}*" if v == default and len(values) > 1 else str(v) for v in values)


def _row(model: dict[str, Any]) -> list[str]:
    caps = model.get("capabilities") or {}
    return [
        model["id"] + ("*" if model.get("default") else ""),
        str(model.get("owned_by") or ""),
        _marked(list(caps.get("seconds") or []), caps.get("default_seconds")),
        _marked(list(caps.get("sizes") or []), caps.get("default_size")),
        "yes" if caps.get("input_reference") else "",
        model.get("alias_for") or "",
    ]
