"""``vidgate generate``: create a video, follow its progress and download it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from vidgate.cli.base import (
    ApiKey,
    BaseUrl,
    CliError,
    DataDir,
    app,
    check,
    client_command,
    connect,
    console,
    describe_http_error,
    describe_os_error,
    download,
    err,
    readable_file,
    writable_folder,
)


@app.command()
@client_command
def generate(
    prompt: Annotated[str, typer.Argument(help="What the video should show.")],
    model: Annotated[str | None, typer.Option(help="Model name (default: the gateway's).")] = None,
    seconds: Annotated[int | None, typer.Option(help="Duration in seconds.")] = None,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT, e.g. 1280x720.")] = None,
    image: Annotated[Path | None, typer.Option(help="Image file for the first frame.")] = None,
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Where to write the MP4 (a folder: <id>.mp4 in it)."),
    ] = Path("video.mp4"),
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    data_dir: DataDir = None,
) -> None:
    """Create a video, show progress while it renders, and download it."""
    fields = {
        k: str(v)
        for k, v in {"prompt": prompt, "model": model, "seconds": seconds, "size": size}.items()
        if v is not None
    }
    # Local inputs first: nothing is created (or paid for) that could not be written.
    if image is not None:
        readable_file(image, "--image")
    if output.is_dir():
        writable_folder(output / "video.mp4", "-o")
    else:
        writable_folder(output, "-o")
    with connect(base_url, api_key, data_dir) as client:
        if image is not None:
            with image.open("rb") as handle:
                files = {"input_reference": (image.name, handle)}
                video = check(client.post("/v1/videos", data=fields, files=files))
        else:
            video = check(client.post("/v1/videos", json=fields))
        console.print(f"job [bold]{video['id']}[/bold] on model {video['model']}")
        if output.is_dir():
            output = output / f"{video['id']}.mp4"
        try:
            video = _follow(client, video)
        except (httpx.HTTPError, OSError) as exc:
            raise _after_create(video["id"], exc, "lost track of it") from None
        if video["status"] != "completed":
            error = video.get("error") or {}
            err.print(
                f"[red]failed[/red]: {error.get('code')}: {error.get('message')}",
                soft_wrap=True,
                highlight=False,
            )
            raise typer.Exit(1)
        try:
            download(client, video["id"], output)
        except (httpx.HTTPError, OSError) as exc:
            raise _after_create(video["id"], exc, f"could not write {output}") from None
    usage = video.get("usage") or {}
    console.print(
        f"wrote {output} ({output.stat().st_size} bytes)  id={video['id']}  "
        f"duration={usage.get('duration_seconds')}s  cost_usd={usage.get('cost_usd')}"
    )


def _after_create(video_id: str, exc: httpx.HTTPError | OSError, what: str) -> CliError:
    """An error once the job exists: say so, and how to get the video without a new job."""
    reason = (
        describe_http_error(exc) if isinstance(exc, httpx.HTTPError) else describe_os_error(exc)
    )
    return CliError(
        f"job {video_id} was created but the command {what} ({reason}); "
        f"follow it with `vidgate videos get {video_id}` and fetch it with "
        f"`vidgate videos download {video_id} -o FILE`"
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
            video = check(response)
            wait_ms = int(response.headers.get("openai-poll-after-ms", "1000"))
            if video["status"] not in ("completed", "failed"):
                time.sleep(wait_ms / 1000)
        progress.update(
            task,
            completed=100 if video["status"] == "completed" else video["progress"],
            description=video["status"],
        )
    return video
