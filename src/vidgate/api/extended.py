"""The extended fields of ``POST /v1/videos``, as aggregator gateways document them.

Clients written for new-api, aimlapi-style gateways and others send ``duration``,
``width``/``height``, ``image``, ``images[]``, ``mode``, ``parameters``, a Seedance-style
``content`` array, ``n`` and ``response_format``. This module folds them into the fields
``parse_request`` reads and remembers what the client called each, so an error names what
was sent. It knows no provider: whether the chosen model can take a value is decided once,
by ``resolve``, against the model's capabilities — as for every other surface.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vidgate.errors import InvalidRequest
from vidgate.media.sniff import sniff
from vidgate.request import Upload, as_object

EXTENDED_FIELDS = frozenset(
    {
        "duration",
        "width",
        "height",
        "n",
        "image",
        "images",
        "mode",
        "parameters",
        "content",
        "response_format",
    }
)
CONTENT_ROLES = {
    "first_frame": "input_reference",
    "last_frame": "last_frame",
    "reference_image": "reference_images",
}


@dataclass
class Canonical:
    """A body in the fields ``parse_request`` reads, and the names the client used."""

    body: dict[str, Any]
    names: dict[str, str] = field(default_factory=dict)


def canonical(body: Mapping[str, Any]) -> Canonical:
    """Fold the extended fields of ``body`` into OpenAI's (``seconds`` wins over ``duration``)."""
    out = Canonical(dict(body))
    if not EXTENDED_FIELDS & set(body):
        return out
    _duration(out)
    _width_height(out)
    _n(out.body)
    _response_format(out.body)
    _image(out)
    _images(out)
    _content(out)
    _mode(out)
    _parameters(out)
    return out


def image_ref(value: Any, param: str) -> Any:
    """One image as ``parse_request`` reads it: an upload, or ``{"image_url": ...}``.

    Accepts a URL, a data URI, bare base64 (as aimlapi documents), ``{"url": ...}`` and the
    chat-style ``{"image_url": {"url": ...}}``.
    """
    if isinstance(value, Upload):
        return value
    if isinstance(value, dict):
        url = value.get("image_url", value.get("url"))
        if isinstance(url, dict):
            url = url.get("url")
        if "file_id" in value and url is None:
            return {"file_id": value["file_id"]}
        value = url
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            f"'{param}' must be an image URL, a data URI, base64 image bytes or an uploaded file.",
            param=param,
            code="invalid_type",
        )
    text = value.strip()
    if text.startswith(("http://", "https://", "data:")):
        return {"image_url": text}
    return {"image_url": _data_uri(text, param)}


def _data_uri(text: str, param: str) -> str:
    """Bare base64 image bytes as a data URI, typed by their magic number."""
    try:
        head = base64.b64decode(text[:64] + "=" * (-len(text[:64]) % 4), validate=True)
    except (binascii.Error, ValueError):
        head = b""
    ctype = sniff(head)
    if ctype is None or not ctype.startswith("image/"):
        raise InvalidRequest(
            f"'{param}' is neither a URL, a data URI nor base64 PNG, JPEG or WebP bytes.",
            param=param,
            code="invalid_image",
        )
    return f"data:{ctype};base64,{text}"


def _duration(out: Canonical) -> None:
    duration = out.body.pop("duration", None)
    if duration is None or duration == "" or out.body.get("seconds") not in (None, ""):
        return
    out.body["seconds"] = duration
    out.names["seconds"] = "duration"


def _width_height(out: Canonical) -> None:
    width, height = out.body.pop("width", None), out.body.pop("height", None)
    if width is None and height is None:
        return
    if width is None or height is None:
        missing = "width" if width is None else "height"
        raise InvalidRequest(
            f"'width' and 'height' go together; '{missing}' is missing.", param=missing
        )
    if out.body.get("size") not in (None, ""):
        raise InvalidRequest("Give either 'size' or 'width' and 'height', not both.", param="size")
    for name, value in (("width", width), ("height", height)):
        text = str(value).strip()
        if isinstance(value, bool) or not (text.isascii() and text.isdigit() and len(text) < 6):
            raise InvalidRequest(
                f"Invalid value for '{name}': {value!r}; expected a whole number of pixels.",
                param=name,
                code="invalid_type",
            )
    out.body["size"] = f"{int(width)}x{int(height)}"
    out.names["size"] = "width"


def _n(body: dict[str, Any]) -> None:
    value = body.pop("n", None)
    if value is None or value == "" or (not isinstance(value, bool) and str(value).strip() == "1"):
        return
    raise InvalidRequest(
        f"Invalid value for 'n': {value!r}. Allowed: 1 (one video per request; send several "
        "requests for several videos).",
        param="n",
        code="invalid_value",
    )


def _response_format(body: dict[str, Any]) -> None:
    value = body.pop("response_format", None)
    if value is None or value == "" or value == "url":
        return
    raise InvalidRequest(
        f"Invalid value for 'response_format': {value!r}. Allowed: url (the response's 'url' "
        "is the gateway's content URL once the video is ready).",
        param="response_format",
        code="invalid_value",
    )


def _image(out: Canonical) -> None:
    value = out.body.pop("image", None)
    if value is None or value == "":
        return
    if out.body.get("input_reference") not in (None, ""):
        raise InvalidRequest("Give either 'image' or 'input_reference', not both.", param="image")
    out.body["input_reference"] = image_ref(value, "image")
    out.names["input_reference"] = "image"


def _images(out: Canonical) -> None:
    value = out.body.get("images")
    if isinstance(value, dict) and value and all(_index(k) for k in value):
        value = [value[k] for k in sorted(value, key=int)]  # multipart images[0], images[1]
    if value is None or value == "":
        return
    if not isinstance(value, list):
        value = [value]
    out.body["images"] = [image_ref(item, f"images[{i}]") for i, item in enumerate(value)]


def _index(key: str) -> bool:
    """A multipart list index (``images[0]``): ASCII digits, not ``²`` or 5,000 of them."""
    return key.isascii() and key.isdigit() and len(key) < 4


def _content(out: Canonical) -> None:
    """Seedance's ``content``: one ``text`` item (the prompt) and ``image_url`` items, each
    with an optional ``role`` (``first_frame``, ``last_frame``, ``reference_image``)."""
    items = out.body.pop("content", None)
    if items is None or items == "":
        return
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidRequest(
            "'content' must be a list of {type: text | image_url, ...} items.",
            param="content",
            code="invalid_type",
        )
    texts = [item for item in items if item.get("type") == "text"]
    images = [item for item in items if item.get("type") == "image_url"]
    other = [item.get("type") for item in items if item.get("type") not in ("text", "image_url")]
    if other:
        raise InvalidRequest(
            f"Unsupported 'content' item type {other[0]!r}. Allowed: text, image_url.",
            param="content",
            code="invalid_value",
        )
    _content_text(out.body, texts)
    if texts:  # errors about the prompt (moderation's too) name what the client sent
        out.names["prompt"] = "content"
    for item in images:
        _content_image(out, item, f"content[{items.index(item)}]")


def _content_text(body: dict[str, Any], texts: list[dict[str, Any]]) -> None:
    if len(texts) > 1:
        raise InvalidRequest("'content' may hold one text item.", param="content")
    if not texts:
        return
    if body.get("prompt") not in (None, ""):
        raise InvalidRequest(
            "Give the prompt either in 'prompt' or as a 'content' text item, not both.",
            param="content",
        )
    body["prompt"] = texts[0].get("text")


def _content_image(out: Canonical, item: dict[str, Any], param: str) -> None:
    role = item.get("role")
    ref = image_ref(item.get("image_url"), f"{param}.image_url")
    if role is None:
        out.body.setdefault("images", []).append(ref)
        out.names["images"] = "content"
        return
    target = CONTENT_ROLES.get(role)
    if target is None:
        raise InvalidRequest(
            f"Invalid value for '{param}.role': {role!r}. Allowed: "
            f"{', '.join(CONTENT_ROLES)} (or no role: chosen by the model).",
            param=f"{param}.role",
            code="invalid_value",
        )
    if target == "input_reference":
        out.body["input_reference"] = ref
        out.names["input_reference"] = "content"
        return
    metadata = _metadata(out.body)
    if target == "last_frame":
        metadata["last_frame"] = ref
    else:
        metadata.setdefault("reference_images", []).append(ref)
    out.names[f"metadata.{target}"] = "content"


def _mode(out: Canonical) -> None:
    mode = out.body.pop("mode", None)
    if mode is None or mode == "":
        return
    metadata = _metadata(out.body)
    if metadata.get("mode", mode) != mode:
        raise InvalidRequest("'mode' and 'metadata.mode' differ; give one.", param="mode")
    metadata["mode"] = mode
    out.names["metadata.mode"] = "mode"


def _parameters(out: Canonical) -> None:
    """Provider parameters: checked against the model's options like ``metadata``."""
    body = out.body
    parameters = as_object(body.pop("parameters", None), "parameters")
    if not parameters:
        return
    if parameters.get("model") not in (None, "", body.get("model")):
        raise InvalidRequest(
            "'parameters.model' differs from 'model'; the model is chosen by 'model' alone, "
            "so the model billed is the model used.",
            param="parameters.model",
            code="invalid_value",
        )
    parameters.pop("model", None)
    metadata = _metadata(body)
    for key, value in parameters.items():
        if metadata.get(key, value) != value:
            raise InvalidRequest(
                f"'parameters.{key}' and 'metadata.{key}' differ; give one.",
                param=f"parameters.{key}",
            )
        metadata[key] = value
        out.names[f"metadata.{key}"] = f"parameters.{key}"


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    """``body['metadata']`` as a dict (it may have arrived as a JSON string)."""
    metadata = as_object(body.get("metadata"), "metadata")
    body["metadata"] = metadata
    return metadata
