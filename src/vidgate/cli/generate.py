"""``vidgate generate``: create a video, follow its progress and download it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from vidgate.cli.base import ApiKey, BaseUrl, app, check, connect, console, err


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
    with connect(base_url, api_key) as client:
        if image is not None:
            with image.open("rb") as handle:
                files = {"input_reference": (image.name, handle)}
                video = check(client.post("/v1/videos", data=fields, files=files))
        else:
            video = check(client.post("/v1/videos", json=fields))
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


def _download(client: httpx.Client, video_id: str, output: Path) -> None:
    with client.stream("GET", f"/v1/videos/{video_id}/content") as response:
        if response.status_code >= 400:
            response.read()
            check(response)
        tmp = output.with_name(output.name + ".part")
        with tmp.open("wb") as handle:
            for chunk in response.iter_bytes(1 << 20):
                handle.write(chunk)
        tmp.replace(output)
