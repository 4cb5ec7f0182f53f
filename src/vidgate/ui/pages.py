"""The console's pages: each a shell (layout, navigation, CSRF token) and its own script.

A page needs a live session; without one the browser goes to the sign-in page and back. The
pages marked ``admin`` are the master key's (as their API routes are): a virtual key does not
see them in the navigation and gets a 403 page. What a page shows comes from the API, called
by the page's script with the session cookie, so the API's isolation rules hold here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vidgate import __version__
from vidgate.accounting.keys import Principal
from vidgate.accounting.sessions import Session
from vidgate.errors import NotFound
from vidgate.ui.render import render, secure
from vidgate.ui.signin import HOME, signed_in

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Page:
    name: str
    title: str
    admin: bool = False
    nav: bool = True


PAGES = {
    page.name: page
    for page in (
        Page("jobs", "Jobs"),
        Page("playground", "Playground"),
        Page("compare", "Compare"),
        Page("spend", "Spend"),
        Page("deployments", "Deployments", admin=True),
        Page("keys", "Keys", admin=True),
        Page("webhooks", "Webhooks"),
        Page("requests", "Requests", admin=True),
        Page("job", "Job", nav=False),
    )
}


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.get("/")
async def root(request: Request) -> Response:
    """Browsers go to the console; API clients get the usual 404 envelope."""
    if wants_html(request):
        return RedirectResponse("/ui/", 307)
    raise NotFound("Not Found")


@router.get("/ui")
@router.get("/ui/")
async def home() -> Response:
    return secure(RedirectResponse(HOME, 303))


async def _shell(request: Request, page: Page, **context: object) -> Response:
    found = await signed_in(request)
    if found is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return secure(RedirectResponse(f"/ui/signin?next={quote(here)}", 303))
    caller, session = found
    if page.admin and not caller.is_admin:
        return _render(page, caller, session, {"forbidden": True}, 403)
    return _render(page, caller, session, context)


def _render(
    page: Page, caller: Principal, session: Session, context: dict[str, object], status: int = 200
) -> Response:
    nav = [p for p in PAGES.values() if p.nav and (caller.is_admin or not p.admin)]
    return render(
        "forbidden.html" if context.get("forbidden") else f"{page.name}.html",
        status,
        page=page,
        nav=nav,
        caller=caller,
        who="master key" if caller.is_admin else (caller.alias or caller.key_id),
        csrf=session.csrf,
        version=__version__,
        **context,
    )


@router.get("/ui/jobs/{video_id}")
async def job_page(video_id: str, request: Request) -> Response:
    return await _shell(request, PAGES["job"], video_id=video_id)


@router.get("/ui/{name}")
async def page(name: str, request: Request) -> Response:
    found = PAGES.get(name)
    if found is None or not found.nav:
        raise NotFound(f"No console page '{name}'. Pages: {', '.join(_names())}.")
    return await _shell(request, found)


def _names() -> list[str]:
    return [p.name for p in PAGES.values() if p.nav]
