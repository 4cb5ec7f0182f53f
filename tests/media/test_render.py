"""The offline renderer makes exact, deterministic MP4s for every operation."""

from __future__ import annotations

import hashlib
import itertools
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import av
import pytest
from PIL import Image, ImageFont, ImageStat

from vidgate.media.probe import probe
from vidgate.media.render import RenderSpec, render, wrap_text

SPEC = RenderSpec(
    prompt="A lighthouse in a storm, waves crashing", seconds=1, width=320, height=180
)


def decoded(path: Path) -> tuple[int, tuple[int, int], Image.Image, Image.Image]:
    """Frame count, frame size, first and last frame of an MP4 (decoded one by one)."""
    count, first, last = 0, None, None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            image = frame.to_image()  # type: ignore[no-untyped-call]
            first = first or image
            last, count = image, count + 1
    assert first is not None and last is not None
    return count, first.size, first, last


def centre_mean(image: Image.Image) -> list[float]:
    width, height = image.size
    box = (width * 3 // 8, height * 3 // 8, width * 5 // 8, height * 5 // 8)
    return [float(v) for v in ImageStat.Stat(image.crop(box)).mean]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s, 12 fps, 256x144 render to remix / edit / extend."""
    path = tmp_path_factory.mktemp("render") / "source.mp4"
    render(replace(SPEC, seconds=2, width=256, height=144, fps=12, seed=5), str(path))
    return path


def test_create_has_exact_frames_size_and_duration(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"

    render(replace(SPEC, seconds=2, fps=12), str(out))

    count, size, _, _ = decoded(out)
    info = probe(out)
    assert (count, size) == (24, (320, 180))
    assert (info.codec, info.fps) == ("h264", 12.0)
    assert info.duration_s == pytest.approx(2.0, abs=1 / 12)
    assert not (tmp_path / "out.mp4.part").exists()


def test_same_spec_gives_identical_bytes_and_seed_changes_them(tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("a.mp4", "b.mp4", "c.mp4")]
    for path, seed in zip(paths, (1, 1, 2), strict=True):
        render(replace(SPEC, seed=seed), str(path))

    assert digest(paths[0]) == digest(paths[1])
    assert digest(paths[0]) != digest(paths[2])


def test_first_frame_is_the_background(tmp_path: Path) -> None:
    red, out = tmp_path / "red.png", tmp_path / "out.mp4"
    Image.new("RGB", (500, 400), (220, 20, 20)).save(red)

    render(replace(SPEC, first_frame=str(red)), str(out))

    _, _, first, last = decoded(out)
    for image in (first, last):
        r, g, b = centre_mean(image)
        assert r > 180 and g < 60 and b < 60


def test_remix_keeps_source_size_and_duration(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "remix.mp4"
    spec = replace(SPEC, prompt="the same, in autumn", operation="remix", seconds=5)

    render(replace(spec, width=640, height=360, source_video=str(source)), str(out))

    count, size, first, _ = decoded(out)
    assert (count, size) == (24, (256, 144))
    assert probe(out).duration_s == pytest.approx(probe(source).duration_s, abs=1 / 12)
    _, _, source_first, _ = decoded(source)
    assert centre_mean(first) == pytest.approx(centre_mean(source_first), abs=8)


def test_edit_keeps_source_shape_and_changes_the_picture(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "edit.mp4"

    render(replace(SPEC, operation="edit", source_video=str(source), seed=9), str(out))

    count, size, first, _ = decoded(out)
    _, _, source_first, _ = decoded(source)
    assert (count, size) == (24, (256, 144))
    assert probe(out).duration_s == pytest.approx(2.0, abs=1 / 12)
    change = [
        abs(a - b) for a, b in zip(centre_mean(first), centre_mean(source_first), strict=True)
    ]
    assert max(change) > 10


def test_extend_appends_new_seconds(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "extend.mp4"

    render(replace(SPEC, operation="extend", seconds=1, source_video=str(source)), str(out))

    count, size, _, _ = decoded(out)
    info = probe(out)
    assert (count, size, info.fps) == (24 + 12, (256, 144), 12.0)
    assert info.duration_s == pytest.approx(3.0, abs=1 / 12)


def test_progress_rises_in_coarse_steps_to_100(tmp_path: Path) -> None:
    seen: list[int] = []

    render(replace(SPEC, seconds=2), str(tmp_path / "out.mp4"), seen.append)

    assert seen[0] == 0 and seen[-1] == 100
    assert all(b > a for a, b in itertools.pairwise(seen))
    assert len(seen) <= 22


def test_long_prompts_are_wrapped(tmp_path: Path) -> None:
    font, width = ImageFont.load_default(size=16), 200.0
    prompt = "word " * 500 + "x" * 300

    lines = wrap_text(" ".join(prompt.split()), font, width)
    assert len(lines) == 4 and lines[-1].endswith(" …")
    assert all(0 < font.getlength(line) <= width for line in lines)
    counts = [len(wrap_text(" ".join(["word"] * n), font, width)) for n in (1, 5, 10, 20, 80)]
    assert counts == [1, 2, 3, 4, 4]
    medium = "A lighthouse in a storm, waves crashing over the rocks while gulls circle above"
    wrapped = wrap_text(medium, font, width)
    assert len(wrapped) > 1 and " ".join(wrapped) == medium
    assert all(font.getlength(line) <= width for line in wrapped)
    pieces = wrap_text("x" * 300, font, width)  # one word wider than a line is split
    assert len(pieces) > 1 and all(font.getlength(piece) <= width for piece in pieces)
    assert wrap_text("", font, width) == []

    render(replace(SPEC, prompt=prompt), str(tmp_path / "long.mp4"))
    render(replace(SPEC, prompt="   "), str(tmp_path / "blank.mp4"))


@pytest.mark.parametrize(
    "changes",
    [
        {"seconds": 0},
        {"width": 321},
        {"height": 0},
        {"fps": 0},
        {"operation": "dance"},
        {"operation": "remix"},
        {"operation": "edit"},
        {"operation": "extend"},
    ],
)
def test_bad_specs_raise_value_error(tmp_path: Path, changes: dict[str, object]) -> None:
    out = tmp_path / "out.mp4"

    with pytest.raises(ValueError):
        render(replace(SPEC, **changes), str(out))  # type: ignore[arg-type]
    assert not out.exists()


def test_unreadable_inputs_raise_value_error(tmp_path: Path) -> None:
    junk, out = tmp_path / "junk.png", tmp_path / "out.mp4"
    junk.write_text("not an image")

    with pytest.raises(ValueError, match="input image is not a readable"):
        render(replace(SPEC, first_frame=str(junk)), str(out))
    with pytest.raises(ValueError, match="The source video"):
        render(replace(SPEC, operation="edit", source_video=str(junk)), str(out))
    assert not out.exists() and not (tmp_path / "out.mp4.part").exists()


def test_render_runs_in_a_process_pool(tmp_path: Path) -> None:
    out = tmp_path / "pooled.mp4"
    assert pickle.loads(pickle.dumps(SPEC)) == SPEC

    with ProcessPoolExecutor(max_workers=1) as pool:
        pool.submit(render, SPEC, str(out)).result(timeout=60)

    assert decoded(out)[0] == 24
