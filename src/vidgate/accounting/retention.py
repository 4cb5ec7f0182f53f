"""Log retention: delete old ``spend_logs`` and ``request_logs`` rows, at start and hourly.

Why: both tables gain a row per settled job or per API request and would otherwise grow
without bound. ``spend_logs`` rows go when their ``settled_at`` is older than
``settings.spend_log_retention_days``, ``request_logs`` rows when their ``at`` is older than
``settings.request_log_retention_days``.

Deletes run in bounded batches, each its own short write transaction (``DELETE ... WHERE seq
IN (SELECT seq ... LIMIT n)``, portable to PostgreSQL), so a large first sweep never holds the
single SQLite writer for long: job transitions queue between batches instead of behind one
huge delete. Budgets are untouched — spend already counted stays counted.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import Table, delete, select
from sqlalchemy.engine import Connection

from vidgate.db.engine import Database
from vidgate.db.tables import request_logs, spend_logs
from vidgate.settings import GatewaySettings

log = logging.getLogger("vidgate.retention")
INTERVAL_S = 3600.0
BATCH = 5000
DAY_S = 86400.0


def _delete_batch(conn: Connection, table: Table, column: str, cutoff: float, batch: int) -> int:
    oldest = select(table.c.seq).where(table.c[column] < cutoff).limit(batch)
    return int(conn.execute(delete(table).where(table.c.seq.in_(oldest))).rowcount)


class Retention:
    """The retention task: ``start()`` sweeps now and every ``interval_s``; ``aclose()`` stops."""

    def __init__(
        self,
        db: Database,
        spend_days: float,
        request_days: float,
        *,
        interval_s: float = INTERVAL_S,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.windows = ((spend_logs, "settled_at", spend_days), (request_logs, "at", request_days))
        self.interval_s = interval_s
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_settings(cls, db: Database, settings: GatewaySettings) -> Retention:
        return cls(db, settings.spend_log_retention_days, settings.request_log_retention_days)

    async def sweep(self, now: float | None = None) -> dict[str, int]:
        """Delete every row older than its window; the number deleted per table."""
        now = time.time() if now is None else now
        deleted: dict[str, int] = {}
        for table, column, days in self.windows:
            deleted[table.name] = await self._purge(table, column, now - days * DAY_S)
        return deleted

    async def _purge(self, table: Table, column: str, cutoff: float) -> int:
        total = 0
        while True:
            count = await self.db.write_bulk(
                lambda conn: _delete_batch(conn, table, column, cutoff, self.batch)
            )
            total += count
            if count < self.batch:
                return total

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                deleted = await self.sweep()
            except Exception:
                log.exception("deleting old log rows failed")
            else:
                if any(deleted.values()):
                    log.info(
                        "deleted old log rows",
                        extra={"event": "retention.sweep", "deleted": deleted},
                    )
            await asyncio.sleep(self.interval_s)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
