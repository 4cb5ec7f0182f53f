"""Bearer token → ``Principal``. ``x-api-key`` is accepted too, as some clients send it."""

from __future__ import annotations

from fastapi import Request

from vidgate.accounting.keys import KeyStore, Principal
from vidgate.errors import AuthenticationFailed, PermissionDenied
from vidgate.observe.requests import note


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    raise AuthenticationFailed(
        "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
        code="missing_api_key",
    )


async def principal(request: Request) -> Principal:
    """The authenticated caller (a FastAPI dependency)."""
    keys: KeyStore = request.app.state.keys
    caller = await keys.authenticate(bearer(request))
    note(request.scope, key_id=caller.key_id)
    return caller


async def admin(request: Request) -> Principal:
    """The caller, who must hold the master key."""
    caller = await principal(request)
    if not caller.is_admin:
        raise PermissionDenied("This route needs the master key.", code="admin_only")
    return caller
