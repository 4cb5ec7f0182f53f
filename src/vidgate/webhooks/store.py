"""Webhook rows: endpoints and deliveries, one transaction per operation.

Deliveries are an outbox. A row is written with the job's terminal transition
(``events.py``), then the sender claims due rows under a short lease in one
``UPDATE ... RETURNING`` (as the poller claims jobs), so a row is never sent by two loops at
once and a process that dies mid-send lets the lease expire; the attempt is counted at
claim time, so a crash loop cannot retry forever. Secrets are read only by ``claim_due``.

An endpoint signs with every active secret (``secrets``: newest first, the current one —
also in ``secret`` — never expires; a rotated-out one until its ``expires_at``). Expiry is
judged when a delivery is claimed, so an expired secret stops signing without any sweep.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from vidgate.db.engine import Database
from vidgate.db.tables import webhook_deliveries as deliveries
from vidgate.db.tables import webhook_endpoints as endpoints
from vidgate.webhooks.config import MAX_SECRETS, WebhookEndpointConfig
from vidgate.webhooks.signing import new_secret, secret_hint, secret_id

CONFIG_OWNER = "master"
"""Config-file endpoints belong to the master key: global, like the master's own."""


@dataclass(frozen=True)
class SigningSecret:
    """One signing secret of an endpoint; ``public`` names it without its value."""

    secret: str = field(repr=False)
    created_at: float
    expires_at: float | None
    """``None`` for the current secret (and every config-file secret)."""

    def active(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now

    def stored(self) -> dict[str, Any]:
        return {"secret": self.secret, "created_at": self.created_at, "expires_at": self.expires_at}

    def public(self, current: bool) -> dict[str, Any]:
        return {
            "id": secret_id(self.secret),
            "object": "webhook_secret",
            "hint": secret_hint(self.secret),
            "status": "current" if current else "previous",
            "created_at": int(self.created_at),
            "expires_at": _seconds(self.expires_at),
        }


def signing_secrets(secret: str, stored: Any, created_at: float) -> list[SigningSecret]:
    """A row's secrets, newest first (a row from before rotation has only ``secret``)."""
    if not isinstance(stored, list) or not stored:
        return [SigningSecret(secret, created_at, None)]
    return [SigningSecret(e["secret"], e["created_at"], e["expires_at"]) for e in stored]


@dataclass(frozen=True)
class Endpoint:
    """An endpoint row (``secret`` stays out of ``public`` and ``repr``)."""

    id: str
    owner_key_id: str
    url: str
    secret: str = field(repr=False)
    """The current signing secret."""
    events: list[str]
    description: str | None
    source: str
    created_at: float
    disabled_at: float | None
    disabled_reason: str | None
    signing: tuple[SigningSecret, ...] = field(default=(), repr=False)
    """Every signing secret, newest first, expired ones included."""

    @classmethod
    def from_row(cls, row: RowMapping) -> Endpoint:
        names = [name for name in cls.__dataclass_fields__ if name != "signing"]
        found = signing_secrets(row["secret"], row["secrets"], row["created_at"])
        return cls(**{name: row[name] for name in names}, signing=tuple(found))

    def active_secrets(self, now: float) -> list[SigningSecret]:
        return [entry for entry in self.signing if entry.active(now)]

    def public(self) -> dict[str, Any]:
        active = self.active_secrets(time.time())
        return {
            "id": self.id,
            "object": "webhook_endpoint",
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "status": "disabled" if self.disabled_at is not None else "enabled",
            "disabled_reason": self.disabled_reason,
            "source": self.source,
            "created_at": int(self.created_at),
            "secrets": [entry.public(entry.secret == self.secret) for entry in active],
        }


@dataclass(frozen=True)
class Delivery:
    """A delivery row as its owner sees it."""

    seq: int
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    video_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: float | None
    delivered_at: float | None
    created_at: float

    @classmethod
    def from_row(cls, row: RowMapping) -> Delivery:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "webhook_delivery",
            "event_id": self.event_id,
            "event_type": self.event_type,
            "video_id": self.video_id,
            "status": self.status,
            "attempts": self.attempts,
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
            "next_attempt_at": _seconds(self.next_attempt_at),
            "delivered_at": _seconds(self.delivered_at),
            "created_at": int(self.created_at),
        }


@dataclass(frozen=True)
class Due:
    """A claimed delivery with what sending it needs."""

    id: str
    endpoint_id: str
    event_id: str
    payload: str
    attempts: int
    """Including the attempt about to be made."""
    url: str = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)
    """Every secret active when the delivery was claimed: one signature each."""


def config_endpoint_id(url: str) -> str:
    """A config endpoint's id: stable across restarts as long as its URL stays."""
    return "whep_cfg_" + hashlib.sha256(url.encode()).hexdigest()[:24]


class WebhookStore:
    """Access to ``webhook_endpoints`` and ``webhook_deliveries``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- endpoints ------------------------------------------------------------------------

    async def create(
        self, owner: str, url: str, events: Sequence[str], description: str | None
    ) -> Endpoint:
        now = time.time()
        first = SigningSecret(new_secret(), now, None)
        values: dict[str, Any] = {
            "id": "whep_" + secrets.token_hex(12),
            "owner_key_id": owner,
            "url": url,
            "secret": first.secret,
            "events": list(events),
            "description": description,
            "source": "api",
            "created_at": now,
            "disabled_at": None,
            "disabled_reason": None,
        }

        def run(conn: Connection) -> None:
            conn.execute(insert(endpoints), {**values, "secrets": [first.stored()]})

        await self.db.write(run)
        return Endpoint(**values, signing=(first,))

    async def count_owned(self, owner: str) -> int:
        query = select(func.count()).select_from(endpoints)

        def run(conn: Connection) -> int:
            return int(conn.execute(query.where(endpoints.c.owner_key_id == owner)).scalar() or 0)

        return await self.db.read(run)

    async def list_owned(self, owner: str) -> list[Endpoint]:
        query = (
            select(endpoints)
            .where(endpoints.c.owner_key_id == owner)
            .order_by(endpoints.c.created_at, endpoints.c.id)
        )

        def run(conn: Connection) -> list[Endpoint]:
            return [Endpoint.from_row(row) for row in conn.execute(query).mappings()]

        return await self.db.read(run)

    async def get_owned(self, endpoint_id: str, owner: str) -> Endpoint | None:
        query = select(endpoints).where(
            endpoints.c.id == endpoint_id, endpoints.c.owner_key_id == owner
        )

        def run(conn: Connection) -> Endpoint | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else Endpoint.from_row(row)

        return await self.db.read(run)

    async def rotate(
        self, endpoint_id: str, keep_previous_s: float, now: float
    ) -> tuple[Literal["rotated", "missing", "full"], Endpoint | None]:
        """Give the endpoint a new current secret; the one it replaces keeps signing for
        ``keep_previous_s`` (0: it stops at once). ``full`` (nothing changed) when that
        would make more than ``MAX_SECRETS`` active secrets."""
        query = select(endpoints).where(endpoints.c.id == endpoint_id).with_for_update()

        def run(conn: Connection) -> tuple[Literal["rotated", "missing", "full"], Endpoint | None]:
            row = conn.execute(query).mappings().first()
            if row is None:
                return "missing", None
            endpoint = Endpoint.from_row(row)
            kept = [e for e in endpoint.active_secrets(now) if e.secret != endpoint.secret]
            if keep_previous_s > 0:
                current = _current(endpoint)
                kept.insert(0, replace(current, expires_at=now + keep_previous_s))
            if len(kept) + 1 > MAX_SECRETS:
                return "full", endpoint
            signing = (SigningSecret(new_secret(), now, None), *kept)
            _store_secrets(conn, endpoint_id, signing)
            return "rotated", replace(endpoint, secret=signing[0].secret, signing=signing)

        return await self.db.write(run)

    async def remove_secret(
        self, endpoint_id: str, wanted: str, now: float
    ) -> tuple[Literal["removed", "missing", "current"], Endpoint | None]:
        """Stop signing with the previous secret whose id is ``wanted`` at once; the
        current secret cannot be removed (rotate first)."""
        query = select(endpoints).where(endpoints.c.id == endpoint_id).with_for_update()

        def run(
            conn: Connection,
        ) -> tuple[Literal["removed", "missing", "current"], Endpoint | None]:
            row = conn.execute(query).mappings().first()
            if row is None:
                return "missing", None
            endpoint = Endpoint.from_row(row)
            active = endpoint.active_secrets(now)
            if not any(secret_id(e.secret) == wanted for e in active):
                return "missing", endpoint
            if secret_id(endpoint.secret) == wanted:
                return "current", endpoint
            signing = tuple(e for e in active if secret_id(e.secret) != wanted)
            _store_secrets(conn, endpoint_id, signing)
            return "removed", replace(endpoint, signing=signing)

        return await self.db.write(run)

    async def delete(self, endpoint_id: str) -> None:
        """Remove an endpoint and its delivery history; pending deliveries are dropped."""

        def run(conn: Connection) -> None:
            _delete_endpoints(conn, [endpoint_id])

        await self.db.write_bulk(run)

    async def sync_config(self, entries: Sequence[WebhookEndpointConfig]) -> None:
        """Make the config-file endpoints those of ``entries`` (start-up).

        The config is the truth: an entry's URL keeps its id (and its pending deliveries)
        while its secrets and events follow the file, and it is enabled again even if a 410
        disabled it; endpoints no longer in the file are removed. Every secret an entry
        lists signs, without expiry, until the file no longer lists it.
        """
        now = time.time()
        wanted = {config_endpoint_id(entry.url): entry for entry in entries}

        def run(conn: Connection) -> None:
            query = select(
                endpoints.c.id, endpoints.c.secret, endpoints.c.secrets, endpoints.c.created_at
            ).where(endpoints.c.source == "config")
            present = {row[0]: signing_secrets(*row[1:]) for row in conn.execute(query)}
            _delete_endpoints(conn, sorted(present.keys() - wanted.keys()))
            for endpoint_id, entry in wanted.items():
                since = {e.secret: e.created_at for e in present.get(endpoint_id, [])}
                listed = entry.signing_secrets
                values = {
                    "url": entry.url,
                    "secret": listed[0],
                    "secrets": [
                        SigningSecret(value, since.get(value, now), None).stored()
                        for value in listed
                    ],
                    "events": list(entry.events),
                    "disabled_at": None,
                    "disabled_reason": None,
                }
                if endpoint_id in present:
                    conn.execute(
                        update(endpoints).where(endpoints.c.id == endpoint_id).values(values)
                    )
                else:
                    row = {"id": endpoint_id, "owner_key_id": CONFIG_OWNER, "source": "config"}
                    conn.execute(
                        insert(endpoints),
                        {**row, **values, "description": None, "created_at": now},
                    )

        await self.db.write_bulk(run)

    # --- deliveries as their owner sees them ----------------------------------------------

    async def find_delivery_seq(self, endpoint_id: str, delivery_id: str) -> int | None:
        query = select(deliveries.c.seq).where(
            deliveries.c.id == delivery_id, deliveries.c.endpoint_id == endpoint_id
        )

        def run(conn: Connection) -> int | None:
            value = conn.execute(query).scalar()
            return None if value is None else int(value)

        return await self.db.read(run)

    async def list_deliveries(
        self, endpoint_id: str, *, after_seq: int | None, limit: int, descending: bool
    ) -> list[Delivery]:
        columns = [deliveries.c[name] for name in Delivery.__dataclass_fields__]
        query = select(*columns).where(deliveries.c.endpoint_id == endpoint_id)
        if after_seq is not None:
            seq = deliveries.c.seq
            query = query.where(seq < after_seq if descending else seq > after_seq)
        order = deliveries.c.seq.desc() if descending else deliveries.c.seq.asc()
        query = query.order_by(order).limit(limit)

        def run(conn: Connection) -> list[Delivery]:
            return [Delivery.from_row(row) for row in conn.execute(query).mappings()]

        return await self.db.read(run)

    async def for_video(self, video_id: str, owner: str | None, limit: int = 50) -> list[Delivery]:
        """A video's deliveries, newest first: to ``owner``'s endpoints, or to every endpoint
        when ``owner`` is ``None`` (the master key's view). One indexed query (0010)."""
        columns = [deliveries.c[name] for name in Delivery.__dataclass_fields__]
        query = select(*columns).where(deliveries.c.video_id == video_id)
        if owner is not None:
            owned = select(endpoints.c.id).where(endpoints.c.owner_key_id == owner)
            query = query.where(deliveries.c.endpoint_id.in_(owned.scalar_subquery()))
        query = query.order_by(deliveries.c.seq.desc()).limit(limit)

        def run(conn: Connection) -> list[Delivery]:
            return [Delivery.from_row(row) for row in conn.execute(query).mappings()]

        return await self.db.read(run)

    async def redeliver(
        self, endpoint_id: str, delivery_id: str, now: float
    ) -> tuple[Literal["queued", "missing", "in_flight"], Delivery | None]:
        """Queue the delivery again, due now, with a fresh retry schedule: the same event
        (its ``webhook-id`` and payload), signed anew when sent. ``in_flight`` while an
        attempt holds it (its lease is unexpired)."""
        columns = [deliveries.c[name] for name in Delivery.__dataclass_fields__]
        mine = (deliveries.c.id == delivery_id, deliveries.c.endpoint_id == endpoint_id)
        requeue = (
            update(deliveries)
            .where(*mine, _unleased(now))
            .values(status="pending", attempts=0, next_attempt_at=now, delivered_at=None)
        )

        def run(
            conn: Connection,
        ) -> tuple[Literal["queued", "missing", "in_flight"], Delivery | None]:
            if conn.execute(select(deliveries.c.seq).where(*mine)).first() is None:
                return "missing", None
            if not conn.execute(requeue).rowcount:
                return "in_flight", None
            row = conn.execute(select(*columns).where(*mine)).mappings().one()
            return "queued", Delivery.from_row(row)

        return await self.db.write(run)

    # --- the sender's side ----------------------------------------------------------------

    async def next_due_at(self, now: float) -> float | None:
        """When the earliest unclaimed pending delivery is due."""
        query = select(func.min(deliveries.c.next_attempt_at)).where(
            deliveries.c.status == "pending", _unleased(now)
        )

        def run(conn: Connection) -> float | None:
            value = conn.execute(query).scalar()
            return None if value is None else float(value)

        return await self.db.read(run)

    async def claim_due(self, now: float, lease_s: float, limit: int) -> list[Due]:
        """Lease up to ``limit`` due deliveries and count their attempt."""
        due = (
            select(deliveries.c.seq)
            .where(
                deliveries.c.status == "pending",
                deliveries.c.next_attempt_at <= now,
                _unleased(now),
            )
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
        )
        claim = (
            update(deliveries)
            .where(deliveries.c.seq.in_(due.scalar_subquery()), _unleased(now))
            .values(
                lease_until=now + lease_s,
                attempts=deliveries.c.attempts + 1,
                last_attempt_at=now,
            )
            .returning(
                deliveries.c.id,
                deliveries.c.endpoint_id,
                deliveries.c.event_id,
                deliveries.c.payload,
                deliveries.c.attempts,
            )
        )

        def run(conn: Connection) -> list[Due]:
            rows = conn.execute(claim).mappings().all()
            ids = sorted({row["endpoint_id"] for row in rows})
            if not ids:
                return []
            query = select(
                endpoints.c.id,
                endpoints.c.url,
                endpoints.c.secret,
                endpoints.c.secrets,
                endpoints.c.created_at,
            ).where(endpoints.c.id.in_(ids))
            targets = {
                row[0]: (
                    row[1],
                    tuple(e.secret for e in signing_secrets(*row[2:]) if e.active(now)),
                )
                for row in conn.execute(query)
            }
            return [
                Due(
                    **dict(row),
                    url=targets[row["endpoint_id"]][0],
                    secrets=targets[row["endpoint_id"]][1],
                )
                for row in rows
                if row["endpoint_id"] in targets
            ]

        return await self.db.write(run)

    async def release_all_leases(self) -> None:
        """Forget every claim (start-up of the sole process that uses this database)."""
        await self.db.write_bulk(_execute(update(deliveries).values(lease_until=None)))

    async def delivered(self, delivery_id: str, status_code: int, now: float) -> None:
        values = {
            "status": "delivered",
            "last_status_code": status_code,
            "last_error": None,
            "delivered_at": now,
        }
        await self.db.write(_finish(delivery_id, values))

    async def retry_later(
        self, delivery_id: str, status_code: int | None, error: str, at: float
    ) -> None:
        values = {"last_status_code": status_code, "last_error": error, "next_attempt_at": at}
        await self.db.write(_finish(delivery_id, values))

    async def give_up(self, delivery_id: str, status_code: int | None, error: str) -> None:
        values = {"status": "failed", "last_status_code": status_code, "last_error": error}
        await self.db.write(_finish(delivery_id, values))

    async def endpoint_gone(
        self, delivery_id: str, endpoint_id: str, status_code: int, now: float
    ) -> None:
        """The endpoint answered 410 Gone: disable it and fail everything still queued."""
        error = f"HTTP {status_code}: the endpoint is gone and was disabled"

        def run(conn: Connection) -> None:
            _finish(
                delivery_id,
                {"status": "failed", "last_status_code": status_code, "last_error": error},
            )(conn)
            conn.execute(
                update(endpoints)
                .where(endpoints.c.id == endpoint_id)
                .values(disabled_at=now, disabled_reason="gone (HTTP 410)")
            )
            conn.execute(
                update(deliveries)
                .where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.status == "pending")
                .values(
                    status="failed",
                    last_error="the endpoint was disabled",
                    next_attempt_at=None,
                    lease_until=None,
                )
            )

        await self.db.write_bulk(run)


def _unleased(now: float) -> Any:
    return or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now)


def _seconds(value: float | None) -> int | None:
    return None if value is None else int(value)


def _current(endpoint: Endpoint) -> SigningSecret:
    for entry in endpoint.signing:
        if entry.secret == endpoint.secret:
            return entry
    return SigningSecret(endpoint.secret, endpoint.created_at, None)


def _store_secrets(conn: Connection, endpoint_id: str, signing: Sequence[SigningSecret]) -> None:
    """Write ``signing`` (newest first, expired ones dropped by the caller); its first entry
    is the current secret."""
    values = {"secret": signing[0].secret, "secrets": [e.stored() for e in signing]}
    conn.execute(update(endpoints).where(endpoints.c.id == endpoint_id).values(values))


def _delete_endpoints(conn: Connection, ids: Sequence[str]) -> None:
    if ids:
        conn.execute(delete(deliveries).where(deliveries.c.endpoint_id.in_(ids)))
        conn.execute(delete(endpoints).where(endpoints.c.id.in_(ids)))


def _finish(delivery_id: str, values: dict[str, Any]) -> Callable[[Connection], None]:
    """Record an attempt's outcome and release the claim (terminal unless ``pending``)."""
    row = {"next_attempt_at": None, "lease_until": None, **values}
    statement = update(deliveries).where(deliveries.c.id == delivery_id).values(row)
    return _execute(statement)


def _execute(statement: Any) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        conn.execute(statement)

    return run
