"""``data:`` URIs of input images, decoded in one place.

Clients send images inline as ``data:<type>;base64,<payload>``; the API checks them before
a job exists, dispatch inlines them into upstream calls and the local renderer writes them to
disk. All three read them here, so a URI refused by one is refused by all, with one message
naming the field the client sent.
"""

from __future__ import annotations

import base64
import binascii

from vidgate.errors import InvalidRequest


def decode(uri: str, param: str) -> tuple[bytes, str]:
    """The bytes and content type of a base64 ``data:`` URI; 400 naming ``param`` if it is
    not one."""
    header, _, payload = uri.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        raise InvalidRequest(
            f"'{param}' must be a base64 data URI (data:image/png;base64,...).",
            param=param,
            code="invalid_image",
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            f"'{param}' is not valid base64.", param=param, code="invalid_image"
        ) from None
    return data, header[5:].split(";")[0] or "application/octet-stream"
