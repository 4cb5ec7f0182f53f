"""The ``vidgate`` command: serve, generate, keys, config check, simulate.

``serve`` runs the gateway; the other commands are HTTP clients of a running gateway (or,
for ``simulate``, serve a provider's upstream simulator), so they work the same against a
local or a remote deployment.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vidgate.settings import ConfigError, build_settings, cli_env

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


def _client(base_url: str | None, api_key: str | None) -> httpx.Client:
    base = (base_url or cli_env("VIDGATE_BASE_URL") or DEFAULT_BASE).rstrip("/")
    key = api_key or cli_env("VIDGATE_API_KEY") or cli_env("VIDGATE_MASTER_KEY")
    if not key:
        err.print("No API key: pass --api-key or set VIDGATE_API_KEY.")
        raise typer.Exit(2)
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _check(response: httpx.Response) -> Any:
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


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="What the video should show.")],
    model: Annotated[str | None, typer.Option(help="Model name (default: the gateway's).")] = None,
    seconds: Annotated[int | None, typer.Option(help="Duration in seconds.")] = None,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT, e.g. 1280x720.")] = None,
    image: Annotated[Path | None, typer.Option(help="Image file for the first frame.")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the MP4.")] = Path(
        "video.mp4"
    ),
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Create a video, show progress while it renders, and download it."""
    fields = {
        k: str(v)
        for k, v in {"prompt": prompt, "model": model, "seconds": seconds, "size": size}.items()
        if v is not None
    }
    with _client(base_url, api_key) as client:
        if image is not None:
            with image.open("rb") as handle:
                files = {"input_reference": (image.name, handle)}
                video = _check(client.post("/v1/videos", data=fields, files=files))
        else:
            video = _check(client.post("/v1/videos", json=fields))
        console.print(f"job [bold]{video['id']}[/bold] on model {video['model']}")
        video = _follow(client, video)
        if video["status"] != "completed":
            error = video.get("error") or {}
            err.print(f"[red]failed[/red]: {error.get('code')}: {error.get('message')}")
            raise typer.Exit(1)
        _download(client, video["id"], output)
    usage = video.get("usage") or {}
    console.print(
        f"wrote {output} ({output.stat().st_size} bytes)  id={video['id']}  "
        f"duration={usage.get('duration_seconds')}s  cost_usd={usage.get('cost_usd')}"
    )


def _follow(client: httpx.Client, video: dict[str, Any]) -> dict[str, Any]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(video["status"], total=100)
        while video["status"] not in ("completed", "failed"):
            progress.update(task, completed=video["progress"], description=video["status"])
            response = client.get(f"/v1/videos/{video['id']}")
            video = _check(response)
            wait_ms = int(response.headers.get("openai-poll-after-ms", "1000"))
            if video["status"] not in ("completed", "failed"):
                time.sleep(wait_ms / 1000)
        progress.update(
            task,
            completed=100 if video["status"] == "completed" else video["progress"],
            description=video["status"],
        )
    return video


def _download(client: httpx.Client, video_id: str, output: Path) -> None:
    with client.stream("GET", f"/v1/videos/{video_id}/content") as response:
        if response.status_code >= 400:
            response.read()
            _check(response)
        tmp = output.with_name(output.name + ".part")
        with tmp.open("wb") as handle:
            for chunk in response.iter_bytes(1 << 20):
                handle.write(chunk)
        tmp.replace(output)


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
    with _client(base_url, master_key or cli_env("VIDGATE_MASTER_KEY")) as client:
        record = _check(client.post("/key/generate", json={k: v for k, v in body.items() if v}))
    console.print_json(json.dumps(record))


@keys_app.command("list")
def keys_list(
    base_url: BaseUrl = None, master_key: Annotated[str | None, typer.Option()] = None
) -> None:
    """List keys (never their secrets)."""
    with _client(base_url, master_key or cli_env("VIDGATE_MASTER_KEY")) as client:
        records = _check(client.get("/key/list"))["keys"]
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
    with _client(base_url, master_key or cli_env("VIDGATE_MASTER_KEY")) as client:
        result = _check(client.post("/key/delete", json={"keys": [key]}))
    console.print(f"revoked {', '.join(result['deleted_keys'])}")


@config_app.command("check")
def config_check(
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


@app.command()
def simulate(
    provider: Annotated[
        str, typer.Argument(help="Provider whose upstream to simulate, e.g. openai.")
    ],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 9100,
    api_key: Annotated[
        str, typer.Option(help="The only API key the simulator accepts.")
    ] = "sk-sim",
    job_seconds: Annotated[float, typer.Option(help="Time from create to completed.")] = 5.0,
) -> None:
    """Serve a provider's upstream simulator on loopback for offline development."""
    import uvicorn

    try:
        module = importlib.import_module(f"vidgate.providers.{provider}.simulator")
    except ModuleNotFoundError:
        err.print(f"No simulator for provider {provider!r}.")
        raise typer.Exit(2) from None
    sim_app = module.create_app(module.SimulatorConfig(api_key=api_key, job_seconds=job_seconds))
    console.print(f"{provider} simulator on http://127.0.0.1:{port} (api key {api_key})")
    uvicorn.run(sim_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    app(sys.argv[1:])


# --- spend reporting (GET /spend/report and /spend/logs) ------------------------------------


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
    with _client(base_url, api_key) as client:
        if csv_file is not None:
            _spend_csv(client, path, {**params, "format": "csv"}, csv_file)
        elif logs:
            _spend_logs_table(_check(client.get(path, params=params)))
        else:
            _spend_report_table(_check(client.get(path, params=params)))


def _spend_csv(client: httpx.Client, path: str, params: dict[str, str], target: Path) -> None:
    with client.stream("GET", path, params=params) as response:
        if response.status_code >= 400:
            response.read()
            _check(response)
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
