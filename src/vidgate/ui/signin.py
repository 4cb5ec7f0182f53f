"""Signing in and out of the console, and the sessions behind its pages.

Sign-in takes the key from a form posted to the gateway itself (never from a URL), checks it
as the API would, and sets the session cookie. A sign-in posted from another site is refused
(its ``Origin`` differs), so no page elsewhere can sign a browser in under someone else's key.
Sign-out is a form carrying the session's CSRF token; it deletes the session everywhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vidgate.accounting.keys import KeyStore, Principal, hash_key
from vidgate.accounting.sessions import COOKIE, Session, SessionStore
from vidgate.api.auth import session as find_session
from vidgate.errors import AuthenticationFailed
from vidgate.ui.render import is_https, render, secure

router = APIRouter(include_in_schema=False)
HOME = "/ui/jobs"
_KEY_MAX = 500


def _sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path only, never another site."""
    if not value or not value.startswith("/ui/") or value.startswith("//") or "\\" in value:
        return HOME
    parts = urlsplit(value)
    return HOME if parts.scheme or parts.netloc else value


def same_origin(request: Request) -> bool:
    """False when the browser says the form came from another origin.

    A browser that sends ``Sec-Fetch-Site`` says it outright. Otherwise ``Origin`` must be
    the gateway's: its ``public_url``, or the scheme and host the request arrived with (which
    a proxy may have changed; set ``public_url`` then). ``Origin: null`` (a sandboxed frame, a
    redirect from elsewhere) is refused; no ``Origin`` at all is a client that is no browser."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin in _own_origins(request)


def _own_origins(request: Request) -> set[str]:
    own = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
    public = request.app.state.settings.config.settings.public_url
    if public:
        parts = urlsplit(public)
        own.add(f"{parts.scheme}://{parts.netloc}")
    return own


async def signed_in(request: Request) -> tuple[Principal, Session] | None:
    """The session's key and the session, or ``None`` if the cookie names no live one (its
    key revoked or expired, or signed out)."""
    found = await find_session(request)
    if found is None:
        return None
    keys: KeyStore = request.app.state.keys
    try:
        return await keys.authenticate_hash(found.key_hash), found
    except AuthenticationFailed:
        return None


@router.get("/ui/signin")
async def signin_page(request: Request) -> Response:
    if await signed_in(request) is not None:
        return secure(RedirectResponse(safe_next(request.query_params.get("next")), 303))
    return render("signin.html", next=safe_next(request.query_params.get("next")))


@router.post("/ui/signin")
async def signin(request: Request) -> Response:
    form = await request.form()
    key, goto = str(form.get("key") or "").strip(), safe_next(str(form.get("next") or ""))
    if not same_origin(request):
        return render("signin.html", 403, next=goto, error="Sign in from this gateway's own page.")
    if not key or len(key) > _KEY_MAX:
        return render("signin.html", 400, next=goto, error="Enter an API key.")
    keys: KeyStore = request.app.state.keys
    try:
        await keys.authenticate(key)
    except AuthenticationFailed as exc:
        return render("signin.html", 401, next=goto, error=exc.message)
    old = request.cookies.get(COOKIE)
    if old:  # signing in again: the session the browser had ends, not just its cookie
        await _sessions(request).end(old)
    token, _ = await _sessions(request).start(hash_key(key))
    response = RedirectResponse(goto, 303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(_sessions(request).ttl_s),
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="strict",
    )
    return secure(response)


@router.post("/ui/signout")
async def signout(request: Request) -> Response:
    form = await request.form()
    found = await find_session(request)
    token = request.cookies.get(COOKIE)
    if found is not None and token and found.csrf_matches(str(form.get("csrf") or "")):
        await _sessions(request).end(token)
    elif found is not None:
        return render("signin.html", 403, next=HOME, error="Sign-out needs the page's token.")
    response = RedirectResponse("/ui/signin", 303)
    response.delete_cookie(
        COOKIE, path="/", secure=is_https(request), httponly=True, samesite="strict"
    )
    return secure(response)
