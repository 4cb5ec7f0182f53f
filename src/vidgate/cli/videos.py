"""``vidgate videos``: list, show, download and delete videos (``/v1/videos``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from vidgate.cli.base import (
    ApiKey,
    BaseUrl,
    DataDir,
    check,
    client_command,
    connect,
    console,
    download,
    err,
    fail,
    videos_app,
    writable_folder,
)

VideoId = Annotated[str, typer.Argument(help="The video id (video_...).")]
PROMPT_CHARS = 60
"""The list shows this much of each prompt (``videos get`` shows it whole)."""


@videos_app.command("list")
@client_command
def videos_list(
    status: Annotated[
        str | None,
        typer.Option(help="queued, in_progress, completed, failed, or running (the first two)."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this end user.")] = None,
    search: Annotated[
        str | None, typer.Option(help="A video id, or text in the prompt (any case).")
    ] = None,
    created_after: Annotated[
        str | None, typer.Option(help="Created from (UTC): YYYY-MM-DD, ISO or Unix seconds.")
    ] = None,
    created_before: Annotated[
        str | None, typer.Option(help="Created before (a date includes that day).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Videos per page (1-100).")] = 20,
    after: Annotated[str | None, typer.Option(help="Continue after this video id.")] = None,
    oldest_first: Annotated[
        bool, typer.Option("--oldest-first", help="Oldest first (default: newest first).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
) -> None:
    """List the key's videos, newest first, with vidgate's filters."""
    if not 1 <= limit <= 100:
        fail(f"--limit {limit}: give 1 to 100", 2)
    query = {
        "status": status,
        "model": model,
        "provider": provider,
        "user": user,
        "q": search,
        "created_after": created_after,
        "created_before": created_before,
        "after": after,
        "limit": str(limit),
        "order": "asc" if oldest_first else "desc",
    }
    params = {name: value for name, value in query.items() if value is not None}
    with connect(base_url, api_key, data_dir) as client:
        page = check(client.get("/v1/videos", params=params))
    if as_json:
        console.print_json(json.dumps(page))
        return
    table = Table(
        "id", "created (UTC)", "status", "model", "provider", "seconds", "size", "user", "cost",
        "prompt",
    )  # fmt: skip
    for column in table.columns[:-1]:
        column.no_wrap = True
        column.overflow = "fold"
    for video in page["data"]:
        table.add_row(*_row(video))
    console.print(table, highlight=False)
    more = f"; more: --after {page['last_id']}" if page.get("has_more") else ""
    console.print(f"{len(page['data'])} video(s){more}", highlight=False, markup=False)


def _row(video: dict[str, Any]) -> list[str]:
    status = video["status"]
    if status in ("queued", "in_progress"):
        status = f"{status} {video.get('progress') or 0}%"
    cost = (video.get("usage") or {}).get("cost_usd")
    prompt = " ".join(str(video.get("prompt") or "").split())
    if len(prompt) > PROMPT_CHARS:
        prompt = prompt[: PROMPT_CHARS - 1] + "…"
    return [
        video["id"],
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(video["created_at"])),
        status,
        video.get("model") or "",
        video.get("provider") or "",
        str(video.get("seconds") or ""),
        video.get("size") or "",
        video.get("user") or "",
        "" if cost is None else f"${cost:,.4f}",
        prompt,
    ]


@videos_app.command("get")
@client_command
def videos_get(
    video_id: VideoId,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
) -> None:
    """Print a video (the Video object, as JSON)."""
    with connect(base_url, api_key, data_dir) as client:
        video = check(client.get(f"/v1/videos/{quote(video_id, safe='')}"))
    console.print_json(json.dumps(video))


@videos_app.command("download")
@client_command
def videos_download(
    video_id: VideoId,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Where to write it (default: <id>.mp4, .webp or .jpg here)."
        ),
    ] = None,
    variant: Annotated[
        str, typer.Option(help="video, thumbnail (WebP) or spritesheet (JPEG).")
    ] = "video",
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
) -> None:
    """Download a completed video (or its thumbnail or spritesheet)."""
    suffixes = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}
    if variant not in suffixes:
        fail(f"--variant {variant!r}: give video, thumbnail or spritesheet", 2)
    target = output or Path(video_id + suffixes[variant])
    if target.is_dir():
        target = target / (video_id + suffixes[variant])
    writable_folder(target, "-o")
    with connect(base_url, api_key, data_dir) as client:
        size = download(client, quote(video_id, safe=""), target, variant)
    console.print(f"wrote {target} ({size} bytes)", highlight=False, markup=False)


@videos_app.command("delete")
@client_command
def videos_delete(
    video_id: VideoId,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
) -> None:
    """Delete a video: its files go, a running job stops, the id answers 404 from then on."""
    with connect(base_url, api_key, data_dir) as client:
        result = check(client.delete(f"/v1/videos/{quote(video_id, safe='')}"))
    if not result.get("deleted"):
        err.print(f"not deleted: {json.dumps(result)}", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"deleted {result['id']}", highlight=False)
