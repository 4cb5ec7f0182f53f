"""``vidgate videos``, ``vidgate models`` and ``vidgate --version``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av

import vidgate as package
from tests.cli.run import one_line_error, vidgate
from tests.support import Gateway, wait_for


def _create(gateway: Gateway, key: str, **body: Any) -> str:
    with gateway.http(key) as client:
        body = {"model": "local/preview", "seconds": "1", "size": "640x360", **body}
        response = client.post("/v1/videos", json=body)
        assert response.status_code == 200, response.text
        video_id = str(response.json()["id"])
        wait_for(lambda: client.get(f"/v1/videos/{video_id}").json()["status"] == "completed")
    return video_id


def _ids(stdout: str) -> list[str]:
    """The ids in the table's rows, in order."""
    rows = [line.replace("\u2502", " ").split() for line in stdout.splitlines() if "\u2502" in line]
    return [row[0] for row in rows if row and row[0].startswith("video_")]


def test_videos_list_get_download_delete(gateway: Gateway, tmp_path: Path) -> None:
    key = gateway.new_key(key_alias="videos-cli")
    lighthouse = _create(gateway, key, prompt="a lighthouse at dusk", user="u-7")
    garden = _create(gateway, key, prompt="a square garden")
    common = ["--base-url", gateway.url, "--api-key", key]

    listed = vidgate("videos", "list", *common)
    assert listed.returncode == 0, listed.stderr
    assert _ids(listed.stdout) == [garden, lighthouse]  # newest first, whole ids when piped
    row = next(line for line in listed.stdout.splitlines() if lighthouse in line)
    for cell in ("completed", "local/preview", "local", "640x360", "u-7", "a lighthouse at dusk"):
        assert cell in row
    assert "2 video(s)" in listed.stdout

    search = vidgate("videos", "list", "--search", "LIGHTHOUSE", *common)
    assert _ids(search.stdout) == [lighthouse], search.stderr
    assert _ids(vidgate("videos", "list", "--user", "u-7", *common).stdout) == [lighthouse]
    both = vidgate("videos", "list", "--status", "completed", "--model", "local/preview", *common)
    assert _ids(both.stdout) == [garden, lighthouse]
    assert _ids(vidgate("videos", "list", "--status", "running", *common).stdout) == []
    page = vidgate("videos", "list", "--limit", "1", *common)
    assert _ids(page.stdout) == [garden] and f"more: --after {garden}" in page.stdout
    rest = vidgate("videos", "list", "--limit", "1", "--after", garden, *common)
    assert _ids(rest.stdout) == [lighthouse]
    line = one_line_error(vidgate("videos", "list", "--status", "done", *common), 1)
    assert "error 400" in line and "status" in line

    got = vidgate("videos", "get", lighthouse, *common)
    assert got.returncode == 0, got.stderr
    video = json.loads(got.stdout)
    assert (video["id"], video["user"], video["status"]) == (lighthouse, "u-7", "completed")

    out = tmp_path / "lighthouse.mp4"
    downloaded = vidgate("videos", "download", lighthouse, "-o", str(out), *common)
    assert downloaded.returncode == 0, downloaded.stderr
    assert f"wrote {out} ({out.stat().st_size} bytes)" in downloaded.stdout
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
    thumb = vidgate("videos", "download", garden, "--variant", "thumbnail", *common, cwd=tmp_path)
    assert thumb.returncode == 0, thumb.stderr
    assert (tmp_path / f"{garden}.webp").read_bytes()[8:12] == b"WEBP"
    missing = tmp_path / "nope" / "x.mp4"
    line = one_line_error(vidgate("videos", "download", garden, "-o", str(missing), *common), 2)
    assert "does not exist" in line

    deleted = vidgate("videos", "delete", garden, *common)
    assert deleted.returncode == 0 and f"deleted {garden}" in deleted.stdout, deleted.stderr
    line = one_line_error(vidgate("videos", "get", garden, *common), 1)
    assert "error 404" in line
    assert _ids(vidgate("videos", "list", *common).stdout) == [lighthouse]


def test_models_table(gateway: Gateway) -> None:
    result = vidgate("models", "--base-url", gateway.url, "--api-key", gateway.master_key)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "local/preview" in line)
    assert "local/preview*" in row and " local " in row  # the default, its provider
    with gateway.http() as client:
        caps = next(
            m for m in client.get("/v1/models").json()["data"] if m["id"] == "local/preview"
        )["capabilities"]
    for size in caps["sizes"]:  # every size, never cut when piped
        assert size in row
    assert f"{caps['default_size']}*" in row
    as_json = vidgate(
        "models", "--json", "--base-url", gateway.url, "--api-key", gateway.master_key
    )
    assert json.loads(as_json.stdout)["object"] == "list"


def test_version() -> None:
    result = vidgate("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"vidgate {package.__version__}"
