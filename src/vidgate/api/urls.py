"""The gateway's own absolute URL, for links in responses (a video's ``url``).

``settings.public_url`` wins (behind a proxy the request's ``Host`` is not what clients
use); otherwise the URL the request was made to. Read straight from the ASGI scope so the
retrieve fast path can use it without building a ``Request``.
"""

from __future__ import annotations

from starlette.types import Scope


def base_url(scope: Scope) -> str:
    """``scheme://host[:port][/prefix]`` without a trailing slash."""
    configured = scope["app"].state.settings.config.settings.public_url
    if configured:
        return str(configured).rstrip("/")
    host = _host(scope)
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}".rstrip("/")


def _host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            return str(value.decode("latin-1"))
    server = scope.get("server")
    if server:
        return f"{server[0]}:{server[1]}"
    return "localhost"
