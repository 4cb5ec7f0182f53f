"""Bearer token → ``Principal``. ``x-api-key`` is accepted too, as some clients send it.

A request without either may carry the console's session cookie instead (``/ui`` signs in with
a key and keeps only a session token in the browser, see ``accounting/sessions.py``): the
console's pages call this same API, so a key holder sees through it exactly what the API shows
them. A cookie-authenticated request that changes something (any method but GET, HEAD and
OPTIONS) must also send the session's CSRF token in ``x-csrf-token``.
"""

from __future__ import annotations

from fastapi import Request

from vidgate.accounting.keys import KeyStore, Principal
from vidgate.accounting.sessions import COOKIE, Session, SessionStore
from vidgate.errors import AuthenticationFailed, PermissionDenied
from vidgate.observe.requests import note

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    return None


def _missing() -> AuthenticationFailed:
    return AuthenticationFailed(
        "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
        code="missing_api_key",
    )


async def session(request: Request) -> Session | None:
    """The console session named by the request's cookie, if it is live."""
    token = request.cookies.get(COOKIE)
    sessions: SessionStore | None = getattr(request.app.state, "sessions", None)
    if not token or sessions is None:
        return None
    return await sessions.find(token)


async def principal(request: Request) -> Principal:
    """The authenticated caller (a FastAPI dependency)."""
    keys: KeyStore = request.app.state.keys
    token = bearer(request)
    if token is not None:
        caller = await keys.authenticate(token)
    else:
        caller = await _from_session(request, keys)
    note(request.scope, key_id=caller.key_id)
    return caller


async def _from_session(request: Request, keys: KeyStore) -> Principal:
    found = await session(request)
    if found is None:
        raise _missing()
    request.scope.setdefault("state", {})["private"] = True  # no cache keeps these replies
    if request.method not in SAFE_METHODS and not found.csrf_matches(
        request.headers.get(CSRF_HEADER)
    ):
        raise PermissionDenied(
            "A request made with the console's session cookie must send its CSRF token "
            f"in the '{CSRF_HEADER}' header.",
            code="csrf_failed",
        )
    return await keys.authenticate_hash(found.key_hash)


async def admin(request: Request) -> Principal:
    """The caller, who must hold the master key."""
    caller = await principal(request)
    if not caller.is_admin:
        raise PermissionDenied("This route needs the master key.", code="admin_only")
    return caller
