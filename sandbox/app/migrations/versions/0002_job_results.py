"""Record each job's result, error and finish time (v2); index status for the backlog.

Additive only, so v1 keeps working on this schema: rolling back the app does not need
rolling back the database.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("result", postgresql.JSONB, nullable=True))
    op.add_column("jobs", sa.Column("error", sa.Text, nullable=True))
    op.add_column("jobs", sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("jobs_status_idx", "jobs", ["status"])


def downgrade() -> None:
    op.drop_index("jobs_status_idx", table_name="jobs")
    op.drop_column("jobs", "finished_at")
    op.drop_column("jobs", "error")
    op.drop_column("jobs", "result")
