"""Virtual API keys: generated once, stored only as SHA-256 hashes, checked in constant time.

Lookups are by hash (an index probe), and authenticated keys are cached in process for a
short TTL so a hot retrieve path costs no database round trip; revocation through this
process invalidates its cache at once, other replicas sharing Redis at once too (the change
is announced), and any other process within ``CACHE_TTL_S``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql import Select

from vidgate.accounting.end_users import Limits
from vidgate.db.engine import Database
from vidgate.db.tables import api_keys, budgets
from vidgate.errors import AuthenticationFailed, InvalidRequest, NotFound

CACHE_TTL_S = 1.0
MASTER_ID = "master"
_DURATION = re.compile(r"^(\d{1,12})([smhd])$")
MAX_KEY_LIFETIME_S = 100 * 366 * 86400
MAX_UNIX_TIME = 253_402_300_799
"""9999-12-31T23:59:59Z: the last time every date library can show."""
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a virtual key, or the master key (admin)."""

    key_id: str
    is_admin: bool = False
    models: frozenset[str] | None = None
    alias: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    rpm_limit: int | None = None
    max_parallel_jobs: int | None = None
    drop_params: bool | None = None
    """Drop fields a model does not take instead of refusing them; ``None``: the gateway's
    setting (a request's own ``drop_params`` wins over both)."""
    end_user_limits: Limits = field(default_factory=Limits)
    """Defaults for every end user (``user``) of this key (``accounting/end_users.py``)."""

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models

    @property
    def budget_ids(self) -> list[str]:
        """The budget rows this caller's jobs are held against (none for the master key)."""
        if self.is_admin:
            return []
        ids = [f"key:{self.key_id}"]
        if self.team_id:
            ids.append(f"team:{self.team_id}")
        if self.user_id:
            ids.append(f"user:{self.user_id}")
        return ids


@dataclass(frozen=True)
class KeyRecord:
    """A stored key, without its secret."""

    id: str
    key_hash: str
    key_hint: str
    alias: str | None
    models: list[str] | None
    metadata: dict[str, Any]
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    team_id: str | None = None
    user_id: str | None = None
    rpm_limit: int | None = None
    max_parallel_jobs: int | None = None
    drop_params: int | None = None
    end_user_limits: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> KeyRecord:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def principal(self) -> Principal:
        models = None if self.models is None else frozenset(self.models)
        return Principal(
            self.id,
            False,
            models,
            self.alias,
            self.team_id,
            self.user_id,
            self.rpm_limit,
            self.max_parallel_jobs,
            drop_params=None if self.drop_params is None else bool(self.drop_params),
            end_user_limits=Limits.from_json(self.end_user_limits),
        )

    def public(self) -> dict[str, Any]:
        """The key as admin endpoints show it (never the secret or its hash)."""
        return {
            "key_id": self.id,
            "key_alias": self.alias,
            "key_hint": self.key_hint,
            "models": self.models or [],
            "metadata": self.metadata,
            "created_at": int(self.created_at),
            "expires": None if self.expires_at is None else int(self.expires_at),
            "revoked": self.revoked_at is not None,
            "team_id": self.team_id,
            "user_id": self.user_id,
            "rpm_limit": self.rpm_limit,
            "max_parallel_requests": self.max_parallel_jobs,
            "drop_params": None if self.drop_params is None else bool(self.drop_params),
            "end_user_limits": Limits.from_json(self.end_user_limits).public(),
        }


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_expiry(duration: Any, expires: Any, now: float) -> float | None:
    """``duration`` like ``30d`` / ``12h`` or ``expires`` as Unix seconds → expiry time."""
    if duration not in (None, ""):
        match = _DURATION.match(str(duration))
        if not match or int(match.group(1)) * _UNITS[match.group(2)] > MAX_KEY_LIFETIME_S:
            raise InvalidRequest(
                "Invalid 'duration': use a number and a unit s, m, h or d, e.g. '30d' "
                "(at most 100 years).",
                param="duration",
            )
        return now + int(match.group(1)) * _UNITS[match.group(2)]
    if expires not in (None, ""):
        if (
            isinstance(expires, bool)
            or not isinstance(expires, int | float)
            or not 0 <= expires <= MAX_UNIX_TIME
        ):
            raise InvalidRequest(
                f"Invalid value for 'expires': Unix seconds between 0 and {MAX_UNIX_TIME}.",
                param="expires",
            )
        return float(expires)
    return None


class KeyStore:
    """Generates, authenticates and administers virtual keys."""

    def __init__(self, db: Database, master_key: str) -> None:
        self.db = db
        self._master_hash = hash_key(master_key)
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}
        self.on_change: list[Callable[[str], None]] = []
        """Called with a key's hash after it changed (replicas drop it from their caches)."""

    async def authenticate(self, token: str) -> Principal:
        return await self.authenticate_hash(hash_key(token))

    async def authenticate_hash(self, digest: str) -> Principal:
        """The caller whose key hashes to ``digest`` (a console session keeps only the hash)."""
        if hmac.compare_digest(digest, self._master_hash):
            return Principal(MASTER_ID, is_admin=True)
        return _valid(await self._lookup(digest), digest)

    def cached_principal(self, token: str) -> Principal | None:
        """The caller from memory alone; ``None`` (ask ``authenticate``) unless a fresh, valid
        record is cached."""
        digest = hash_key(token)
        if hmac.compare_digest(digest, self._master_hash):
            return Principal(MASTER_ID, is_admin=True)
        cached = self._cache.get(digest)
        if cached is None or time.monotonic() - cached[0] >= CACHE_TTL_S:
            return None
        try:
            return _valid(cached[1], digest)
        except AuthenticationFailed:
            return None

    async def _lookup(self, digest: str) -> KeyRecord | None:
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and now - cached[0] < CACHE_TTL_S:
            return cached[1]
        record = await self.db.read(_first(select(api_keys).where(api_keys.c.key_hash == digest)))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now, record)
        return record

    async def generate(
        self,
        *,
        alias: str | None,
        models: Sequence[str] | None,
        expires_at: float | None,
        metadata: Mapping[str, Any],
        limits: Mapping[str, Any] | None = None,
        budget: Mapping[str, Any] | None = None,
    ) -> tuple[str, KeyRecord]:
        """A new key; ``limits`` sets key columns (team_id, user_id, rpm_limit,
        max_parallel_jobs), ``budget`` its budget row (written in the same transaction)."""
        key = "sk-vg-" + secrets.token_urlsafe(32)
        values = {
            "id": "key_" + secrets.token_hex(8),
            "key_hash": hash_key(key),
            "key_hint": f"sk-vg-...{key[-4:]}",
            "alias": alias,
            "models": list(models) if models else None,
            "metadata": dict(metadata),
            "created_at": time.time(),
            "expires_at": expires_at,
            "revoked_at": None,
            **(limits or {}),
        }
        row = {**(budget or {}), "id": f"key:{values['id']}"}

        def run(conn: Connection) -> None:
            conn.execute(insert(api_keys).values(**values))
            conn.execute(insert(budgets).values(**row))

        await self.db.write(run)
        return key, KeyRecord(**values)

    async def find(self, ref: str) -> KeyRecord:
        """A key by raw value, id or alias; 404 if none."""
        query = select(api_keys).where(
            or_(
                api_keys.c.key_hash == hash_key(ref),
                api_keys.c.id == ref,
                api_keys.c.alias == ref,
            )
        )
        record = await self.db.read(_first(query))
        if record is None:
            raise NotFound("No such key.", param="key")
        return record

    async def list(self) -> list[KeyRecord]:
        query = select(api_keys).order_by(api_keys.c.created_at)
        return await self.db.read(
            lambda conn: [KeyRecord.from_row(row) for row in conn.execute(query).mappings()]
        )

    async def update(self, ref: str, values: Mapping[str, Any]) -> KeyRecord:
        record = await self.find(ref)
        if not values:  # only budget fields changed (an UPDATE without SET is no SQL)
            return record
        query = update(api_keys).where(api_keys.c.id == record.id).values(**values)
        await self.db.write(lambda conn: conn.execute(query))
        self.forget(record.key_hash)
        for callback in self.on_change:
            callback(record.key_hash)
        return await self.find(record.id)

    def forget(self, key_hash: str) -> None:
        """Drop a key from the cache (it changed here or on another replica)."""
        self._cache.pop(key_hash, None)

    async def revoke(self, ref: str) -> KeyRecord:
        return await self.update(ref, {"revoked_at": time.time()})


def _valid(record: KeyRecord | None, digest: str) -> Principal:
    if record is None or not hmac.compare_digest(record.key_hash, digest):
        raise AuthenticationFailed("Incorrect API key provided.")
    if record.revoked_at is not None:
        raise AuthenticationFailed("This API key has been revoked.")
    if record.expires_at is not None and record.expires_at <= time.time():
        raise AuthenticationFailed("This API key has expired.")
    return record.principal()


def _first(query: Select[Any]) -> Callable[[Connection], KeyRecord | None]:
    def run(conn: Connection) -> KeyRecord | None:
        row = conn.execute(query).mappings().first()
        return None if row is None else KeyRecord.from_row(row)

    return run
