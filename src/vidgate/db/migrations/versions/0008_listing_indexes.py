"""Indexes for the admin listings (``GET /admin/jobs``, ``GET /admin/requests``).

The job listing pages newest first by ``seq``; a filter on status, model, provider or end
user walks its own ``(column, seq)`` index in that order instead of every job, and a time
range uses ``created_at``. The request log is looked up by request id.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JOB_INDEXES = {
    "ix_jobs_status_seq": ["status", "seq"],
    "ix_jobs_model_seq": ["model", "seq"],
    "ix_jobs_provider_seq": ["provider", "seq"],
    "ix_jobs_end_user_seq": ["end_user", "seq"],
    "ix_jobs_created": ["created_at"],
}


def upgrade() -> None:
    for name, columns in JOB_INDEXES.items():
        op.create_index(name, "jobs", columns)
    op.create_index("ix_request_logs_request_id", "request_logs", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_request_logs_request_id", table_name="request_logs")
    for name in reversed(JOB_INDEXES):
        op.drop_index(name, table_name="jobs")
