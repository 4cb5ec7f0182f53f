"""Webhook deliveries by video: the job page (``GET /jobs/{id}``) lists a job's deliveries.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_webhook_deliveries_video", "webhook_deliveries", ["video_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_video", table_name="webhook_deliveries")
