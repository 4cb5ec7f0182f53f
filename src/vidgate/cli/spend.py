"""``vidgate spend``: spend reports and rows (``GET /spend/report`` and ``/spend/logs``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from vidgate.cli.base import ApiKey, BaseUrl, app, check, connect, console, err


@app.command("spend")
def spend(
    group_by: Annotated[
        str, typer.Option(help="key, model, provider, day, team or user.")
    ] = "model",
    key: Annotated[str | None, typer.Option(help="Only this key id.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    status: Annotated[str | None, typer.Option(help="completed or failed.")] = None,
    team_id: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    user_id: Annotated[str | None, typer.Option(help="Only this user.")] = None,
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
) -> None:
    """Show spend: totals grouped by --group-by, or the rows with --logs (a key sees its own)."""
    filters = {
        "key": key,
        "model": model,
        "provider": provider,
        "status": status,
        "team_id": team_id,
        "user_id": user_id,
        "start": start,
        "end": end,
    }
    params = {name: value for name, value in filters.items() if value is not None}
    path = "/spend/logs" if logs else "/spend/report"
    if not logs:
        params["group_by"] = group_by
    if logs and (limit is not None or csv_file is None):
        params["limit"] = str(limit or 50)
    with connect(base_url, api_key) as client:
        if csv_file is not None:
            _spend_csv(client, path, {**params, "format": "csv"}, csv_file)
        elif logs:
            _spend_logs_table(check(client.get(path, params=params)))
        else:
            _spend_report_table(check(client.get(path, params=params)))


def _spend_csv(client: httpx.Client, path: str, params: dict[str, str], target: Path) -> None:
    with client.stream("GET", path, params=params) as response:
        if response.status_code >= 400:
            response.read()
            check(response)
        if str(target) == "-":
            for text in response.iter_text():
                sys.stdout.write(text)
            return
        tmp = target.with_name(target.name + ".part")
        with tmp.open("wb") as handle:
            for chunk in response.iter_bytes(1 << 16):
                handle.write(chunk)
        tmp.replace(target)
    err.print(f"wrote {target}")


def _usd(value: float) -> str:
    return f"${value:,.4f}"


def _spend_report_table(report: dict[str, Any]) -> None:
    table = Table(report["group_by"], "jobs", "completed", "failed", "seconds", "cost_usd")
    table.columns[0].overflow = "fold"  # ids are shown whole, never cut
    for column in table.columns[1:]:
        column.justify = "right"
    rows = report["rows"]
    for index, row in enumerate(rows):
        table.add_row(
            "-" if row["group"] is None else str(row["group"]),
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
