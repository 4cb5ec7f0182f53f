"""End users: the ``user`` a key's requests carry, with their own budget and limits.

Why: an app serves many people through one key. Each ``(key, user)`` pair is an end user
(another key's end user of the same name is a different one). Its limits are the key's
defaults (``api_keys.end_user_limits``) field by field overridden by its own row in
``end_users``; that row is also the registry of the end users a key has seen (written at
their first request) and holds ``blocked``.

The budget is an ordinary row of the ``budgets`` table, ``end_user:<key id>:<digest of the
name>`` (the name may be 200 characters, the id column 220), created at the end user's first
request and kept in step with the effective ``max_budget`` and ``budget_duration`` at each
admission, so the ledger holds, settles and releases it exactly as it does a key's. Rates
and jobs in flight are counted by the job layer (``jobs/end_users.py``), which may use
``routing``; this module is SQL and values only.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from vidgate.accounting.budgets import budget_fields
from vidgate.accounting.ledger import balances, budget_row, parse_period
from vidgate.db.engine import Database
from vidgate.db.tables import budgets, end_users, spend_logs
from vidgate.errors import InvalidRequest

PREFIX = "end_user:"
MAX_LIMIT = 1_000_000_000
CACHE_TTL_S = 1.0
"""How long a replica may admit an end user from memory (as ``accounting/keys.py`` keys)."""
MAX_CONFIGURED = 100_000
"""The most end-user rows a key may have for the management routes to add one: a key
cannot fill the table with names it never serves (requests register theirs regardless)."""
RATE_FIELDS = {"rpm_limit": "rpm_limit", "max_parallel_requests": "max_parallel_jobs"}
"""Request field → column: the names ``/key/*`` use for the key's own limits."""


@dataclass(frozen=True)
class Limits:
    """An end user's limits (``None``: no limit). As key defaults or as overrides, a
    ``None`` field means "not set" and the next level decides."""

    max_budget: float | None = None
    budget_duration: str | None = None
    rpm_limit: int | None = None
    max_parallel_jobs: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Limits:
        data = data or {}
        return cls(*(data.get(name) for name in cls.__dataclass_fields__))

    def over(self, defaults: Limits) -> Limits:
        """These overrides over ``defaults``, field by field."""
        own = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return replace(defaults, **{k: v for k, v in own.items() if v is not None})

    def public(self) -> dict[str, Any]:
        return {
            "max_budget": self.max_budget,
            "budget_duration": self.budget_duration,
            "rpm_limit": self.rpm_limit,
            "max_parallel_requests": self.max_parallel_jobs,
        }

    def json(self) -> dict[str, Any] | None:
        """The stored form of key defaults (``None`` when nothing is set)."""
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return data if any(v is not None for v in data.values()) else None


@dataclass(frozen=True)
class EndUser:
    """One end user of one key: its overrides, whether it is blocked, its budget id."""

    key_id: str
    name: str
    overrides: Limits
    blocked: bool
    created_at: float | None = None

    @property
    def budget_id(self) -> str:
        return budget_id(self.key_id, self.name)


def budget_id(key_id: str, name: str) -> str:
    """The budget row (and rate counter) id of ``name`` under ``key_id``."""
    return f"{PREFIX}{key_id}:{hashlib.sha256(name.encode()).hexdigest()[:40]}"


def parse_limits(body: Mapping[str, Any], param: str = "") -> Limits:
    """``max_budget``, ``budget_duration``, ``rpm_limit``, ``max_parallel_requests`` from a
    body (``None`` or absent: not set); 400 naming ``<param>.<field>`` otherwise."""
    try:
        money = budget_fields(dict(body))
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message, param=f"{param}{exc.param}") from None
    rates: dict[str, Any] = {}
    for name, column in RATE_FIELDS.items():
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT
        ):
            raise InvalidRequest(
                f"Invalid value for '{param}{name}': an integer from 1 to {MAX_LIMIT}, or null.",
                param=f"{param}{name}",
            )
        rates[column] = value
    return Limits(money.get("max_budget"), money.get("budget_duration"), **rates)


def key_defaults(value: Any) -> dict[str, Any] | None:
    """The ``end_user_limits`` of ``/key/generate`` and ``/key/update``, as stored."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest(
            "'end_user_limits' must be an object with any of max_budget, budget_duration, "
            "rpm_limit, max_parallel_requests, or null.",
            param="end_user_limits",
        )
    known = {"max_budget", "budget_duration", *RATE_FIELDS}
    unknown = sorted(set(value) - known)
    if unknown:
        raise InvalidRequest(
            f"Unknown field 'end_user_limits.{unknown[0]}'. Allowed: {', '.join(sorted(known))}.",
            param=f"end_user_limits.{unknown[0]}",
        )
    return parse_limits(value, "end_user_limits.").json()


def _from_row(row: RowMapping) -> EndUser:
    overrides = Limits(
        row["max_budget"], row["budget_duration"], row["rpm_limit"], row["max_parallel_jobs"]
    )
    return EndUser(
        row["key_id"], row["end_user"], overrides, bool(row["blocked"]), row["created_at"]
    )


def _select(key_id: str, name: str) -> Any:
    return select(end_users).where(end_users.c.key_id == key_id, end_users.c.end_user == name)


def _sync_budget(conn: Connection, user: EndUser, limits: Limits, now: float) -> None:
    """The budget row exists with the effective limit and period (a new period starts now
    when the period changed)."""
    bid = user.budget_id
    row = conn.execute(
        select(budgets.c.max_budget, budgets.c.budget_duration).where(budgets.c.id == bid)
    ).first()
    if row is None:
        conn.execute(
            insert(budgets).values(
                **budget_row(bid, limits.max_budget, limits.budget_duration, now)
            )
        )
        return
    values: dict[str, Any] = {}
    if row[0] != limits.max_budget:
        values["max_budget"] = limits.max_budget
    if row[1] != limits.budget_duration:
        period = parse_period(limits.budget_duration)
        values["budget_duration"] = limits.budget_duration
        values["budget_reset_at"] = None if period is None else now + period
    if values:
        conn.execute(update(budgets).where(budgets.c.id == bid).values(**values))


def _balance(row: Mapping[str, Any], limit: float | None) -> dict[str, Any]:
    """A budget row's balance under the effective ``limit`` (the row may lag behind it
    until the next admission)."""
    spend, reserved = row.get("spend") or 0.0, row.get("reserved") or 0.0
    left = None if limit is None else round(max(0.0, limit - spend - reserved), 6)
    return {"max_budget": limit, "spend": spend, "reserved": reserved, "left": left}


class EndUserStore:
    """End users' rows and their budget rows."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._seen: dict[tuple[str, str], tuple[float, EndUser, Any]] = {}
        """What ``admit`` last read or wrote per end user, for ``CACHE_TTL_S``: a create
        costs no read then. Changes made here drop it at once, elsewhere within the TTL."""
        self._generation = 0
        """Bumped by every change made here, before and after its write: ``admit`` caches
        what it read only if no change began or ended meanwhile (its read may be older)."""

    async def admit(self, key_id: str, name: str, defaults: Limits) -> tuple[EndUser, Limits]:
        """The end user at a create: registered and its budget row in step (one read, or
        none while cached, and a write only when something changed). Returns it and its
        effective limits."""
        user: EndUser | None
        generation = self._generation
        cached = self._seen.get((key_id, name))
        if cached is not None and time.monotonic() - cached[0] < CACHE_TTL_S:
            user, budget = cached[1], cached[2]
        else:
            cached = None
            user, budget = await self.db.read(lambda conn: self._read(conn, key_id, name))
        limits = (user.overrides if user else Limits()).over(defaults)
        wanted = (limits.max_budget, limits.budget_duration)
        if user is None or budget != wanted:
            cached = None
            user = await self._write(
                key_id, name, lambda conn, u: _sync_budget(conn, u, limits, time.time())
            )
        if cached is None and generation == self._generation:  # read or written now
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[(key_id, name)] = (time.monotonic(), user, wanted)
        return user, limits

    @staticmethod
    def _read(conn: Connection, key_id: str, name: str) -> tuple[EndUser | None, Any]:
        row = conn.execute(_select(key_id, name)).mappings().first()
        budget = conn.execute(
            select(budgets.c.max_budget, budgets.c.budget_duration).where(
                budgets.c.id == budget_id(key_id, name)
            )
        ).first()
        return (None if row is None else _from_row(row)), (
            None if budget is None else tuple(budget)
        )

    async def _write(
        self,
        key_id: str,
        name: str,
        then: Callable[[Connection, EndUser], None],
        values: Mapping[str, Any] | None = None,
    ) -> EndUser:
        """Register the end user if new, apply ``values`` to its row, run ``then(conn, user)``
        in the same transaction. A concurrent first request of the same end user may insert
        first: the write then runs again and updates."""

        def run(conn: Connection) -> EndUser:
            now = time.time()
            if conn.execute(_select(key_id, name)).first() is None:
                base = {
                    "key_id": key_id,
                    "end_user": name,
                    "blocked": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                conn.execute(insert(end_users).values(**{**base, **(values or {})}))
            elif values:
                conn.execute(
                    update(end_users)
                    .where(end_users.c.key_id == key_id, end_users.c.end_user == name)
                    .values(**values, updated_at=now)
                )
            row = conn.execute(_select(key_id, name)).mappings().one()
            user = _from_row(row)
            then(conn, user)
            return user

        try:
            return await self.db.write(run)
        except IntegrityError:
            return await self.db.write(run)

    async def preview(
        self, key_id: str, name: str, defaults: Limits
    ) -> tuple[EndUser | None, Limits, dict[str, Any]]:
        """What ``admit`` would find, without writing: the end user (``None`` if new), its
        effective limits and its budget's balance under them (``balances``' shape)."""

        def run(conn: Connection) -> tuple[EndUser | None, dict[str, Any]]:
            user = self._read(conn, key_id, name)[0]
            found = balances(conn, [budget_id(key_id, name)], time.time())
            return user, found[0] if found else {"spend": 0.0, "reserved": 0.0}

        user, row = await self.db.read(run)
        limits = (user.overrides if user else Limits()).over(defaults)
        return user, limits, _balance(row, limits.max_budget)

    async def get(self, key_id: str, name: str) -> EndUser | None:
        return await self.db.read(lambda conn: self._read(conn, key_id, name)[0])

    async def change(
        self, key_id: str, name: str, defaults: Limits, values: Mapping[str, Any]
    ) -> EndUser:
        """Set overrides (columns of ``end_users``; ``None`` clears one) or ``blocked``; the
        budget row follows the new effective limits at once."""

        def then(conn: Connection, user: EndUser) -> None:
            _sync_budget(conn, user, user.overrides.over(defaults), time.time())

        self._changing(key_id, [name])
        try:
            return await self._write(key_id, name, then, values)
        finally:  # an admit may have cached the old row while the write ran
            self._changing(key_id, [name])

    def _changing(self, key_id: str, names: list[str]) -> None:
        """Drop the cached entries of ``names`` and keep ``admit`` from caching a read
        that may predate the change."""
        self._generation += 1
        for name in names:
            self._seen.pop((key_id, name), None)

    async def forget(self, key_id: str, names: list[str]) -> int:
        """Delete the rows (overrides and block) of ``names``; spend and budget rows stay.
        Returns how many existed."""

        def run(conn: Connection) -> int:
            found = 0
            for name in names:
                found += conn.execute(
                    end_users.delete().where(
                        end_users.c.key_id == key_id, end_users.c.end_user == name
                    )
                ).rowcount
            return found

        self._changing(key_id, names)
        try:
            return await self.db.write_bulk(run)  # a list of names: many rows
        finally:
            self._changing(key_id, names)

    async def unknown(self, key_id: str, names: list[str]) -> tuple[list[str], int]:
        """Which of ``names`` the key has no row for, and how many rows it has."""

        def run(conn: Connection) -> tuple[list[str], int]:
            where = end_users.c.key_id == key_id
            count = conn.execute(select(func.count()).where(where)).scalar_one()
            found = set(
                conn.execute(
                    select(end_users.c.end_user).where(where, end_users.c.end_user.in_(names))
                ).scalars()
            )
            return [n for n in names if n not in found], int(count)

        return await self.db.read(run)

    async def page(self, key_id: str, after: str | None, limit: int) -> list[EndUser]:
        """The key's end users by name, ``limit`` after ``after``."""
        query = select(end_users).where(end_users.c.key_id == key_id)
        if after is not None:
            query = query.where(end_users.c.end_user > after)
        query = query.order_by(end_users.c.end_user).limit(limit)
        return await self.db.read(
            lambda conn: [_from_row(row) for row in conn.execute(query).mappings()]
        )

    async def money(self, users: list[EndUser]) -> dict[str, dict[str, Any]]:
        """Each end user's budget row (by budget id) and its spend over all time."""

        def run(conn: Connection) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for user in users:
                row = conn.execute(select(budgets).where(budgets.c.id == user.budget_id))
                found = row.mappings().first()
                total = conn.execute(
                    select(func.coalesce(func.sum(spend_logs.c.cost_usd), 0.0)).where(
                        spend_logs.c.key_id == user.key_id, spend_logs.c.end_user == user.name
                    )
                ).scalar_one()
                out[user.budget_id] = {**(dict(found) if found else {}), "total": float(total)}
            return out

        return await self.db.read(run)
