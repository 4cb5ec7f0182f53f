"""``vidgate generate`` against a running gateway; local inputs are checked before a job."""

from __future__ import annotations

from pathlib import Path

import av
from PIL import Image

from tests.cli.run import one_line_error, vidgate
from tests.support import Gateway


def test_generate_writes_the_video(gateway: Gateway, tmp_path: Path) -> None:
    out = tmp_path / "fox.mp4"
    image = tmp_path / "first.png"
    Image.new("RGB", (640, 360), (0, 160, 0)).save(image)
    result = vidgate(
        "generate",
        "a fox",
        "--seconds",
        "2",
        "--size",
        "640x360",
        "--image",
        str(image),
        "-o",
        str(out),
        "--base-url",
        gateway.url,
        "--api-key",
        gateway.master_key,
    )
    assert result.returncode == 0, result.stderr
    assert "video_" in result.stdout and "duration=2.0s" in result.stdout
    assert "completed" in result.stdout and "100%" in result.stdout
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
        first = next(container.decode(stream)).to_image().resize((1, 1)).getpixel((0, 0))
    assert first[1] > 100 and first[0] < 80


def test_generate_into_a_folder_names_the_file_by_id(gateway: Gateway, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    common = ["--base-url", gateway.url, "--api-key", gateway.master_key]
    result = vidgate(
        "generate", "a kite", "--seconds", "1", "--size", "640x360", "-o", str(folder), *common
    )
    assert result.returncode == 0, result.stderr
    (written,) = folder.iterdir()
    assert written.name.startswith("video_") and written.suffix == ".mp4"
    assert f"wrote {written}" in result.stdout and not list(folder.glob("*.part"))


def test_generate_reports_errors(gateway: Gateway, tmp_path: Path) -> None:
    result = vidgate(
        "generate",
        "x",
        "--size",
        "7x7",
        "-o",
        str(tmp_path / "x.mp4"),
        "--base-url",
        gateway.url,
        "--api-key",
        gateway.master_key,
    )
    line = one_line_error(result, 1)
    assert "error 400" in line and "size" in line
    result = vidgate("generate", "x", "--base-url", gateway.url, "--api-key", "sk-wrong")
    line = one_line_error(result, 1)
    assert "error 401" in line and "--api-key" in line


def test_local_inputs_are_checked_before_any_job(gateway: Gateway, tmp_path: Path) -> None:
    """A missing image, a missing or unusable output folder: one line, exit 2, and no job
    (a key of its own shows none)."""
    key = gateway.new_key(key_alias="checked-first")
    common = ["--base-url", gateway.url, "--api-key", key]
    image = tmp_path / "first.png"
    Image.new("RGB", (640, 360)).save(image)

    line = one_line_error(
        vidgate("generate", "x", "--image", str(tmp_path / "nope.png"), *common), 2
    )
    assert line == f"error: --image {tmp_path / 'nope.png'}: no such file"
    line = one_line_error(vidgate("generate", "x", "--image", str(tmp_path), *common), 2)
    assert "--image" in line and "not a file" in line

    missing = tmp_path / "no-such-folder" / "out.mp4"
    result = vidgate("generate", "x", "--image", str(image), "-o", str(missing), *common)
    line = one_line_error(result, 2)
    assert line == (
        f"error: -o {missing}: the folder {missing.parent} does not exist (create it first)"
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = one_line_error(vidgate("generate", "x", "-o", str(blocker / "out.mp4"), *common), 2)
    assert "-o" in line and "does not exist" in line

    with gateway.http(key) as client:
        assert client.get("/v1/videos").json()["data"] == []
