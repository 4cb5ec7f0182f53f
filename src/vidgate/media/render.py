"""The "local" provider's offline renderer: real, deterministic H.264 MP4s without any model.

Development and demos need videos of exactly the requested length, size and frame rate
that show which prompt produced them, without network access or GPUs. `render` draws a
seeded animated scene (or animates a given image / source video) under the prompt text and
encodes it with fixed x264 settings, so the same spec and seed give byte-identical files.
Frames are generated, encoded and dropped one at a time, so memory does not grow with length.
"""

from __future__ import annotations

import colorsys
import math
import os
import random
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Protocol

import av
from av.video.frame import PictureType, VideoFrame
from PIL import Image, ImageDraw, ImageFont, ImageOps

from vidgate.media.errors import MediaError
from vidgate.media.probe import open_video, probe

Operation = Literal["create", "remix", "edit", "extend"]
ProgressFn = Callable[[int], None]
Frame = Image.Image | VideoFrame
Size = tuple[int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

_OPERATIONS = ("create", "remix", "edit", "extend")
_LIMITS = {"seconds": (1, 3600), "fps": (1, 120), "width": (2, 4096), "height": (2, 4096)}
_X264_OPTIONS = {"preset": "ultrafast", "threads": "1"}
_RESAMPLE = Image.Resampling.BILINEAR


@dataclass(frozen=True)
class RenderSpec:
    """What to render. remix/edit/extend take size and fps from `source_video` instead."""

    prompt: str
    seconds: int
    width: int
    height: int
    fps: int = 24
    seed: int = 0
    operation: Operation = "create"
    first_frame: str | None = None
    source_video: str | None = None
    remix_seconds: int | None = None
    """A remix at this length instead of its source's (the scene goes on past the source's
    end, or stops before it)."""


def render(spec: RenderSpec, out_path: str, progress: ProgressFn | None = None) -> None:
    """Render `spec` to an MP4 at `out_path`; `progress` gets 0..100 in steps of >= 5.

    Raises ValueError for an invalid spec or unreadable inputs. The file appears at
    `out_path` only once complete.
    """
    _validate(spec)
    partial = out_path + ".part"
    try:
        _encode(_plan(spec), partial, _Progress(progress))
        os.replace(partial, out_path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    if progress is not None:
        progress(100)


@dataclass(frozen=True)
class _Plan:
    size: Size
    rate: Fraction
    total: int
    frames: Iterator[Frame]


@dataclass(frozen=True)
class _Source:
    path: str
    size: Size
    rate: Fraction
    frames: int


class _Scene(Protocol):
    def __call__(self, index: int) -> Image.Image: ...


def _validate(spec: RenderSpec) -> None:
    if spec.operation not in _OPERATIONS:
        raise ValueError(f"operation must be one of {_OPERATIONS}, got {spec.operation!r}")
    for name, (low, high) in _LIMITS.items():
        value = getattr(spec, name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    low, high = _LIMITS["seconds"]
    if spec.remix_seconds is not None and not low <= spec.remix_seconds <= high:
        raise ValueError(f"remix_seconds must be in [{low}, {high}], got {spec.remix_seconds!r}")
    if spec.width % 2 or spec.height % 2:
        raise ValueError(f"width and height must be even, got {spec.width}x{spec.height}")
    if spec.operation != "create" and not spec.source_video:
        raise ValueError(f"operation {spec.operation!r} requires source_video")


def _plan(spec: RenderSpec) -> _Plan:
    rng = random.Random(spec.seed)
    if spec.operation == "create":
        size, rate, count = (spec.width, spec.height), Fraction(spec.fps), spec.seconds * spec.fps
        scene: _Scene = (
            _ImageScene(_load_image(spec.first_frame), size, rate, rng)
            if spec.first_frame
            else _GradientScene(size, rate, rng)
        )
        overlay = _Overlay(spec.prompt, size, rate, top=False)
        return _Plan(size, rate, count, _animate(scene, overlay, count))
    src = _open_source(spec.source_video or "")
    overlay = _Overlay(spec.prompt, src.size, src.rate, top=True)
    if spec.operation == "remix":
        scene = _ImageScene(_fit(_first_frame(src), src.size), src.size, src.rate, rng)
        count = src.frames if spec.remix_seconds is None else round(spec.remix_seconds * src.rate)
        return _Plan(src.size, src.rate, count, _animate(scene, overlay, count))
    if spec.operation == "edit":
        return _Plan(src.size, src.rate, src.frames, _edit(src, overlay, rng))
    extra = round(spec.seconds * src.rate)
    return _Plan(src.size, src.rate, src.frames + extra, _extend(src, overlay, rng, extra))


def _animate(scene: _Scene, overlay: _Overlay, count: int, start: int = 0) -> Iterator[Frame]:
    for index in range(count):
        image = scene(index)
        overlay.apply(image, start + index)
        yield image


def _edit(src: _Source, overlay: _Overlay, rng: random.Random) -> Iterator[Frame]:
    """Every source frame under a seeded colour tint and the new prompt."""
    tint = Image.new("RGB", src.size, _colour(rng, 0.9, 0.9))
    for index, frame in enumerate(_decode(src)):
        image = Image.blend(_fit(frame, src.size), tint, 0.35)
        overlay.apply(image, index)
        yield image


def _extend(src: _Source, overlay: _Overlay, rng: random.Random, extra: int) -> Iterator[Frame]:
    """The source frames unchanged, then new frames zooming on from its last frame."""
    last: VideoFrame | None = None
    copied = 0
    for last in _decode(src):
        copied += 1
        yield last
    scene = _ImageScene(_fit(last, src.size), src.size, src.rate, rng)
    yield from _animate(scene, overlay, extra, copied)


def _open_source(path: str) -> _Source:
    try:
        info = probe(path)
    except MediaError as exc:
        raise ValueError("The source video is not a readable video.") from exc
    rate = Fraction(info.fps).limit_denominator(1001)
    size = (info.width - info.width % 2, info.height - info.height % 2)
    if rate <= 0 or min(size) < 2:
        raise ValueError("The source video has an unusable size or frame rate.")
    return _Source(path, size, rate, max(1, round(info.duration_s * rate)))


def _decode(src: _Source) -> Iterator[VideoFrame]:
    try:
        with open_video(src.path) as container:
            yield from container.decode(video=0)
    except (MediaError, av.FFmpegError) as exc:
        raise ValueError("The source video cannot be decoded.") from exc


def _first_frame(src: _Source) -> VideoFrame | None:
    for frame in _decode(src):
        return frame
    return None


def _fit(frame: Frame | None, size: Size) -> Image.Image:
    """An RGB image covering exactly `size` (scaled and centre-cropped as needed)."""
    if frame is None:
        raise ValueError("The source video has no decodable frames.")
    image = _to_image(frame) if isinstance(frame, VideoFrame) else frame
    return image if image.size == size else ImageOps.fit(image.convert("RGB"), size, _RESAMPLE)


def _to_image(frame: VideoFrame) -> Image.Image:
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    return image


def _load_image(path: str) -> Image.Image:
    try:
        with Image.open(path, formats=["PNG", "JPEG", "WEBP"]) as image:
            return ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError("The input image is not a readable PNG, JPEG or WebP image.") from exc


class _GradientScene:
    """A seeded colour field panned around, with translucent discs drifting over it."""

    def __init__(self, size: Size, rate: Fraction, rng: random.Random) -> None:
        self._size, self._rate = size, rate
        self._margin = (size[0] // 3, size[1] // 3)
        self._canvas = _gradient((size[0] + self._margin[0], size[1] + self._margin[1]), rng)
        self._pan = [rng.uniform(0.03, 0.12), rng.uniform(0.03, 0.12), rng.uniform(0, math.tau)]
        self._discs = [_disc(rng, min(size)) for _ in range(rng.randint(3, 6))]

    def __call__(self, index: int) -> Image.Image:
        t = float(index / self._rate)
        (width, height), (mx, my) = self._size, self._margin
        sx, sy, phase = self._pan
        x = round(mx * (0.5 + 0.5 * math.sin(math.tau * sx * t + phase)))
        y = round(my * (0.5 + 0.5 * math.cos(math.tau * sy * t + phase)))
        image = self._canvas.crop((x, y, x + width, y + height))
        draw = ImageDraw.Draw(image, "RGBA")
        for (fx, fy, px, py), r, fill in self._discs:
            cx = width * (0.5 + 0.4 * math.sin(math.tau * fx * t + px))
            cy = height * (0.5 + 0.4 * math.sin(math.tau * fy * t + py))
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        return image


def _disc(rng: random.Random, scale: float) -> tuple[list[float], float, tuple[int, ...]]:
    """Motion (x/y frequencies and phases), radius and translucent fill of one disc."""
    speeds = [rng.uniform(0.05, 0.3) for _ in range(2)]
    motion = speeds + [rng.uniform(0, math.tau) for _ in range(2)]
    return motion, rng.uniform(0.06, 0.18) * scale, (*_colour(rng, 0.7, 1.0), rng.randint(90, 170))


class _ImageScene:
    """A still image under a slow seeded zoom-and-drift that starts exactly on the image."""

    def __init__(self, image: Image.Image, size: Size, rate: Fraction, rng: random.Random) -> None:
        self._base = ImageOps.fit(image, size, _RESAMPLE)
        self._rate = rate
        self._drift = (rng.random(), rng.random())

    def __call__(self, index: int) -> Image.Image:
        zoom = min(0.2, 0.025 * float(index / self._rate))
        width, height = self._base.size
        left, top = width * zoom * self._drift[0], height * zoom * self._drift[1]
        box = (left, top, left + width * (1 - zoom), top + height * (1 - zoom))
        return self._base.resize(self._base.size, _RESAMPLE, box=box)


def _gradient(size: Size, rng: random.Random) -> Image.Image:
    """Two seeded colours blended along a random axis, plus a seeded soft glow."""
    ramp = Image.linear_gradient("L").transpose(rng.choice(list(Image.Transpose)))
    field = Image.composite(
        Image.new("RGB", size, _colour(rng, 0.6, 0.55)),
        Image.new("RGB", size, _colour(rng, 0.8, 0.9)),
        ramp.resize(size, _RESAMPLE),
    )
    side = round(max(size) * rng.uniform(0.6, 1.0))
    glow = Image.radial_gradient("L").point(lambda v: round(255 * max(0.0, 1 - v / 181) ** 2))
    spot = (rng.randint(-side // 2, size[0] // 2), rng.randint(-side // 2, size[1] // 2))
    field.paste(
        _colour(rng, 0.5, 1.0), (*spot, spot[0] + side, spot[1] + side), glow.resize((side, side))
    )
    return field


def _colour(rng: random.Random, saturation: float, value: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(rng.random(), saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


class _Overlay:
    """The prompt caption (rendered once) and a per-frame counter / time code.

    Derived videos (remix/edit/extend) put the caption at the top, so it does not cover a
    caption their source may already carry at the bottom.
    """

    def __init__(self, prompt: str, size: Size, rate: Fraction, *, top: bool) -> None:
        self._rate = rate
        self._caption = _caption(prompt, size, max(12, round(min(size[0] / 32, size[1] / 18))), top)
        self._font = ImageFont.load_default(size=max(10, size[1] // 30))
        self._pad = max(2, size[1] // 120)

    def apply(self, image: Image.Image, index: int) -> None:
        if self._caption is not None:
            caption, position = self._caption
            image.paste(caption, position, caption)
        seconds = float(index / self._rate)
        label = f"#{index:05d}  {int(seconds // 60):02d}:{seconds % 60:05.2f}"
        draw, pad = ImageDraw.Draw(image), self._pad
        x0, y0, x1, y1 = draw.textbbox((2 * pad, 2 * pad), label, self._font)
        draw.rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), fill=0)
        draw.text((2 * pad, 2 * pad), label, fill="white", font=self._font)


def _caption(
    prompt: str, size: Size, font_size: int, top: bool
) -> tuple[Image.Image, tuple[int, int]] | None:
    """The wrapped prompt on a translucent box, and where it goes (top or bottom centre)."""
    font, pad = ImageFont.load_default(size=font_size), font_size // 2
    lines = wrap_text(" ".join(prompt.split()), font, size[0] * 0.9 - 2 * pad)
    if not lines:
        return None
    text = "\n".join(lines)
    x0, y0, x1, y1 = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox(
        (0, 0), text, font, align="center"
    )
    box = Image.new("RGBA", (int(x1 - x0) + 2 * pad, int(y1 - y0) + 2 * pad))
    draw = ImageDraw.Draw(box)
    draw.rounded_rectangle((0, 0, box.width - 1, box.height - 1), pad, fill=(0, 0, 0, 150))
    draw.multiline_text((pad - x0, pad - y0), text, "white", font, align="center")
    y = size[1] // 10 if top else size[1] - box.height - size[1] // 16
    return box, ((size[0] - box.width) // 2, y)


def wrap_text(text: str, font: Font, width: float, max_lines: int = 4) -> list[str]:
    """Word-wrap to `width` pixels (a word too long for a line is split); past `max_lines`
    the text ends in an ellipsis."""
    sample = text[:400]
    chars = int(width * len(sample) / max(1.0, font.getlength(sample))) if sample else 4
    while True:
        lines = textwrap.wrap(text, max(4, chars), max_lines=max_lines, placeholder=" …")
        if chars <= 4 or max(map(font.getlength, lines), default=0) <= width:
            return lines
        chars -= 1


class _Progress:
    """Forwards whole percentages, at most one per 5% step; 100 is sent by `render`."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self._callback, self._last = callback, -5

    def update(self, done: int, total: int) -> None:
        percent = min(99, done * 100 // max(1, total))
        if self._callback is not None and percent >= self._last + 5:
            self._last = percent
            self._callback(percent)


def _encode(plan: _Plan, path: str, progress: _Progress) -> None:
    """Encode the plan's frames with fixed x264 settings (deterministic, +faststart)."""
    time_base = 1 / plan.rate
    with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=plan.rate, options=_X264_OPTIONS)
        stream.width, stream.height = plan.size
        stream.pix_fmt, stream.time_base = "yuv420p", time_base
        stream.codec_context.thread_count = 1
        # a keyframe every second: spritesheets (made from keyframes only) show the motion
        # second by second; measured +6% file size against every 2 s (1280x720: 4 s 585 ->
        # 621 KB, 12 s 1.89 -> 2.00 MB), the same encode CPU
        stream.codec_context.gop_size = max(1, round(plan.rate))
        progress.update(0, plan.total)
        for index, frame in enumerate(plan.frames):
            video = _video_frame(frame, plan.size)
            video.pts, video.time_base = index, time_base
            container.mux(stream.encode(video))
            progress.update(index + 1, plan.total)
        container.mux(stream.encode(None))


def _video_frame(frame: Frame, size: Size) -> VideoFrame:
    if isinstance(frame, Image.Image):
        video: VideoFrame = VideoFrame.from_image(frame)  # type: ignore[no-untyped-call]
        return video
    video = frame.reformat(width=size[0], height=size[1], format="yuv420p")
    video.pict_type = PictureType.NONE
    return video
