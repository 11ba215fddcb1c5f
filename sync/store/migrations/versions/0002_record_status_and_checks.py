"""Account for every source record, count API calls per run, keep quality-check results.

The crosswalk gains a status (loaded | merged | quarantined | deleted) so a reconciliation
query can prove every source record is exactly one of them; existing rows are back-filled
from staging. Runs gain an API-call count; check results get their own table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from sync.store.schema import Json, Timestamp

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("api_calls", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("crosswalk") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="loaded"))
    op.execute(
        "UPDATE crosswalk SET status = 'deleted' WHERE EXISTS (SELECT 1 FROM staging s"
        " WHERE s.source_system = crosswalk.source_system AND s.source_object = crosswalk.source_object"
        " AND s.source_id = crosswalk.source_id AND s.deleted)"
    )
    op.create_table(
        "check_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36)),
        sa.Column("check", sa.String(255), nullable=False),
        sa.Column("entity", sa.String(64)),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("failing", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("details", Json),
        sa.Column("at", Timestamp, nullable=False),
    )
    op.create_index("ix_check_results_run_id", "check_results", ["run_id"])


def downgrade() -> None:
    op.drop_table("check_results")
    with op.batch_alter_table("crosswalk") as batch:
        batch.drop_column("status")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("api_calls")
