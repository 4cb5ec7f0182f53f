"""The schema, as SQLAlchemy Core tables (the single source for queries and migrations).

Core rather than the ORM: every hot path here is one statement (fetch a job by id, claim
due jobs, compare-and-set a terminal transition), and Core keeps those statements explicit
and cheap. Timestamps are Unix seconds as floats so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner_key_id", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("deployment_id", String(200), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("upstream_model", String(200), nullable=False),
    Column("upstream_id", String(500)),
    Column("operation", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("prompt", Text, nullable=False),
    Column("size", String(32), nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("request", JSON, nullable=False),
    Column("remixed_from", String(64)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("started_at", Float),
    Column("completed_at", Float),
    Column("expires_at", Float),
    Column("last_polled_at", Float),
    Column("next_poll_at", Float),
    Column("poll_failures", Integer, nullable=False, default=0),
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(64)),
    Column("assets", JSON),
    Column("usage", JSON),
    Column("upstream", JSON),
    Column("attempts", JSON),
    Column("deleted_at", Float),
    Index("ix_jobs_owner_seq", "owner_key_id", "seq"),
    Index("ix_jobs_phase_next_poll", "phase", "next_poll_at"),
    Index("ux_jobs_owner_idempotency", "owner_key_id", "idempotency_key", unique=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_hint", String(32), nullable=False),
    Column("alias", String(200)),
    Column("models", JSON),
    Column("metadata", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("revoked_at", Float),
)
