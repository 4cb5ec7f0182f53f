"""``/docs``: Swagger UI for ``/openapi.json``, from files inside this package.

Why not FastAPI's own page: it loads Swagger UI's script and stylesheet from a CDN, so on a
gateway without internet access (where a self-hosted gateway often runs) ``/docs`` is blank,
and every visit tells the CDN who reads the API. So ``create_app`` turns FastAPI's pages off
(``docs_url=None, redoc_url=None``) and ``install`` adds these routes instead: the page, and
``/docs/static/`` with ``swagger-ui-dist``'s bundle and stylesheet (``docs_assets/``; its
README says which version, from where, and how to upgrade) and ``init.js``, our few lines
that start Swagger UI — a file, not an inline ``<script>``, because the page is sent with a
Content-Security-Policy that allows scripts only from this origin. The page loads nothing
from anywhere else: no fonts, and no validator badge (``validatorUrl: null``).

ReDoc (``/redoc``) is dropped rather than vendored too: one API page is enough, and Swagger UI
can also send requests.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS = Path(str(files("vidgate.api") / "docs_assets"))
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vidgate API</title>
<link rel="stylesheet" href="{static}/swagger-ui.css">
<link rel="icon" type="image/png" href="{static}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{static}/init.js"></script>
</body>
</html>
"""


class _Assets(StaticFiles):
    """``/docs/static``: Swagger UI's files and ``init.js``, from the installed package."""

    def __init__(self) -> None:
        super().__init__(directory=ASSETS)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["cache-control"] = "no-cache"
        return response


async def docs_page(request: Request) -> HTMLResponse:
    static = escape(f"{request.scope.get('root_path', '')}/docs/static", quote=True)
    return HTMLResponse(_PAGE.format(static=static), headers=HEADERS)


def install(app: FastAPI) -> None:
    """Serve ``/docs`` and its files (``app`` is built with ``docs_url=None``)."""
    app.add_api_route("/docs", docs_page, methods=["GET"], include_in_schema=False)
    app.mount("/docs/static", _Assets(), name="docs-static")
