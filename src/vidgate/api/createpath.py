"""``POST /v1/videos`` (and ``/videos``) handed to the create route's own code below the
framework.

Every job starts here, so the framework's share of a create is paid per job: FastAPI's
routing, dependency resolution and its exception and exit-stack middleware were ~0.3-0.45 ms
of the ~3 ms of gateway CPU a create cost (py-spy, c=1, against the OpenAI simulator). This
middleware calls what the framework would — ``principal`` for the caller, then the route's
function itself — with a Starlette ``Request`` on the same scope, and answers errors with
the handlers the app installs (``api/errors.handled``), so a create answers byte for byte
as the route does. It sits inside ``BodyLimit`` (the body limit holds while streaming) and
under the request observer (request id, log row, metrics, overhead header). The route stays
for the OpenAPI description and for anything this does not take: other methods and paths.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from vidgate.api.auth import principal
from vidgate.api.errors import handled
from vidgate.api.fastpath import RouteTemplate
from vidgate.api.videos import create_video

PATHS = frozenset({"/v1/videos", "/videos"})


_ROUTE = RouteTemplate("/videos")  # the observer adds the /v1 prefix it was mounted under


class CreateFastPath:
    """ASGI middleware: a create runs the route's code without the framework around it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in PATHS:
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        request = Request(scope, receive)
        try:
            response = await create_video(request, await principal(request))
        except Exception as exc:
            response = await handled(request, exc)
        await response(scope, receive, send)
