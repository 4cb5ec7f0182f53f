"""One error tree for the whole gateway.

Every failure a client can see is a ``GatewayError`` carrying its HTTP status, the OpenAI
error ``type`` and ``code``, the offending ``param`` and whether a router may retry it on
another deployment. ``api/errors.py`` turns it into the OpenAI envelope in one place::

    GatewayError (500 server_error)
    ├── InvalidRequest (400 invalid_request_error)
    │   └── UnsupportedOperation (400, code unsupported_operation)
    ├── AuthenticationFailed (401, code invalid_api_key)
    ├── PermissionDenied (403, code permission_denied)
    ├── NotFound (404, code not_found)
    │   └── ContentExpired (404, code content_expired)
    ├── RequestTimeout (408, code request_timeout)
    ├── Conflict (409, code conflict)
    ├── PayloadTooLarge (413, code payload_too_large)
    ├── UnsupportedMediaType (415, code unsupported_media_type)
    ├── RangeNotSatisfiable (416, code range_not_satisfiable)
    ├── RateLimited (429, code rate_limit_exceeded)        retryable
    ├── InsufficientQuota (429, code insufficient_quota)
    ├── UpstreamError (502, code upstream_error)            retryable
    │   └── UpstreamAuthError (502, code upstream_auth_error)
    ├── ServiceUnavailable (503, code service_unavailable)  retryable
    └── UpstreamTimeout (504, code upstream_timeout)        retryable

Messages never contain secrets or upstream URLs: they are written for the client. Adapters
scrub what they pass on from upstreams, and ``client_text`` is the last line for every
message that leaves the gateway or is stored (errors here — so attempts and the health
board too — and failed jobs in ``jobs/lifecycle.py``): it strips URLs and runs the
process's one secret redaction (``redact.py``).
"""

from __future__ import annotations

import re

from vidgate.redact import REDACTOR

_URL = re.compile(r"\b[a-z][a-z0-9+.-]{0,15}://[^\s'\"<>]+|\bdata:[^\s,]*,\S+", re.I)
"""Any ``scheme://`` URI (http, gs, s3, oss, ws, asset, runway …) and any ``data:`` URI."""


MAX_TEXT = 4000
"""Longest client text: a message quoting a 1 MB value keeps its start and its end."""


def client_text(message: str, limit: int = MAX_TEXT) -> str:
    """``message`` without URLs or data URIs (they may carry hosts, tokens or signatures)
    and without the secrets the gateway knows or anything shaped like one; cut in the middle
    to ``limit`` characters (after redaction, so no secret is left half-cut)."""
    text = REDACTOR(_URL.sub("<url>", message))
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    return f"{text[:keep]} ... {text[-keep:]}"


class GatewayError(Exception):
    """Base of every client-visible error; an internal failure if raised as is."""

    status = 500
    type = "server_error"
    code = "internal_error"
    retryable = False
    outcome_unknown = False
    """The request reached the upstream but no answer came back: it may have acted on it."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        message = client_text(message)
        super().__init__(message)
        self.message = message
        self.param = None if param is None else client_text(param, 200)  # may be upstream's
        if code is not None:
            self.code = REDACTOR(code)
        self.retry_after_s = retry_after_s
        self.headers = headers or {}
        """Extra response headers (rate-limit state)."""

    def envelope(self) -> dict[str, dict[str, str | None]]:
        """The OpenAI error envelope for this error."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(GatewayError):
    """The request is malformed or asks for something the model cannot do."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class UnsupportedOperation(InvalidRequest):
    """The model exists but cannot remix, edit or extend."""

    code = "unsupported_operation"


class AuthenticationFailed(GatewayError):
    """Missing, unknown, revoked or expired API key."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    """The key is valid but may not do this (admin route, model not allowed)."""

    status = 403
    type = "invalid_request_error"
    code = "permission_denied"


class NotFound(GatewayError):
    """Unknown id, or an id that belongs to another key."""

    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ContentExpired(NotFound):
    """The upstream no longer serves a finished job's result (403/404/410 on download)."""

    code = "content_expired"


class RequestTimeout(GatewayError):
    """The client did not send its request headers or body in time (``vidgate.server``)."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class Conflict(GatewayError):
    """The request conflicts with current state (idempotency key reused, job not ready)."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"


class PayloadTooLarge(GatewayError):
    """An upload is over the configured limit."""

    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class UnsupportedMediaType(GatewayError):
    """A body or upload in a format the route does not take."""

    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class RangeNotSatisfiable(GatewayError):
    """A ``Range`` that starts past the end of the content (``headers`` say its size)."""

    status = 416
    type = "invalid_request_error"
    code = "range_not_satisfiable"


class RateLimited(GatewayError):
    """Too many requests, here or upstream; ``retry_after_s`` says when to come back."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"
    retryable = True


class InsufficientQuota(GatewayError):
    """The key (or its team or user) has no budget left for this request (OpenAI's code)."""

    status = 429
    type = "insufficient_quota"
    code = "insufficient_quota"


class UpstreamError(GatewayError):
    """The upstream provider failed (5xx, malformed answer, connection error)."""

    status = 502
    type = "server_error"
    code = "upstream_error"
    retryable = True


class TaskFailed(UpstreamError):
    """The upstream says the task failed, in a reply an adapter can only read as an error
    (fal answers a finished run's refused result with 422): the poller ends the job at once
    with this code and message, uncharged, instead of counting a failed poll."""

    code = "upstream_failed"
    retryable = False


class UpstreamAuthError(UpstreamError):
    """The upstream rejected the deployment's credentials; an operator must fix config."""

    code = "upstream_auth_error"
    retryable = False


class ServiceUnavailable(GatewayError):
    """The gateway cannot serve the request right now (shutting down, no deployment)."""

    status = 503
    type = "server_error"
    code = "service_unavailable"
    retryable = True


class UpstreamTimeout(GatewayError):
    """The upstream did not answer in time."""

    status = 504
    type = "server_error"
    code = "upstream_timeout"
    retryable = True
