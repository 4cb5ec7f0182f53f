"""Request validation of the Seedance simulator, per model, as the Ark API does it.

Written from the Ark create-task documentation (the reference transcription) and the
``volcenginesdkarkruntime`` request types, independently of the provider's spec and adapter.
Failures raise :class:`Invalid`, rendered as Ark's ``{"error": {code, message, param, type}}``.

Legacy ``--flags`` in the text item (``--rs 720p --rt 16:9 --dur 5 --fps 24 --wm false
--seed 3 --cf false`` and their long forms) are stripped from the prompt and applied when
the matching body field is absent.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
FRAMES: dict[tuple[str, str], tuple[int, int]] = {
    ("480p", "16:9"): (864, 480),
    ("480p", "4:3"): (736, 544),
    ("480p", "1:1"): (640, 640),
    ("480p", "3:4"): (544, 736),
    ("480p", "9:16"): (480, 864),
    ("480p", "21:9"): (960, 416),
    ("720p", "16:9"): (1280, 720),
    ("720p", "4:3"): (1112, 834),
    ("720p", "1:1"): (960, 960),
    ("720p", "3:4"): (834, 1112),
    ("720p", "9:16"): (720, 1280),
    ("720p", "21:9"): (1470, 630),
    ("1080p", "16:9"): (1920, 1080),
    ("1080p", "4:3"): (1664, 1248),
    ("1080p", "1:1"): (1440, 1440),
    ("1080p", "3:4"): (1248, 1664),
    ("1080p", "9:16"): (1080, 1920),
    ("1080p", "21:9"): (2206, 946),
}
MAX_SEED = 2**32 - 1
IMAGE_TYPES = ("jpeg", "png", "webp", "bmp", "tiff", "gif")
MAX_IMAGE_BYTES = 30 * 1024 * 1024
_FLAG = re.compile(r"(?:^|\s)--([a-z]+)\s+(\S+)")
_FLAG_NAMES = {
    "rs": "resolution",
    "resolution": "resolution",
    "rt": "ratio",
    "ratio": "ratio",
    "dur": "duration",
    "duration": "duration",
    "fps": "fps",
    "framepersecond": "fps",
    "wm": "watermark",
    "watermark": "watermark",
    "seed": "seed",
    "cf": "camera_fixed",
    "camerafixed": "camera_fixed",
}


class Invalid(Exception):
    """An Ark error answer."""

    def __init__(
        self, message: str, param: str = "", code: str = "InvalidParameter", status: int = 400
    ) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status

    @property
    def type(self) -> str:
        return {400: "BadRequest", 401: "Unauthorized", 404: "NotFound"}.get(
            self.status, "BadRequest"
        )


def bad(param: str, detail: str) -> Invalid:
    return Invalid(
        f"The parameter `{param}` specified in the request is not valid: {detail}.", param
    )


@dataclass(frozen=True)
class Model:
    """What one Seedance model takes."""

    durations: tuple[int, int]
    resolutions: tuple[str, ...]
    default_resolution: str
    roles: frozenset[str]
    max_references: int = 0
    audio: bool = False
    frames: bool = False
    flex: bool = True
    video_inputs: bool = False
    reference_1080p: bool = True
    needs_image: bool = False
    heic: bool = False


_ALL = ("480p", "720p", "1080p")
_FL = frozenset({"first_frame", "last_frame"})
_FLR = _FL | {"reference_image"}
PRO = Model((3, 12), _ALL, "1080p", _FL, frames=True)
PRO_FAST = Model((3, 12), _ALL, "1080p", frozenset({"first_frame"}), frames=True)
LITE_T2V = Model((3, 12), _ALL, "720p", frozenset(), frames=True)
LITE_I2V = Model(
    (3, 12), _ALL, "720p", _FLR, 4, frames=True, reference_1080p=False, needs_image=True
)
PRO_15 = Model((4, 12), _ALL, "720p", _FL, audio=True, heic=True)
V20 = Model((4, 15), _ALL, "720p", _FLR, 9, audio=True, flex=False, video_inputs=True)
V20_FAST = Model((4, 15), ("480p", "720p"), "720p", _FLR, 9, audio=True, flex=False)

MODELS: dict[str, Model] = {
    "doubao-seedance-1-0-pro-250528": PRO,
    "doubao-seedance-1-0-pro-fast-251015": PRO_FAST,
    "doubao-seedance-1-0-lite-t2v-250428": LITE_T2V,
    "doubao-seedance-1-0-lite-i2v-250428": LITE_I2V,
    "doubao-seedance-1-5-pro-251215": PRO_15,
    "doubao-seedance-2-0-260128": V20,
    "doubao-seedance-2-0-fast-260128": V20_FAST,
    "seedance-1-0-pro-250528": PRO,
    "seedance-1-0-pro-fast-251015": PRO_FAST,
    "seedance-1-0-lite-t2v-250428": LITE_T2V,
    "seedance-1-0-lite-i2v-250428": LITE_I2V,
    "seedance-1-5-pro-251215": PRO_15,
    "dreamina-seedance-2-0-260128": V20,
}


@dataclass
class Checked:
    """A validated create body, reduced to what the simulated task needs."""

    name: str
    model: Model
    prompt: str = ""
    resolution: str = "720p"
    ratio: str = "16:9"
    duration: int = 5
    seed: int = -1
    camera_fixed: bool = False
    watermark: bool = False
    generate_audio: bool | None = None
    return_last_frame: bool = False
    service_tier: str = "default"
    execution_expires_after: int = 172_800
    images: list[tuple[str, str]] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)
    width: int = 1280
    height: int = 720


def check(body: Any, endpoints: dict[str, str]) -> Checked:
    """Validate a create body like Ark does."""
    if not isinstance(body, dict):
        raise Invalid("The request body is not a valid JSON object.", "", "InvalidParameter")
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise Invalid("The parameter `model` is required.", "model", "MissingParameter")
    model = MODELS.get(endpoints.get(name, name))
    if model is None:
        raise Invalid(
            f"The model or endpoint {name} does not exist or you do not have access to it.",
            "model",
            "InvalidEndpointOrModel.NotFound",
            404,
        )
    out = Checked(name, model, resolution=model.default_resolution)
    _content(body.get("content"), out)
    _body_fields(body, out)
    _size(out)
    return out


def _content(content: Any, out: Checked) -> None:
    if not isinstance(content, list) or not content:
        raise Invalid("The parameter `content` is required.", "content", "MissingParameter")
    for index, item in enumerate(content):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text" and isinstance(item.get("text"), str):
            out.prompt = _strip_flags(item["text"], out)
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            if not isinstance(url, str) or not url:
                raise bad(f"content[{index}].image_url.url", "a url is required")
            role = item.get("role") or ""
            _image(url, f"content[{index}].image_url", out.model)
            out.images.append((role, url))
        elif kind in ("video_url", "audio_url") and out.model.video_inputs:
            continue
        else:
            raise bad(f"content[{index}].type", f"{kind!r} is not supported by this model")
    _roles(out)


def _strip_flags(text: str, out: Checked) -> str:
    for name, value in _FLAG.findall(text):
        if name in _FLAG_NAMES:
            out.flags[_FLAG_NAMES[name]] = value
    kept = _FLAG.sub(lambda m: m.group(0) if m.group(1) not in _FLAG_NAMES else "", text)
    return kept.strip()


def _image(url: str, param: str, model: Model) -> None:
    if url.startswith(("https://", "http://", "asset://")):
        return
    if not url.startswith("data:"):
        raise bad(param, "the url must be http(s), asset:// or a base64 data URL")
    header, _, payload = url.partition(",")
    kind = header[5:].split(";")[0]
    allowed = IMAGE_TYPES + (("heic", "heif") if model.heic else ())
    if not header.endswith(";base64") or kind.removeprefix("image/") not in allowed:
        raise bad(param, f"the image format must be one of {', '.join(allowed)}")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise bad(param, "the base64 data is invalid") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise bad(param, "the image must be smaller than 30 MB")
    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
    except Exception:
        raise bad(param, "the image cannot be decoded") from None
    if min(width, height) < 300 or max(width, height) > 6000:
        raise bad(param, f"image sides must be 300-6000 px, got {width}x{height}")
    if not 0.4 < width / height < 2.5:
        raise bad(param, "the image aspect ratio must be within (0.4, 2.5)")


def _roles(out: Checked) -> None:
    model, images = out.model, out.images
    if len(images) == 1 and not images[0][0]:
        images[0] = ("first_frame", images[0][1])
    roles = [role for role, _ in images]
    for role in roles:
        if role not in model.roles:
            raise bad("role", f"{role or 'an image without a role'} is not supported by this model")
    refs = roles.count("reference_image")
    if refs and len(roles) != refs:
        raise bad("role", "reference images cannot be mixed with first or last frames")
    if refs > model.max_references:
        raise bad("content", f"at most {model.max_references} reference images are allowed")
    if roles.count("first_frame") > 1 or roles.count("last_frame") > 1:
        raise bad("role", "at most one first frame and one last frame are allowed")
    if "last_frame" in roles and "first_frame" not in roles:
        raise bad("role", "a last frame needs a first frame")
    if model.needs_image and not images:
        raise Invalid("This model requires an image in `content`.", "content", "MissingParameter")
    if not images and not out.prompt:
        raise Invalid("The text prompt is required.", "content", "MissingParameter")


def _pick(body: dict[str, Any], out: Checked, name: str) -> Any:
    value = body.get(name)
    if value is None and name in out.flags:
        return _flag_value(name, out.flags[name])
    return value


def _flag_value(name: str, text: str) -> Any:
    if name in ("watermark", "camera_fixed"):
        if text not in ("true", "false"):
            raise bad(name, f"--flag value {text!r} must be true or false")
        return text == "true"
    if name in ("duration", "seed", "fps"):
        try:
            return int(text)
        except ValueError:
            raise bad(name, f"--flag value {text!r} must be an integer") from None
    return text


def _body_fields(body: dict[str, Any], out: Checked) -> None:
    model = out.model
    resolution = _pick(body, out, "resolution")
    if resolution is not None:
        if resolution not in model.resolutions:
            raise bad("resolution", f"allowed values are {', '.join(model.resolutions)}")
        out.resolution = resolution
    ratio = _pick(body, out, "ratio")
    if ratio is not None:
        if ratio not in (*RATIOS, "adaptive", "keep_ratio"):
            raise bad("ratio", f"allowed values are {', '.join(RATIOS)}, adaptive")
        out.ratio = ratio
    elif out.images:
        out.ratio = "adaptive"
    _duration(body, out)
    fps = _pick(body, out, "fps")
    if fps is not None and fps != 24:
        raise bad("framepersecond", "only 24 is supported")
    seed = _pick(body, out, "seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or not -1 <= seed <= MAX_SEED:
            raise bad("seed", f"the seed must be an integer in [-1, {MAX_SEED}]")
        out.seed = seed
    for name in ("camera_fixed", "watermark", "return_last_frame", "generate_audio", "draft"):
        value = _pick(body, out, name)
        if value is not None and not isinstance(value, bool):
            raise bad(name, "expected a boolean")
    out.camera_fixed = bool(_pick(body, out, "camera_fixed"))
    out.watermark = bool(_pick(body, out, "watermark"))
    out.return_last_frame = bool(body.get("return_last_frame"))
    audio = body.get("generate_audio")
    if audio is not None and not model.audio:
        raise bad("generate_audio", "this model does not generate audio")
    out.generate_audio = (True if audio is None else audio) if model.audio else None
    _tier(body, out)


def _duration(body: dict[str, Any], out: Checked) -> None:
    model = out.model
    frames = body.get("frames")
    if frames is not None:
        if not model.frames:
            raise bad("frames", "this model takes `duration` instead")
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
            raise bad("frames", "expected a positive integer")
        out.duration = max(1, round((frames - 1) / 24))
        return
    duration = _pick(body, out, "duration")
    if duration is None:
        return
    low, high = model.durations
    if isinstance(duration, bool) or not isinstance(duration, int) or not low <= duration <= high:
        raise bad("duration", f"the duration must be an integer from {low} to {high}")
    out.duration = duration


def _tier(body: dict[str, Any], out: Checked) -> None:
    tier = body.get("service_tier")
    if tier is not None:
        if tier not in ("default", "flex") or (tier == "flex" and not out.model.flex):
            raise bad("service_tier", "this service tier is not available for the model")
        out.service_tier = tier
    expires = body.get("execution_expires_after")
    if expires is not None:
        if isinstance(expires, bool) or not isinstance(expires, int):
            raise bad("execution_expires_after", "expected an integer")
        if not 3600 <= expires <= 259_200:
            raise bad("execution_expires_after", "the value must be in [3600, 259200]")
        out.execution_expires_after = expires


def _size(out: Checked) -> None:
    refs = any(role == "reference_image" for role, _ in out.images)
    if refs and not out.model.reference_1080p and out.resolution == "1080p":
        raise bad("resolution", "1080p is not supported with reference images")
    ratio = out.ratio if out.ratio in RATIOS else _adaptive(out)
    out.width, out.height = FRAMES[(out.resolution, ratio)]


def _adaptive(out: Checked) -> str:
    """``adaptive``: the ratio nearest the first image's (16:9 without a readable image)."""
    for _, url in out.images:
        if url.startswith("data:"):
            data = base64.b64decode(url.partition(",")[2])
            with Image.open(io.BytesIO(data)) as picture:
                width, height = picture.size
            return min(RATIOS, key=lambda ratio: _distance(ratio, width / height))
    return "16:9"


def _distance(ratio: str, target: float) -> float:
    w, h = ratio.split(":")
    return abs(int(w) / int(h) - target)
