"""The canonical request: parsed from any surface (``parse``), resolved against a model's
capabilities once per candidate deployment (``resolve``), kept on the job row
(``serialise``). The names below are the package's public face."""

from vidgate.request.parse import (
    Upload,
    VideoRequest,
    as_object,
    parse_request,
    unflatten,
    upload_folder,
)
from vidgate.request.resolve import resolve
from vidgate.request.serialise import (
    resolved_from_json,
    resolved_to_json,
    resolved_upload_keys,
)

__all__ = [
    "Upload",
    "VideoRequest",
    "as_object",
    "parse_request",
    "resolve",
    "resolved_from_json",
    "resolved_to_json",
    "resolved_upload_keys",
    "unflatten",
    "upload_folder",
]
