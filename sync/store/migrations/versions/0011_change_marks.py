"""Indexes on staging's and the crosswalk's change times, so "did anything change since?" is a seek.

Enrichment skips a run where nothing it reads was written (sync/store/marks.py). Without these it
would scan both tables to find their latest change.

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_staging_updated_at", "staging", ["updated_at"])
    op.create_index("ix_crosswalk_updated_at", "crosswalk", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_crosswalk_updated_at", "crosswalk")
    op.drop_index("ix_staging_updated_at", "staging")
