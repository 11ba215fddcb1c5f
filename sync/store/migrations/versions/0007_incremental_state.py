"""Incremental checks and enrichment: what each derived stage last evaluated, per input.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from sync.store.schema import Timestamp

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incremental_state",
        sa.Column("stage", sa.String(300), primary_key=True),
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("run_id", sa.String(36)),
        sa.Column("updated_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incremental_state")
