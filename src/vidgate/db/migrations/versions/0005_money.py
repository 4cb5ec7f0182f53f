"""The money path: budgets, job reservations and costs, key limits, spend and request logs.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("reserved_usd", sa.Float))
        batch.add_column(sa.Column("cost_usd", sa.Float))
        batch.add_column(sa.Column("budget_ids", sa.JSON))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("team_id", sa.String(200)))
        batch.add_column(sa.Column("user_id", sa.String(200)))
        batch.add_column(sa.Column("rpm_limit", sa.Integer))
        batch.add_column(sa.Column("max_parallel_jobs", sa.Integer))
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(220), primary_key=True),
        sa.Column("max_budget", sa.Float),
        sa.Column("spend", sa.Float, nullable=False, server_default="0"),
        sa.Column("reserved", sa.Float, nullable=False, server_default="0"),
        sa.Column("budget_duration", sa.String(16)),
        sa.Column("budget_reset_at", sa.Float),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "spend_logs",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(200)),
        sa.Column("user_id", sa.String(200)),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("deployment_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("seconds", sa.Float),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("priced", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("settled_at", sa.Float, nullable=False),
    )
    op.create_index("ix_spend_logs_settled", "spend_logs", ["settled_at"])
    op.create_index("ix_spend_logs_key", "spend_logs", ["key_id", "settled_at"])
    op.create_table(
        "request_logs",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64)),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("deployment_id", sa.String(200)),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("job_id", sa.String(64)),
        sa.Column("error_code", sa.String(64)),
    )
    op.create_index("ix_request_logs_at", "request_logs", ["at"])
    op.create_index("ix_request_logs_key", "request_logs", ["key_id", "at"])


def downgrade() -> None:
    op.drop_table("request_logs")
    op.drop_table("spend_logs")
    op.drop_table("budgets")
    with op.batch_alter_table("api_keys") as batch:
        for name in ("max_parallel_jobs", "rpm_limit", "user_id", "team_id"):
            batch.drop_column(name)
    with op.batch_alter_table("jobs") as batch:
        for name in ("budget_ids", "cost_usd", "reserved_usd"):
            batch.drop_column(name)
