"""Every error leaves the gateway here, as the OpenAI envelope with the right status.

Framework errors are converted too: request validation is a 400 (never FastAPI's 422), an
unknown route a 404, a wrong method a 405, and anything unexpected a 500 whose message
reveals nothing internal.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from vidgate.errors import GatewayError, InvalidRequest
from vidgate.observe.requests import note

log = logging.getLogger("vidgate.api")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


class _AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: a message quoting client text that no UTF-8 encoder takes
    (a lone surrogate) is still sent, as ``\\ud800``, instead of failing into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode()


def error_response(exc: GatewayError) -> JSONResponse:
    headers = dict(exc.headers)
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return _AsciiJSONResponse(exc.envelope(), status_code=exc.status, headers=headers)


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    note(request.scope, error_code=exc.code)
    return error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    param = ".".join(loc) or None
    return error_response(
        InvalidRequest(f"Invalid value for '{param}': {first.get('msg')}.", param=param)
    )


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = GatewayError(str(exc.detail), code=_HTTP_CODES.get(exc.status_code, "http_error"))
    error.status = exc.status_code
    error.type = "invalid_request_error" if exc.status_code < 500 else "server_error"
    return error_response(error)


async def _client_gone(_request: Request, _exc: Exception) -> Response:
    """The client left mid-request, or ``vidgate.server`` timed its body out: there is no one
    to answer (uvicorn drops the response), and it is no server error to log. 499 is the
    status request logs use for it (nginx's "client closed request")."""
    return Response(status_code=499)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(GatewayError("The server had an error processing your request."))


async def handled(request: Request, exc: Exception) -> Response:
    """The answer ``install``'s handlers give ``exc``, for code that runs below the framework
    (``api/createpath.py``) and must answer exactly as a route would."""
    for kind, handler in _HANDLERS:
        if isinstance(exc, kind):
            return await handler(request, exc)
    raise exc  # a BaseException that is no Exception: not ours to answer


_HANDLERS = (
    (GatewayError, _gateway_error),
    (RequestValidationError, _validation_error),
    (HTTPException, _http_error),
    (ClientDisconnect, _client_gone),
    (Exception, _unexpected),
)


def install(app: FastAPI) -> None:
    for kind, handler in _HANDLERS:
        app.add_exception_handler(kind, handler)
