"""``vidgate keys``: create, inspect, change, list and revoke virtual keys (master key)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from vidgate.cli.base import (
    BaseUrl,
    DataDir,
    MasterKey,
    check,
    client_command,
    connect,
    console,
    fail,
    keys_app,
)

NONE = "none"
"""The value that clears a limit on ``keys update`` (``--budget none``)."""

Alias = Annotated[str | None, typer.Option("--alias", help="A name for the key.")]
Models = Annotated[
    list[str] | None,
    typer.Option("--model", help="A model the key may use (repeat; default: every model)."),
]
Duration = Annotated[
    str | None, typer.Option("--duration", help="Lifetime from now, e.g. 30d, 12h, 15m.")
]
Expires = Annotated[
    str | None,
    typer.Option("--expires", help="Expiry (UTC): YYYY-MM-DD, an ISO datetime or Unix seconds."),
]
Budget = Annotated[str | None, typer.Option("--budget", help="Budget in USD, e.g. 25.")]
BudgetPeriod = Annotated[
    str | None,
    typer.Option(
        "--budget-period", help="The budget resets every 12h, 1d, 7d or 30d (default: never)."
    ),
]
Rpm = Annotated[str | None, typer.Option("--rpm", help="Creates per minute at most.")]
Parallel = Annotated[
    str | None,
    typer.Option("--max-parallel-jobs", help="Jobs submitting or running at once, at most."),
]
Team = Annotated[str | None, typer.Option("--team", help="Team id (its budget holds too).")]
User = Annotated[str | None, typer.Option("--user", help="User id (its budget holds too).")]


def _number(value: str, option: str, *, integer: bool, clearable: bool) -> float | int | None:
    if clearable and value.lower() == NONE:
        return None
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        also = f" or {NONE!r} to remove it" if clearable else ""
        fail(f"{option} {value!r}: give {kind}{also}", 2)
    return number


def _expiry(value: str, clearable: bool) -> float | None:
    """``--expires`` as Unix seconds (a date means its midnight UTC)."""
    if clearable and value.lower() == NONE:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--expires {value!r}: give YYYY-MM-DD, an ISO datetime or Unix seconds", 2)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _body(
    *,
    alias: str | None,
    models: list[str] | None,
    all_models: bool,
    duration: str | None,
    expires: str | None,
    budget: str | None,
    budget_period: str | None,
    rpm: str | None,
    parallel: str | None,
    team: str | None,
    user: str | None,
    clearable: bool,
) -> dict[str, Any]:
    """The ``/key/generate`` or ``/key/update`` body of the options given (and only those:
    an update leaves what is not named alone; ``none`` clears a value)."""
    if duration is not None and expires is not None:
        fail("give --duration or --expires, not both", 2)
    if models and all_models:
        fail("give --model or --all-models, not both", 2)
    body: dict[str, Any] = {}

    def text(name: str, value: str | None) -> None:
        if value is not None:
            body[name] = None if clearable and value.lower() == NONE else value

    text("key_alias", alias)
    text("team_id", team)
    text("user_id", user)
    text("budget_duration", budget_period)
    if models:
        body["models"] = models
    if all_models:
        body["models"] = []
    if duration is not None:
        body["duration"] = duration
    if expires is not None:
        body["expires"] = _expiry(expires, clearable)
    if budget is not None:
        body["max_budget"] = _number(budget, "--budget", integer=False, clearable=clearable)
    if rpm is not None:
        body["rpm_limit"] = _number(rpm, "--rpm", integer=True, clearable=clearable)
    if parallel is not None:
        body["max_parallel_requests"] = _number(
            parallel, "--max-parallel-jobs", integer=True, clearable=clearable
        )
    return body


@keys_app.command("create")
@client_command
def keys_create(
    alias: Alias = None,
    models: Models = None,
    duration: Duration = None,
    expires: Expires = None,
    budget: Budget = None,
    budget_period: BudgetPeriod = None,
    rpm: Rpm = None,
    max_parallel_jobs: Parallel = None,
    team: Team = None,
    user: User = None,
    base_url: BaseUrl = None,
    master_key: MasterKey = None,
    data_dir: DataDir = None,
) -> None:
    """Create a key and print it as JSON: the key itself is shown this once."""
    body = _body(
        alias=alias,
        models=models,
        all_models=False,
        duration=duration,
        expires=expires,
        budget=budget,
        budget_period=budget_period,
        rpm=rpm,
        parallel=max_parallel_jobs,
        team=team,
        user=user,
        clearable=False,
    )
    with connect(base_url, master_key, data_dir, master=True) as client:
        record = check(client.post("/key/generate", json=body))
    console.print_json(json.dumps(record))


@keys_app.command("update")
@client_command
def keys_update(
    key: Annotated[str, typer.Argument(help="Key id, alias or the key itself.")],
    alias: Alias = None,
    models: Models = None,
    all_models: Annotated[
        bool, typer.Option("--all-models", help="Let the key use every model again.")
    ] = False,
    duration: Duration = None,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            help="Expiry (UTC): YYYY-MM-DD, an ISO datetime, Unix seconds, or none (never).",
        ),
    ] = None,
    budget: Annotated[
        str | None, typer.Option("--budget", help="Budget in USD, or none (no limit).")
    ] = None,
    budget_period: Annotated[
        str | None,
        typer.Option(
            "--budget-period",
            help="12h, 1d, 7d or 30d (a new period starts now), or none (never resets).",
        ),
    ] = None,
    rpm: Annotated[
        str | None, typer.Option("--rpm", help="Creates per minute, or none (no limit).")
    ] = None,
    max_parallel_jobs: Annotated[
        str | None,
        typer.Option("--max-parallel-jobs", help="Jobs at once, or none (no limit)."),
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="Team id, or none.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="User id, or none.")] = None,
    base_url: BaseUrl = None,
    master_key: MasterKey = None,
    data_dir: DataDir = None,
) -> None:
    """Change a key: only the options given change (``none`` removes a limit)."""
    body = _body(
        alias=alias,
        models=models,
        all_models=all_models,
        duration=duration,
        expires=expires,
        budget=budget,
        budget_period=budget_period,
        rpm=rpm,
        parallel=max_parallel_jobs,
        team=team,
        user=user,
        clearable=True,
    )
    if not body:
        fail("nothing to change: give an option such as --budget (see --help)", 2)
    with connect(base_url, master_key, data_dir, master=True) as client:
        record = check(client.post("/key/update", json={"key": key, **body}))
    _show(record, [])


@keys_app.command("info")
@client_command
def keys_info(
    key: Annotated[
        str | None,
        typer.Argument(help="Key id, alias or the key itself (default: the calling key)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
    base_url: BaseUrl = None,
    master_key: MasterKey = None,
    data_dir: DataDir = None,
) -> None:
    """Show a key: limits, budget, spend and the team and user budgets that hold it."""
    params = {} if key is None else {"key": key}
    with connect(base_url, master_key, data_dir, master=True) as client:
        reply = check(client.get("/key/info", params=params))
    if as_json:
        console.print_json(json.dumps(reply))
        return
    info = reply["info"]
    if info.get("admin"):
        console.print("the master key: every model, no limits", highlight=False)
        return
    _show(info, info.get("budgets") or [])


def _when(value: float | None) -> str:
    if value is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(value))


def _money(value: float | None) -> str:
    return "" if value is None else f"${value:,.4f}"


def _budget(record: dict[str, Any]) -> str:
    if record.get("max_budget") is None:
        return "-"
    period = record.get("budget_duration")
    return _money(record["max_budget"]) + (f" per {period}" if period else "")


def _spent(record: dict[str, Any]) -> str:
    spent = _money(record.get("spend") or 0.0)
    reserved = record.get("reserved") or 0.0
    return spent + (f" (+{_money(reserved)} held)" if reserved else "")


def _show(record: dict[str, Any], budgets: list[dict[str, Any]]) -> None:
    table = Table("field", "value", show_header=False, box=None)
    expires = record.get("expires")
    rows = [
        ("key_id", record["key_id"]),
        ("alias", record.get("key_alias") or ""),
        ("hint", record.get("key_hint") or ""),
        ("models", ", ".join(record.get("models") or []) or "every model"),
        ("created (UTC)", _when(record.get("created_at"))),
        ("expires (UTC)", _when(expires) if expires is not None else "never"),
        ("revoked", "yes" if record.get("revoked") else "no"),
        ("budget", _budget(record)),
        ("spend", _spent(record)),
        ("budget resets (UTC)", _when(record.get("budget_reset_at"))),
        ("rpm limit", str(record.get("rpm_limit") or "-")),
        ("max parallel jobs", str(record.get("max_parallel_requests") or "-")),
        ("team", record.get("team_id") or "-"),
        ("user", record.get("user_id") or "-"),
    ]
    for row in budgets:
        left = "no limit" if row.get("left") is None else f"{_money(row['left'])} left"
        rows.append((f"{row['budget']} budget", f"{row.get('name') or ''}: {_spent(row)}; {left}"))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table, highlight=False)


@keys_app.command("list")
@client_command
def keys_list(
    base_url: BaseUrl = None, master_key: MasterKey = None, data_dir: DataDir = None
) -> None:
    """List keys (never their secrets) with dates, limits, budget and spend."""
    with connect(base_url, master_key, data_dir, master=True) as client:
        records = check(client.get("/key/list"))["keys"]
    table = Table(
        "key_id",
        "alias",
        "hint",
        "models",
        "created (UTC)",
        "expires (UTC)",
        "budget",
        "spend",
        "rpm",
        "jobs",
        "team",
        "user",
        "revoked",
    )
    for column in table.columns:
        column.no_wrap = True
        column.overflow = "fold"
    for r in records:
        table.add_row(
            r["key_id"],
            r.get("key_alias") or "",
            r.get("key_hint") or "",
            ",".join(r.get("models") or []) or "*",
            _when(r.get("created_at")),
            _when(r.get("expires")),
            _budget(r),
            _spent(r),
            str(r.get("rpm_limit") or ""),
            str(r.get("max_parallel_requests") or ""),
            r.get("team_id") or "",
            r.get("user_id") or "",
            "yes" if r.get("revoked") else "",
        )
    console.print(table, highlight=False)
    console.print(f"{len(records)} key(s)", highlight=False)


@keys_app.command("revoke")
@client_command
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id, alias or the key itself.")],
    base_url: BaseUrl = None,
    master_key: MasterKey = None,
    data_dir: DataDir = None,
) -> None:
    """Revoke a key: it gets 401 from then on."""
    with connect(base_url, master_key, data_dir, master=True) as client:
        result = check(client.post("/key/delete", json={"keys": [key]}))
    console.print(f"revoked {', '.join(result['deleted_keys'])}")
