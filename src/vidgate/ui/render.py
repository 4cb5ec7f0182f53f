"""Rendering console pages: the Jinja2 environment and the headers every page carries."""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

if TYPE_CHECKING:
    from jinja2 import Environment

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


@functools.cache
def _environment() -> Environment:
    """Made at the first page: a gateway whose console is never opened never loads Jinja2
    (~0.8 MiB resident)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("vidgate.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The template ``name`` with ``context`` (escaped), sent with the security headers."""
    html = _environment().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def is_https(request: Request) -> bool:
    """Whether the browser reached the console over HTTPS: the request's scheme (uvicorn
    applies a trusted proxy's ``X-Forwarded-Proto``), or an ``https`` ``public_url``."""
    public = request.app.state.settings.config.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


class StaticAssets(StaticFiles):
    """``/ui/static``: the console's CSS and scripts, from the installed package."""

    def __init__(self) -> None:
        super().__init__(directory=Path(str(files("vidgate.ui") / "static")))

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["cache-control"] = "no-cache"
        return response
