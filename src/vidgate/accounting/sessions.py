"""Console sign-in sessions: a random cookie token standing for a key, never the key itself.

The browser holds only ``vidgate_session``, an unguessable token; the store keeps its SHA-256
and the signed-in key's SHA-256 (as ``api_keys`` does), so neither the token nor the key can be
read back from the database. Each request re-authenticates the key by its hash, so revoking a
virtual key, or starting with another master key, ends its sessions at once. Sessions live in
the database rather than a signed cookie so that sign-out ends a session everywhere, on every
replica, and a copied cookie is worthless after it.

Each session has its own CSRF token: a state-changing request made with the cookie must echo it
(the ``x-csrf-token`` header, or a form's ``csrf`` field), which a page on another site cannot
read. ``SameSite=Strict`` on the cookie is the second line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, insert

from vidgate.db.engine import Database
from vidgate.db.tables import ui_sessions

COOKIE = "vidgate_session"
SESSION_TTL_S = 12 * 3600
_TOKEN_BYTES = 32


@dataclass(frozen=True)
class Session:
    key_hash: str
    csrf: str
    expires_at: float

    def csrf_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, db: Database, ttl_s: float = SESSION_TTL_S) -> None:
        self.db = db
        self.ttl_s = ttl_s

    async def start(self, key_hash: str) -> tuple[str, Session]:
        """A new session for the key hashing to ``key_hash``: the cookie token and the session."""
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        now = time.time()
        session = Session(key_hash, secrets.token_urlsafe(_TOKEN_BYTES), now + self.ttl_s)
        row = {
            "token_hash": _digest(token),
            "key_hash": key_hash,
            "csrf": session.csrf,
            "created_at": now,
            "expires_at": session.expires_at,
        }
        await self.db.write(
            lambda conn: (
                conn.execute(delete(ui_sessions).where(ui_sessions.c.expires_at <= now)),
                conn.execute(insert(ui_sessions).values(**row)),
            )
        )
        return token, session

    async def find(self, token: str) -> Session | None:
        """The live session behind a cookie token, or ``None``."""
        if not token or len(token) > 200:
            return None
        row = await self.db.read_row(ui_sessions, "token_hash", _digest(token))
        if row is None or row["expires_at"] <= time.time():
            return None
        return Session(row["key_hash"], row["csrf"], row["expires_at"])

    async def end(self, token: str) -> None:
        query = delete(ui_sessions).where(ui_sessions.c.token_hash == _digest(token))
        await self.db.write(lambda conn: conn.execute(query))
