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
    Column("reserved_usd", Float),
    Column("cost_usd", Float),
    Column("budget_ids", JSON),
    Column("deleted_at", Float),
    Column("end_user", String(200)),
    Column("deadline_at", Float),  # past it, a running job is failed and not charged (0011)
    Index("ix_jobs_owner_seq", "owner_key_id", "seq"),
    Index("ix_jobs_phase_next_poll", "phase", "next_poll_at"),
    Index("ix_jobs_status_seq", "status", "seq"),  # the admin listing's filters (0008)
    Index("ix_jobs_model_seq", "model", "seq"),
    Index("ix_jobs_provider_seq", "provider", "seq"),
    Index("ix_jobs_end_user_seq", "end_user", "seq"),
    Index("ix_jobs_created", "created_at"),
    Index("ux_jobs_owner_idempotency", "owner_key_id", "idempotency_key", unique=True),
)

replicas = Table(
    "replicas",
    metadata,
    Column("id", String(64), primary_key=True),  # the lease owner name of a process
    Column("started_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
)
"""Each gateway process's heartbeat: recovery takes over a submit only from a silent one."""

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
    Column("team_id", String(200)),
    Column("user_id", String(200)),
    Column("rpm_limit", Integer),
    Column("max_parallel_jobs", Integer),
    Column("drop_params", Integer),  # null: the gateway's setting (0011)
    Column("end_user_limits", JSON),  # defaults for every end user of the key (0011)
)

end_users = Table(
    "end_users",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("end_user", String(200), primary_key=True),
    Column("max_budget", Float),
    Column("budget_duration", String(16)),
    Column("rpm_limit", Integer),
    Column("max_parallel_jobs", Integer),
    Column("blocked", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
"""One key's overrides for one end user (the ``user`` its requests carry), over the key's
``end_user_limits`` defaults (0011)."""

ui_sessions = Table(
    "ui_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the cookie's value
    Column("key_hash", String(64), nullable=False),  # whose: the signed-in key's SHA-256
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)
"""The console's sign-ins: the cookie holds a random token; only its hash is stored, and the
key is named by its hash, so a revoked key or a changed master key ends its sessions."""

budgets = Table(
    "budgets",
    metadata,
    Column("id", String(220), primary_key=True),  # key:<id> | team:<id> | user:<id>
    Column("max_budget", Float),
    Column("spend", Float, nullable=False, default=0.0),
    Column("reserved", Float, nullable=False, default=0.0),
    Column("budget_duration", String(16)),
    Column("budget_reset_at", Float),
    Column("created_at", Float, nullable=False),
)

spend_logs = Table(
    "spend_logs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("team_id", String(200)),
    Column("user_id", String(200)),
    Column("model", String(200), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("deployment_id", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("seconds", Float),
    Column("cost_usd", Float, nullable=False),
    Column("priced", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("settled_at", Float, nullable=False),
    Column("end_user", String(200)),  # the job's end user (0011)
    Index("ix_spend_logs_settled", "settled_at"),
    Index("ix_spend_logs_key", "key_id", "settled_at"),
    Index("ix_spend_logs_key_end_user", "key_id", "end_user", "settled_at"),
)

request_logs = Table(
    "request_logs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("key_id", String(64)),
    Column("method", String(8), nullable=False),
    Column("route", String(200), nullable=False),
    Column("model", String(200)),
    Column("deployment_id", String(200)),
    Column("status_code", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("job_id", String(64)),
    Column("error_code", String(64)),
    Column("end_user", String(200)),
    Column("moderation", String(200)),  # the moderation check's outcome, where one ran (0011)
    Index("ix_request_logs_at", "at"),
    Index("ix_request_logs_key", "key_id", "at"),
    Index("ix_request_logs_request_id", "request_id"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner_key_id", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", String(200), nullable=False),
    Column("secrets", JSON),  # more active signing secrets, while receivers roll (0011)
    Column("events", JSON, nullable=False),
    Column("description", Text),
    Column("source", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("disabled_at", Float),
    Column("disabled_reason", String(200)),
    Index("ix_webhook_endpoints_owner", "owner_key_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("endpoint_id", String(64), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("video_id", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("next_attempt_at", Float),
    Column("last_attempt_at", Float),
    Column("delivered_at", Float),
    Column("lease_until", Float),
    Column("created_at", Float, nullable=False),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint_seq", "endpoint_id", "seq"),
    Index("ux_webhook_deliveries_endpoint_event", "endpoint_id", "event_id", unique=True),
    Index("ix_webhook_deliveries_video", "video_id"),  # a job's deliveries (0010)
)
