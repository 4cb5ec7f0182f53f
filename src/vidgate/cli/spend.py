"""``vidgate spend``: spend reports and rows (``GET /spend/report`` and ``/spend/logs``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
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
    err,
    save,
    writable_folder,
)


@app.command("spend")
@client_command
def spend(
    group_by: Annotated[
        str, typer.Option(help="key, model, provider, day, team, user or end_user.")
    ] = "model",
    key: Annotated[str | None, typer.Option(help="Only this key id.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    status: Annotated[str | None, typer.Option(help="completed or failed.")] = None,
    team_id: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    user_id: Annotated[str | None, typer.Option(help="Only this user.")] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Only this end user (the 'user' requests sent).")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="From (UTC): YYYY-MM-DD, ISO datetime or Unix seconds.")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Until (exclusive; a date includes that day).")
    ] = None,
    logs: Annotated[
        bool, typer.Option("--logs", help="List the spend rows, newest first, not the report.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(help="Rows with --logs (1-1000; default 50, CSV: all).")
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Write CSV to this file ('-': stdout).")
    ] = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
) -> None:
    """Show spend: totals grouped by --group-by, or the rows with --logs (a key sees its own)."""
    filters = {
        "key": key,
        "model": model,
        "provider": provider,
        "status": status,
        "team_id": team_id,
        "user_id": user_id,
        "user": user,
        "start": start,
        "end": end,
    }
    params = {name: value for name, value in filters.items() if value is not None}
    path = "/spend/logs" if logs else "/spend/report"
    if not logs:
        params["group_by"] = group_by
    if logs and (limit is not None or csv_file is None):
        params["limit"] = str(limit or 50)
    if csv_file is not None and str(csv_file) != "-":
        writable_folder(csv_file, "--csv")
    with connect(base_url, api_key, data_dir) as client:
        if csv_file is not None:
            _spend_csv(client, path, {**params, "format": "csv"}, csv_file)
        elif logs:
            _spend_logs_table(check(client.get(path, params=params)))
        else:
            report = check(client.get(path, params=params))
            aliases = _key_aliases(client) if group_by == "key" else None
            _spend_report_table(report, aliases)


def _key_aliases(client: httpx.Client) -> dict[str, str]:
    """Key id -> alias: every key's for the master key (``/key/list``), else the calling
    key's own (``/key/info``); empty if neither answers."""
    response = client.get("/key/list")
    if response.status_code == 200:
        return {k["key_id"]: k["key_alias"] for k in response.json()["keys"] if k["key_alias"]}
    response = client.get("/key/info")
    if response.status_code == 200:
        info = response.json().get("info") or {}
        if info.get("key_alias"):
            return {info["key_id"]: info["key_alias"]}
    return {}


def _spend_csv(client: httpx.Client, path: str, params: dict[str, str], target: Path) -> None:
    with client.stream("GET", path, params=params) as response:
        if response.status_code >= 400:
            response.read()
            check(response)
        if str(target) == "-":
            for text in response.iter_text():
                sys.stdout.write(text)
            return
        save(response, target)
    err.print(f"wrote {target}")


def _usd(value: float) -> str:
    return f"${value:,.4f}"


def _spend_report_table(report: dict[str, Any], aliases: dict[str, str] | None) -> None:
    owner = report["group_by"] == "end_user"  # an end user is one key's: show the key
    headers = [
        report["group_by"],
        *(["key_id"] if owner else []),
        *(["alias"] if aliases is not None else []),
    ]
    table = Table(*headers, "jobs", "completed", "failed", "seconds", "cost_usd")
    for column in table.columns[: len(headers)]:
        column.overflow = "fold"  # ids are shown whole, never cut
    for column in table.columns[len(headers) :]:
        column.justify = "right"
    rows = report["rows"]
    for index, row in enumerate(rows):
        group = "-" if row["group"] is None else str(row["group"])
        table.add_row(
            group,
            *([str(row.get("key_id") or "")] if owner else []),
            *([] if aliases is None else [aliases.get(group, "")]),
            str(row["jobs"]),
            str(row["completed"]),
            str(row["failed"]),
            f"{row['seconds']:g}",
            _usd(row["cost_usd"]),
            end_section=index == len(rows) - 1,
        )
    totals = report["totals"]
    table.add_row(
        "total",
        *([""] if owner else []),
        *([] if aliases is None else [""]),
        str(totals["jobs"]),
        str(totals["completed"]),
        str(totals["failed"]),
        f"{totals['seconds']:g}",
        _usd(totals["cost_usd"]),
        style="bold",
    )
    console.print(table)


def _spend_logs_table(page: dict[str, Any]) -> None:
    table = Table("settled (UTC)", "job_id", "key_id", "model", "status", "cost_usd")
    for column in table.columns:  # ids fold rather than lose characters (CSV has every field)
        column.overflow = "fold"
        column.no_wrap = column.header in ("settled (UTC)", "status", "cost_usd")
    for row in page["data"]:
        settled = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["settled_at"]))
        cost = _usd(row["cost_usd"]) if row["priced"] else "unpriced"
        table.add_row(settled, row["job_id"], row["key_id"], row["model"], row["status"], cost)
    console.print(table)
    more = "; more rows: raise --limit or export with --csv" if page["has_more"] else ""
    console.print(
        f"{len(page['data'])} row(s); total over the range: {_usd(page['total_cost_usd'])}{more}",
        markup=False,
        highlight=False,
    )
