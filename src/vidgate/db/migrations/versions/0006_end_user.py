"""The end user a request was made for (the ``user`` field), on jobs and request logs.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("end_user", sa.String(200)))
    with op.batch_alter_table("request_logs") as batch:
        batch.add_column(sa.Column("end_user", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("request_logs") as batch:
        batch.drop_column("end_user")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("end_user")
