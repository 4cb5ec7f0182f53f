"""Wire of the Azure OpenAI video simulator: auth, error bodies, request bodies.

Azure answers in two error shapes. The resource front door (auth, quota, routing) sends
``{"error": {"code": "401", "message": ...}}`` with the status as a string code; the model
APIs send the OpenAI envelope ``{"error": {"message", "type", "param", "code"}}``, and the
legacy jobs API adds ``inner_error`` (``ResponsibleAIPolicyViolation`` for content-policy
refusals). This module knows nothing of vidgate's adapter or spec.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from vidgate.providers.simkit import Check

MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key "
    "when making requests to an API."
)
INVALID_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API endpoint "
    "for your resource."
)
INVALID_TOKEN = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)
_DATED_PREVIEW = re.compile(r"\d{4}-\d{2}-\d{2}-preview")


class AzureError(Exception):
    """An error reply; ``body`` is the whole JSON body, ``headers`` extra headers."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def front_door(status: int, code: str, message: str, **headers: str) -> AzureError:
    """An error of the resource front door: ``{"error": {"code", "message"}}``."""
    return AzureError(status, {"error": {"code": code, "message": message}}, headers)


def invalid(
    message: str,
    param: str | None = None,
    code: str | None = None,
    status: int = 400,
    inner: dict[str, Any] | None = None,
) -> AzureError:
    """An OpenAI-envelope error from the model APIs (``inner_error`` on the jobs API)."""
    error: dict[str, Any] = {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }
    if inner is not None:
        error["inner_error"] = inner
    return AzureError(status, {"error": error})


def rate_limited(operation: str, version: str) -> AzureError:
    return front_door(
        429,
        "429",
        f"Requests to the {operation} Operation under Azure OpenAI API version {version} have "
        "exceeded call rate limit of your current AIServices S0 pricing tier. Please retry "
        "after 1 second.",
        **{
            "Retry-After": "1",
            "retry-after-ms": "1000",
            "x-ratelimit-limit-requests": "2",
            "x-ratelimit-remaining-requests": "0",
        },
    )


def server_error() -> AzureError:
    return AzureError(
        500,
        {
            "error": {
                "message": "The server had an error while processing your request.",
                "type": "server_error",
                "param": None,
                "code": "InternalServerError",
            }
        },
    )


def not_found(message: str = "Resource not found") -> AzureError:
    return front_door(404, "404", message)


def deployment_not_found() -> AzureError:
    return front_door(
        404,
        "DeploymentNotFound",
        "The API deployment for this resource does not exist. If you created the deployment "
        "within the last 5 minutes, please wait a moment and try again.",
    )


def error_response(exc: AzureError) -> Response:
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


def api_version(request: Request, *, required: bool) -> str:
    """The ``api-version`` query; the jobs API requires one, v1 only tolerates ``preview``."""
    version = request.query_params.get("api-version")
    if version is None:
        if required:
            raise front_door(
                400,
                "BadRequest",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        return "v1"
    allowed = version in ("preview", "latest") or (
        required and _DATED_PREVIEW.fullmatch(version) is not None
    )
    if not allowed:
        raise front_door(400, "BadRequest", "API version not supported")
    return version


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart body, read whole (simulator inputs are small)."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Body:
    """A request body: JSON or multipart fields, and multipart files by field name."""

    fields: dict[str, Any]
    files: dict[str, list[Upload]] = field(default_factory=dict)


async def read_body(request: Request) -> Body:
    """JSON or multipart; bracketed multipart names (``input_reference[image_url]``) nest."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        fields: dict[str, Any] = {}
        files: dict[str, list[Upload]] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                upload = Upload(value.filename or "upload", value.content_type or "", data)
                files.setdefault(name, []).append(upload)
            elif "[" in name and name.endswith("]"):
                outer, inner = name[:-1].split("[", 1)
                fields.setdefault(outer, {})[inner] = value
            else:
                fields[name] = value
        return Body(fields, files)
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except json.JSONDecodeError as exc:
        raise invalid(f"We could not parse the JSON body of your request. ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.")
    return Body(data)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an image, ``None`` if it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # any undecodable upload is just "not an image"
        return None


def front_door_headers(_request: Request) -> dict[str, str]:
    """The ``apim-request-id`` headers Azure's front door puts on every ``/openai`` answer."""
    request_id = str(uuid.uuid4())
    return {
        "apim-request-id": request_id,
        "x-request-id": request_id,
        "x-ms-region": "Sweden Central",
    }


def front_door_check(
    api_key: Callable[[], str | None],
    entra_token: Callable[[], str | None],
    seen: list[dict[str, Any]],
) -> Check:
    """``api-key`` (or Entra bearer) auth on ``/openai``; ``seen`` records the auth headers of
    every call, for tests to inspect."""

    def check(request: Request) -> Response | None:
        headers = request.headers
        seen.append(
            {
                "method": request.method,
                "path": request.scope["path"],
                "api-key": headers.get("api-key"),
                "authorization": headers.get("authorization"),
            }
        )
        key = api_key()
        if key is None:
            return None
        if "api-key" in headers:
            problem = None if headers["api-key"] == key else front_door(401, "401", INVALID_KEY)
        elif bearer := headers.get("authorization", ""):
            token = entra_token()
            ok = token is not None and bearer == f"Bearer {token}"
            problem = None if ok else front_door(401, "401", INVALID_TOKEN)
        else:
            problem = front_door(401, "401", MISSING_KEY)
        return None if problem is None else error_response(problem)

    return check
