"""Parsing: any client surface's body → ``VideoRequest``, the one canonical request.

A JSON body or a flattened multipart form becomes a ``VideoRequest``; unknown fields and
values of the wrong shape are refused here (400 naming the field), before a model is chosen.

``drop_params`` (LiteLLM's convention; precedence: the request's field, then the key's
setting, then the gateway's) is decided here too. With it on, a field another operation takes
but this one does not (``seed`` on a remix) is dropped and named in ``VideoRequest.dropped``
instead of refused; ``resolve`` then drops what the chosen model does not take. Never dropped,
because they change what is made beyond a parameter: ``prompt``, ``model``, the images
(``input_reference``, ``images``, ``image``, ``content``, ``metadata.last_frame``,
``metadata.reference_images``) and ``video``; a name no operation knows (a typo) stays a 400.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vidgate import safe_json
from vidgate.errors import InvalidRequest
from vidgate.values import Asset, Operation

SIZE_RE = re.compile(r"^\s*(\d{2,5})\s*[xX*\u00d7]\s*(\d{2,5})\s*$")
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
MAX_USER = 200
"""``user`` is kept with the job and in request logs, in columns of 200 characters."""
KNOWN_FIELDS: Mapping[Operation, frozenset[str]] = {
    "create": frozenset(
        {
            "prompt",
            "model",
            "seconds",
            "size",
            "resolution",
            "aspect_ratio",
            "input_reference",
            "images",
            "metadata",
            "user",
            "seed",
            "fps",
        }
    ),
    "remix": frozenset({"prompt", "metadata", "user", "seconds"}),
    "edit": frozenset({"prompt", "video", "model", "metadata", "user"}),
    "extend": frozenset({"prompt", "seconds", "video", "model", "metadata", "user"}),
}
CONTROL_FIELDS = frozenset({"drop_params"})
"""Fields that steer the gateway, not the video: every operation takes them."""
NEVER_DROPPED = frozenset({"prompt", "model", "input_reference", "images", "video"})
"""Fields that change what is made beyond a parameter: refused, never dropped."""
DROPPABLE = frozenset().union(*KNOWN_FIELDS.values()) - NEVER_DROPPED


@dataclass(frozen=True)
class Upload:
    """A file the client uploaded, already stored as a blob by the API layer."""

    blob_key: str
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass
class VideoRequest:
    """What the client asked for, before a model is chosen."""

    operation: Operation
    prompt: str
    model: str | None = None
    seconds: int | None = None
    size: tuple[int, int] | None = None
    fps: int | None = None
    seed: int | None = None
    resolution: int | None = None
    """Short side in pixels (``720`` for ``"720p"``), matched against the model's sizes."""
    aspect_ratio: tuple[int, int] | None = None
    image: Asset | None = None
    last_frame: Asset | None = None
    reference_images: list[Asset] = field(default_factory=list)
    images: list[Asset] = field(default_factory=list)
    """Images whose role the model decides: first (and last) frame, or references."""
    negative_prompt: str | None = None
    audio: bool | None = None
    source_video_id: str | None = None
    source_upload: Upload | None = None
    options: dict[str, Any] = field(default_factory=dict)
    user: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    """What the client called a canonical field (``seconds`` → ``duration``), for errors."""
    drop_params: bool = False
    """Drop fields the model does not take instead of refusing them (the request's
    ``drop_params``, else the key's, else the gateway's setting)."""
    dropped: list[str] = field(default_factory=list)
    """Fields dropped before a model was chosen (unknown to the operation), as sent."""

    def fingerprint(self) -> str:
        """A stable digest of the request (uploads by content), for idempotency checks.

        ``drop_params`` and what it dropped are left out: they decide whether a request is
        refused, not which video a job makes, so a retry with the same key and body returns
        the job whichever way leniency was asked for (the job says what was dropped)."""
        body = {
            f.name: _canonical(getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("names", "drop_params", "dropped")
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()

    def name(self, canonical: str) -> str:
        """The parameter name the client used for ``canonical``."""
        return self.names.get(canonical, canonical)

    def upload_keys(self) -> list[str]:
        """Blob keys of files uploaded with this request."""
        keys = [self.source_upload.blob_key] if self.source_upload else []
        images = [self.image, self.last_frame, *self.reference_images, *self.images]
        keys += [i.value for i in images if i is not None and i.kind == "blob"]
        return keys


def _canonical(value: Any) -> Any:
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, Upload):
        return {"upload": value.sha256}
    if isinstance(value, Asset):
        return {"blob": value.digest} if value.kind == "blob" else asdict(value)
    return value


def upload_folder(key: str) -> str:
    """Each upload lives in a folder of its own (``inputs/<upload id>/<name>``)."""
    return key.rsplit("/", 1)[0] + "/"


# --- parsing ---------------------------------------------------------------------------


def unflatten(form: Mapping[str, Any]) -> dict[str, Any]:
    """Turn multipart bracket keys (``input_reference[image_url]``) into nested dicts."""
    out: dict[str, Any] = {}
    for key, value in form.items():
        match = re.fullmatch(r"([A-Za-z_]+)\[([A-Za-z0-9_.-]+)\]", key)
        if match:
            outer, inner = match.groups()
            nested = out.setdefault(outer, {})
            if not isinstance(nested, dict):
                raise InvalidRequest(
                    f"'{outer}' given both as a value and as an object", param=outer
                )
            nested[inner] = value
        elif key == "input_reference.0":
            out["input_reference"] = value
        else:
            out[key] = value
    return out


def parse_request(
    operation: Operation,
    body: Mapping[str, Any],
    *,
    source_video_id: str | None = None,
    names: Mapping[str, str] | None = None,
    drop_params: bool = False,
) -> VideoRequest:
    """Validate the shape of a body (types, unknown fields); capabilities come later.

    ``names`` says what the client called a field another surface renamed (``seconds`` was
    sent as ``duration``), so errors name what the client sent. ``drop_params`` is the
    key's (or else the gateway's) setting; the body's own ``drop_params`` wins over it.
    """
    drop = _drop_params(body.get("drop_params"), drop_params)
    body, dropped = _without_foreign(operation, body, names or {}, drop)
    unknown = sorted((names or {}).get(k, k) for k in set(body) - KNOWN_FIELDS[operation])
    unknown = [name for name in unknown if name not in CONTROL_FIELDS]
    if unknown:  # named as sent: an edit's 'duration', not the 'seconds' it became
        raise InvalidRequest(
            f"Unrecognized request argument supplied: {', '.join(unknown)}. "
            "Provider-specific options go in 'metadata'.",
            param=unknown[0],
            code="unknown_parameter",
        )
    request = VideoRequest(
        operation=operation,
        prompt=_prompt(body.get("prompt")),
        model=_optional_str(body, "model"),
        seconds=_optional_int(body, "seconds", (names or {}).get("seconds")),
        size=_size(body.get("size")),
        resolution=_resolution(body.get("resolution")),
        aspect_ratio=_aspect_ratio(body.get("aspect_ratio")),
        fps=_optional_int(body, "fps"),
        seed=_optional_int(body, "seed"),
        image=_image_reference(body.get("input_reference")),
        images=_image_list(body.get("images"), "images"),
        options=as_object(body.get("metadata"), "metadata"),
        user=_optional_str(body, "user", MAX_USER),
        source_video_id=source_video_id,
        names=dict(names or {}),
        drop_params=drop,
        dropped=dropped,
    )
    _canonical_options(request)
    _one_way_to_say(request)
    if operation in ("edit", "extend"):
        _video_reference(request, body.get("video"))
    if operation == "extend" and request.seconds is None:
        raise InvalidRequest("Missing required parameter: 'seconds'.", param="seconds")
    return request


def _drop_params(value: Any, default: bool) -> bool:
    """The body's ``drop_params`` (JSON true/false; a form's "true"/"false"), else
    ``default``."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidRequest(
        f"Invalid value for 'drop_params': {value!r}. Allowed: true, false.",
        param="drop_params",
        code="invalid_value",
    )


def _without_foreign(
    operation: Operation, body: Mapping[str, Any], names: Mapping[str, str], drop: bool
) -> tuple[Mapping[str, Any], list[str]]:
    """``body`` without the fields other operations take but ``operation`` does not
    (``seed`` on a remix), and their names as sent, when ``drop`` is on."""
    if not drop:
        return body, []
    foreign = sorted((set(body) - KNOWN_FIELDS[operation]) & DROPPABLE)
    if not foreign:
        return body, []
    kept = {key: value for key, value in body.items() if key not in foreign}
    return kept, [names.get(key, key) for key in foreign]


def _one_way_to_say(request: VideoRequest) -> None:
    """A size and images each given one way: no guessing which of two the client meant."""
    if request.size is not None and (request.resolution or request.aspect_ratio):
        param = "resolution" if request.resolution else "aspect_ratio"
        raise InvalidRequest(
            f"Give either '{request.name('size')}' or 'resolution'/'aspect_ratio', not both.",
            param=param,
        )
    named = request.image or request.last_frame or request.reference_images
    if request.images and named:
        raise InvalidRequest(
            f"Give images either in '{request.name('images')}' (roles chosen by the model) or "
            f"in '{request.name('input_reference')}' / 'metadata.last_frame' / "
            "'metadata.reference_images', not both.",
            param=request.name("images"),
        )


def _prompt(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidRequest("Missing required parameter: 'prompt'.", param="prompt")
    if not isinstance(value, str):
        raise InvalidRequest("'prompt' must be a string.", param="prompt", code="invalid_type")
    return value


def _optional_str(body: Mapping[str, Any], name: str, max_chars: int = 0) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.", param=name, code="invalid_type")
    if max_chars and len(value) > max_chars:
        raise InvalidRequest(
            f"'{name}' is too long: {len(value)} characters; allowed: at most {max_chars}.",
            param=name,
            code="string_above_max_length",
        )
    return value


def _optional_int(body: Mapping[str, Any], key: str, shown: str | None = None) -> int | None:
    """``body[key]`` as an int; errors name it ``shown`` (what the client called it)."""
    value, name = body.get(key), shown or key
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be an integer.", param=name, code="invalid_type")
    number = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,19}\s*", value):
        number = int(value)  # longer digit strings: past 64 bits (and past int()'s limit)
    if number is not None and -(2**63) < number < 2**63:
        return number
    raise InvalidRequest(
        f"Invalid value for '{name}': {value!r}; expected an integer (at most 19 digits).",
        param=name,
        code="invalid_type",
    )


def _size(value: Any) -> tuple[int, int] | None:
    if value is None or value == "":
        return None
    match = SIZE_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise InvalidRequest(
            f"Invalid value for 'size': {value!r}; expected WIDTHxHEIGHT such as '1280x720'.",
            param="size",
            code="invalid_value",
        )
    return int(match.group(1)), int(match.group(2))


_RESOLUTION_NAMES = {"2k": 1440, "4k": 2160}


def _resolution(value: Any) -> int | None:
    """``"720p"``, ``"1080P"``, ``"4k"`` → the short side in pixels."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text in _RESOLUTION_NAMES:
        return _RESOLUTION_NAMES[text]
    match = re.fullmatch(r"(\d{3,4})p?", text)
    if not match or isinstance(value, bool):
        raise InvalidRequest(
            f"Invalid value for 'resolution': {value!r}; expected a tier such as '720p', "
            "'1080p' or '4k'.",
            param="resolution",
            code="invalid_value",
        )
    return int(match.group(1))


def _aspect_ratio(value: Any) -> tuple[int, int] | None:
    if value is None or value == "":
        return None
    match = (
        re.fullmatch(r"\s*(\d{1,2})\s*:\s*(\d{1,2})\s*", value) if isinstance(value, str) else None
    )
    if not match or "0" in (match.group(1), match.group(2)):
        raise InvalidRequest(
            f"Invalid value for 'aspect_ratio': {value!r}; expected W:H such as '16:9'.",
            param="aspect_ratio",
            code="invalid_value",
        )
    return int(match.group(1)), int(match.group(2))


def _image_list(value: Any, param: str) -> list[Asset]:
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise InvalidRequest(
            f"'{param}' must be a list of images.", param=param, code="invalid_type"
        )
    return [
        asset
        for index, item in enumerate(value)
        if (asset := _image_reference(item, f"{param}[{index}]")) is not None
    ]


def _image_reference(value: Any, param: str = "input_reference") -> Asset | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and param != "input_reference":
        value = {"image_url": value}
    if isinstance(value, Upload):
        if value.content_type not in IMAGE_TYPES:
            raise InvalidRequest(
                f"'{param}' must be a JPEG, PNG or WebP image, got {value.content_type}.",
                param=param,
                code="invalid_image",
            )
        return Asset("blob", value.blob_key, value.content_type, value.filename, value.sha256)
    if isinstance(value, dict):
        keys = set(value) & {"image_url", "file_id"}
        if len(keys) != 1 or set(value) - {"image_url", "file_id"}:
            raise InvalidRequest(
                f"'{param}' must have exactly one of 'image_url' or 'file_id'.",
                param=param,
            )
        key = keys.pop()
        if not isinstance(value[key], str) or not value[key]:
            raise InvalidRequest(
                f"'{param}.{key}' must be a non-empty string.",
                param=f"{param}.{key}",
            )
        return Asset("url" if key == "image_url" else "file_id", value[key])
    raise InvalidRequest(
        f"Invalid type for '{param}': expected a file or an object with 'image_url' or 'file_id'.",
        param=param,
        code="invalid_type",
    )


def _video_reference(request: VideoRequest, value: Any) -> None:
    if isinstance(value, Upload):
        request.source_upload = value
        return
    if isinstance(value, dict) and set(value) == {"id"} and isinstance(value["id"], str):
        request.source_video_id = value["id"]
        return
    if value is None:
        raise InvalidRequest("Missing required parameter: 'video'.", param="video")
    raise InvalidRequest(
        "Invalid type for 'video': expected a file or an object {'id': 'video_...'}.",
        param="video",
        code="invalid_type",
    )


def _canonical_options(request: VideoRequest) -> None:
    """Move the ``metadata`` keys every provider understands into their own fields."""
    options = request.options
    if "negative_prompt" in options:
        value = options.pop("negative_prompt")
        if not isinstance(value, str):
            raise InvalidRequest(
                "'metadata.negative_prompt' must be a string.", param="metadata.negative_prompt"
            )
        request.negative_prompt = value or None
    if "audio" in options:
        value = options.pop("audio")
        if not isinstance(value, bool):
            raise InvalidRequest("'metadata.audio' must be true or false.", param="metadata.audio")
        request.audio = value
    if "last_frame" in options:
        request.last_frame = _image_reference(options.pop("last_frame"), "metadata.last_frame")
    if "reference_images" in options:
        value = options.pop("reference_images")
        request.reference_images = _image_list(value, "metadata.reference_images")
    if "model" in options:
        _metadata_model(request, options.pop("model"))


def _metadata_model(request: VideoRequest, value: Any) -> None:
    """``metadata.model`` may repeat ``model`` but never choose another (billed) model."""
    if value is None or value == "" or value == request.model:
        return
    raise InvalidRequest(
        f"'metadata.model' ({value!r}) differs from 'model' ({request.model!r}); the model "
        "is chosen by 'model' alone, so the model billed is the model used.",
        param="metadata.model",
        code="invalid_value",
    )


def as_object(value: Any, param: str) -> dict[str, Any]:
    """An object given as JSON or as a JSON string (multipart forms can only send strings)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:  # values no store can keep are a 400 naming them (metadata.x), as in JSON bodies
            value = safe_json.loads(value, param)
        except InvalidRequest as exc:
            if exc.code != "invalid_json":
                raise
            value = None
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{param}' must be an object.", param=param, code="invalid_type")
    return dict(value)
