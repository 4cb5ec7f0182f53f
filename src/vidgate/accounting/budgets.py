"""Budget rows as the admin API shows and changes them (keys, teams, users).

The ledger (``accounting/ledger.py``) moves money inside job transactions; this module is
the administrative side: create a team or user budget, change a limit or period, and read
``max_budget``, ``spend``, ``reserved`` and ``budget_reset_at`` for ``/key/info``.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from vidgate.accounting.ledger import balances, budget_row, parse_period
from vidgate.db.engine import Database
from vidgate.db.tables import budgets
from vidgate.errors import Conflict, InvalidRequest, NotFound

MAX_BUDGET_USD = 1e15
"""A finite ceiling: sums of spend against it stay exact to the cent in a float."""


def budget_fields(body: dict[str, Any]) -> dict[str, Any]:
    """``max_budget`` and ``budget_duration`` from a request body, checked."""
    fields: dict[str, Any] = {}
    if "max_budget" in body:
        value = body["max_budget"]
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= MAX_BUDGET_USD
        ):
            raise InvalidRequest(
                f"Invalid value for 'max_budget': a number of USD from 0 to {MAX_BUDGET_USD:.0e}, "
                "or null.",
                param="max_budget",
            )
        fields["max_budget"] = None if value is None else float(value)
    if "budget_duration" in body:
        parse_period(body["budget_duration"])
        fields["budget_duration"] = body["budget_duration"] or None
    return fields


def public(row: dict[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    return {
        "max_budget": row.get("max_budget"),
        "spend": round(row.get("spend") or 0.0, 6),
        "reserved": round(row.get("reserved") or 0.0, 6),
        "budget_duration": row.get("budget_duration"),
        "budget_reset_at": row.get("budget_reset_at"),
    }


class BudgetStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, budget_id: str) -> dict[str, Any] | None:
        query = select(budgets).where(budgets.c.id == budget_id)

        def run(conn: Connection) -> dict[str, Any] | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else dict(row)

        return await self.db.read(run)

    async def many(self, budget_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The rows of ``budget_ids`` that exist, by id (one query per 500 ids)."""
        chunks = [budget_ids[i : i + 500] for i in range(0, len(budget_ids), 500)]

        def run(conn: Connection) -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            for chunk in chunks:
                query = select(budgets).where(budgets.c.id.in_(chunk))
                found.update((row["id"], dict(row)) for row in conn.execute(query).mappings())
            return found

        return await self.db.read(run)

    async def balances(self, budget_ids: list[str]) -> list[dict[str, Any]]:
        """What each existing row of ``budget_ids`` would let a hold take now (the ledger's
        ``balances``: ``max_budget``, ``spend``, ``reserved``, ``left``), each with its
        ``id`` (``key:…``, ``team:…``, ``user:…``) and the ``name`` after the colon."""
        now = time.time()

        def run(conn: Connection) -> list[dict[str, Any]]:
            out = []
            for budget_id in budget_ids:
                for row in balances(conn, [budget_id], now):
                    out.append({"id": budget_id, "name": budget_id.split(":", 1)[1], **row})
            return out

        return await self.db.read(run)

    async def create(self, budget_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        row = budget_row(
            budget_id, fields.get("max_budget"), fields.get("budget_duration"), time.time()
        )

        def run(conn: Connection) -> None:
            if conn.execute(select(budgets.c.id).where(budgets.c.id == budget_id)).first():
                kind, name = budget_id.split(":", 1)
                raise Conflict(f"The {kind} '{name}' already exists.", param=f"{kind}_id")
            conn.execute(insert(budgets).values(**row))

        await self.db.write(run)
        return row

    async def change(self, budget_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Set a new limit and/or period; a new period starts now."""
        values = dict(fields)
        if "budget_duration" in values:
            period = parse_period(values["budget_duration"])
            values["budget_reset_at"] = None if period is None else time.time() + period

        def run(conn: Connection) -> None:
            if values:
                conn.execute(update(budgets).where(budgets.c.id == budget_id).values(**values))
            if conn.execute(select(budgets.c.id).where(budgets.c.id == budget_id)).first() is None:
                kind, name = budget_id.split(":", 1)
                raise NotFound(f"No {kind} '{name}'.", param=f"{kind}_id")

        await self.db.write(run)
        row = await self.get(budget_id)
        assert row is not None
        return row
