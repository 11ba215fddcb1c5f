"""The first store schema: staging, crosswalk, golden, quarantine, audit log, runs, bookmarks.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from sync.store.schema import Json, Timestamp

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ref():
    return [
        sa.Column("source_system", sa.String(64), primary_key=True),
        sa.Column("source_object", sa.String(128), primary_key=True),
        sa.Column("source_id", sa.String(255), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("command", sa.String(64), nullable=False),
        sa.Column("config", sa.Text),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer),
        sa.Column("counts", Json),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "staging", *_ref(),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("run_id", sa.String(36)),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_staging_entity", "staging", ["entity"])
    op.create_table(
        "crosswalk", *_ref(),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("golden_id", sa.String(64)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_crosswalk_golden_id", "crosswalk", ["golden_id"])
    op.create_table(
        "golden",
        sa.Column("golden_id", sa.String(64), primary_key=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("merged_into", sa.String(64)),
        sa.Column("run_id", sa.String(36)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_golden_entity", "golden", ["entity"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36)),
        sa.Column("stream", sa.String(128), nullable=False),
        sa.Column("source_system", sa.String(64), nullable=False),
        sa.Column("source_object", sa.String(128), nullable=False),
        sa.Column("source_id", sa.String(255)),
        sa.Column("field", sa.String(128)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("record", Json),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("resolved_at", Timestamp),
    )
    op.create_index("ix_quarantine_run_id", "quarantine", ["run_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36)),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("object", sa.String(128), nullable=False),
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("field", sa.String(128)),
        sa.Column("old", Json),
        sa.Column("new", Json),
    )
    op.create_index("ix_audit_log_run_id", "audit_log", ["run_id"])
    op.create_table(
        "bookmarks",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("state", Json, nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.Column("updated_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    for table in ("bookmarks", "audit_log", "quarantine", "golden", "crosswalk", "staging", "runs"):
        op.drop_table(table)
