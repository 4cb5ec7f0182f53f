"""Issue 17's columns: drop_params and end-user limits per key, end users' own limits, the
moderation outcome on request logs, spend by end user, job deadlines, and several signing
secrets per webhook.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("drop_params", sa.Integer))
        batch.add_column(sa.Column("end_user_limits", sa.JSON))
    op.create_table(
        "end_users",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("end_user", sa.String(200), primary_key=True),
        sa.Column("max_budget", sa.Float),
        sa.Column("budget_duration", sa.String(16)),
        sa.Column("rpm_limit", sa.Integer),
        sa.Column("max_parallel_jobs", sa.Integer),
        sa.Column("blocked", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    with op.batch_alter_table("request_logs") as batch:
        batch.add_column(sa.Column("moderation", sa.String(200)))
    with op.batch_alter_table("spend_logs") as batch:
        batch.add_column(sa.Column("end_user", sa.String(200)))
    op.create_index(
        "ix_spend_logs_key_end_user", "spend_logs", ["key_id", "end_user", "settled_at"]
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("deadline_at", sa.Float))
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("secrets", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("secrets")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("deadline_at")
    op.drop_index("ix_spend_logs_key_end_user", table_name="spend_logs")
    with op.batch_alter_table("spend_logs") as batch:
        batch.drop_column("end_user")
    with op.batch_alter_table("request_logs") as batch:
        batch.drop_column("moderation")
    op.drop_table("end_users")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("end_user_limits")
        batch.drop_column("drop_params")
