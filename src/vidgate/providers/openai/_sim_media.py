"""Media, request-body and request-log plumbing for the OpenAI Videos API simulator.

Why this exists: the simulator must hand out *real* bytes (an H.264 MP4, a WebP
thumbnail, a JPEG spritesheet) so that clients can decode what they download; it must
read multipart/JSON bodies and inspect uploaded references (images and videos) the way
the real API does; and every request needs a log entry (with its idempotency key and
video id). Keeping that here keeps ``simulator.py`` about job state and routes.

Nothing here imports from the rest of vidgate: the simulator is an independent
implementation of the documented upstream behaviour.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeAlias

import av
from PIL import Image, ImageDraw
from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SPRITE_COLUMNS = 5
SPRITE_ROWS = 5
SPRITE_TILE_WIDTH = 160


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request, fully read into memory."""

    filename: str
    content_type: str
    data: bytes


def parse_size(size: str) -> tuple[int, int]:
    """Split "WxH" into (width, height); raises ValueError when malformed."""
    width, _, height = size.partition("x")
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        raise ValueError(size)
    return w, h


def _colour(index: int, total: int) -> tuple[int, int, int]:
    """A colour that walks smoothly around the RGB cube as index grows."""
    t = index / max(total, 1)
    return (int(255 * t) % 256, int(255 * (1 - t)) % 256, (64 + index * 7) % 256)


def _yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    y = int(0.257 * r + 0.504 * g + 0.098 * b + 16)
    u = int(-0.148 * r - 0.291 * g + 0.439 * b + 128)
    v = int(0.439 * r - 0.368 * g - 0.071 * b + 128)
    return (min(max(y, 0), 255), min(max(u, 0), 255), min(max(v, 0), 255))


def _solid_frame(width: int, height: int, rgb: tuple[int, int, int]) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, value in zip(frame.planes, _yuv(rgb), strict=True):
        plane.update(bytes([value]) * plane.buffer_size)
    return frame


def encode_mp4(width: int, height: int, seconds: int, fps: int) -> bytes:
    """Encode seconds*fps solid frames whose colour changes every frame."""
    buffer = io.BytesIO()
    total = max(seconds * fps, 1)
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"preset": "ultrafast"}
        for index in range(total):
            frame = _solid_frame(width, height, _colour(index, total))
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def render_thumbnail(width: int, height: int) -> bytes:
    """A WebP image of the video's size."""
    image = Image.new("RGB", (width, height), _colour(0, 1))
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(32, 32, 96))
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=60)
    return out.getvalue()


def render_spritesheet(width: int, height: int) -> bytes:
    """A JPEG grid of SPRITE_COLUMNS x SPRITE_ROWS coloured tiles, 160 px wide each."""
    tile_w = SPRITE_TILE_WIDTH
    tile_h = max(1, round(tile_w * height / width))
    sheet = Image.new("RGB", (tile_w * SPRITE_COLUMNS, tile_h * SPRITE_ROWS))
    draw = ImageDraw.Draw(sheet)
    tiles = SPRITE_COLUMNS * SPRITE_ROWS
    for index in range(tiles):
        x, y = (index % SPRITE_COLUMNS) * tile_w, (index // SPRITE_COLUMNS) * tile_h
        draw.rectangle((x, y, x + tile_w - 1, y + tile_h - 1), fill=_colour(index, tiles))
    out = io.BytesIO()
    sheet.save(out, format="JPEG", quality=70)
    return out.getvalue()


@dataclass
class MediaCache:
    """Renders each asset once per (variant, size, seconds, fps) and keeps the bytes."""

    _items: dict[tuple[str, str, int, int], bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, variant: str, size: str, seconds: int, fps: int) -> bytes:
        """Return the bytes of variant ("video", "thumbnail" or "spritesheet")."""
        key = (variant, size, seconds if variant == "video" else 0, fps)
        with self._lock:
            cached = self._items.get(key)
            if cached is None:
                cached = self._render(variant, size, seconds, fps)
                self._items[key] = cached
            return cached

    @staticmethod
    def _render(variant: str, size: str, seconds: int, fps: int) -> bytes:
        width, height = parse_size(size)
        if variant == "video":
            return encode_mp4(width, height, seconds, fps)
        if variant == "thumbnail":
            return render_thumbnail(width, height)
        return render_spritesheet(width, height)


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) of an image, or None if Pillow cannot read it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return (image.format or "", image.width, image.height)
    except Exception:
        return None


def probe_video(data: bytes) -> tuple[str, int] | None:
    """("WxH", whole seconds) of an uploaded video, or None if it is not a video."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            size = f"{stream.codec_context.width}x{stream.codec_context.height}"
            if container.duration is not None:
                seconds = container.duration / 1_000_000
            elif stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = 0.0
            return size, max(1, round(seconds))
    except Exception:
        return None


# --------------------------------------------------------------------------- request bodies

ALLOWED_SECONDS = ("4", "8", "12", "16", "20")
ALL_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024", "1920x1080", "1080x1920")
BASE_MODEL_SIZES = ("720x1280", "1280x720")
MAX_PROMPT_CHARS = 32_000
MAX_IMAGE_URL_CHARS = 20_971_520
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")
_BRACKETED = re.compile(r"([^\[\]]+)\[([^\[\]]+)\]")

VideoRef: TypeAlias = str | Upload
"""A source video: the id of a simulator video, or an uploaded file."""


class SimError(Exception):
    """An error answered with the OpenAI envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = "invalid_value",
        type_: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.code, self.type, self.headers = code, type_, headers or {}


def error_response(exc: SimError) -> JSONResponse:
    """The OpenAI error envelope for exc."""
    error = {"message": exc.message, "type": exc.type, "param": exc.param, "code": exc.code}
    return JSONResponse({"error": error}, status_code=exc.status, headers=exc.headers)


def _assign(out: dict[str, Any], key: str, value: Any) -> None:
    """Store a form field, unflattening `a[b]` into out["a"]["b"]."""
    match = _BRACKETED.fullmatch(key)
    if match is None:
        out[key] = value
        return
    nested = out.get(match[1])
    if not isinstance(nested, dict):
        nested = out[match[1]] = {}
    nested[match[2]] = value


async def read_body(request: Request) -> dict[str, Any]:
    """Parse a multipart, urlencoded or JSON body into a dict (files become Uploads)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        out: dict[str, Any] = {}
        async with request.form(max_part_size=MAX_IMAGE_URL_CHARS + 1024) as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    upload = Upload(value.filename or "", value.content_type or "", data)
                    _assign(out, key, upload)
                else:
                    _assign(out, key, value)
        return out
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise SimError(400, "We could not parse the JSON body of your request.") from exc
    if not isinstance(parsed, dict):
        raise SimError(400, "The request body must be a JSON object.", code="invalid_type")
    return parsed


def require_prompt(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if prompt is None:
        msg = "Missing required parameter: 'prompt'."
        raise SimError(400, msg, param="prompt", code="missing_required_parameter")
    if not isinstance(prompt, str) or not 1 <= len(prompt) <= MAX_PROMPT_CHARS:
        msg = f"Invalid 'prompt': expected a string of 1 to {MAX_PROMPT_CHARS} characters."
        raise SimError(400, msg, param="prompt")
    return prompt


def validate_seconds(value: Any, param: str) -> int:
    """Seconds as an int; accepts the strings of ALLOWED_SECONDS and the same ints."""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if text not in ALLOWED_SECONDS:
        msg = f"Invalid '{param}': {value!r}. Expected one of {', '.join(ALLOWED_SECONDS)}."
        raise SimError(400, msg, param=param)
    return int(text)


def parse_size_for_model(model: str, value: Any) -> str:
    """The requested size, checked against the sizes the model supports."""
    if value not in ALL_SIZES:
        msg = f"Invalid 'size': {value!r}. Expected one of {', '.join(ALL_SIZES)}."
        raise SimError(400, msg, param="size")
    base_model = model == "sora-2" or model.startswith("sora-2-20")
    if base_model and value not in BASE_MODEL_SIZES:
        msg = f"Invalid 'size' for model '{model}': {value}. Use 720x1280 or 1280x720."
        raise SimError(400, msg, param="size")
    return str(value)


def _check_reference_image(upload: Upload, size: str) -> None:
    info = image_info(upload.data)
    if info is None or info[0] not in IMAGE_FORMATS:
        msg = "Invalid 'input_reference': expected a jpeg, png or webp image."
        raise SimError(400, msg, param="input_reference", code="invalid_image")
    if f"{info[1]}x{info[2]}" != size:
        msg = f"Inpaint image must match the requested width and height ({size}); got "
        msg += f"{info[1]}x{info[2]}."
        raise SimError(400, msg, param="input_reference")


def validate_input_reference(value: Any, size: str) -> None:
    """Accept an image upload matching size, or exactly one of {image_url, file_id}."""
    if isinstance(value, Upload):
        _check_reference_image(value, size)
        return
    if not isinstance(value, dict):
        msg = "Invalid type for 'input_reference': expected a file or an object."
        raise SimError(400, msg, param="input_reference", code="invalid_type")
    given = [k for k in ("image_url", "file_id") if value.get(k) not in (None, "")]
    if len(given) != 1 or not isinstance(value[given[0]], str):
        msg = "'input_reference' must set exactly one of 'image_url' or 'file_id'."
        raise SimError(400, msg, param="input_reference")
    if len(value.get("image_url") or "") > MAX_IMAGE_URL_CHARS:
        msg = "'input_reference.image_url' is too long."
        raise SimError(400, msg, param="input_reference.image_url")


def video_ref(value: Any) -> VideoRef:
    """The `video` field of an edit or extension: `{id}` or an uploaded file."""
    if isinstance(value, Upload):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    msg = "Invalid 'video': expected a file or an object with 'id'."
    code = "missing_required_parameter" if value is None else "invalid_type"
    raise SimError(400, msg, param="video", code=code)


# --------------------------------------------------------------------------- middleware

_PATH_VIDEO_ID = re.compile(r"^/v1/videos/([^/]+)")


class SimMiddleware:
    """Pure ASGI middleware: the request log (method, path, idempotency key, video id,
    status) of every call but ``/__sim__`` ones."""

    def __init__(self, app: ASGIApp, log: list[dict[str, Any]]) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__sim__/"):
            await self.app(scope, receive, send)
            return
        entry = self._entry(scope)

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status_code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            entry["status_code"] = entry["status_code"] or 500
            entry["video_id"] = scope.get("sim.video_id", entry["video_id"])

    def _entry(self, scope: Scope) -> dict[str, Any]:
        match = _PATH_VIDEO_ID.match(scope["path"])
        path_id = match[1] if match and match[1] not in ("edits", "extensions") else None
        entry: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "idempotency_key": Headers(scope=scope).get("idempotency-key"),
            "video_id": path_id,
            "status_code": None,
            "t": time.time(),
            "client_port": (scope.get("client") or (None, None))[1],
        }
        self.log.append(entry)
        return entry
