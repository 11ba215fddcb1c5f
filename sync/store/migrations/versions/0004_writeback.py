"""Writeback state: last written values per external record, the retry queue, the write-ahead log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from sync.store.schema import Json, Timestamp

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _record_key() -> list[sa.Column]:
    return [
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("object", sa.String(128), primary_key=True),
        sa.Column("key_field", sa.String(128), primary_key=True),
        sa.Column("key_value", sa.String(255), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "writeback_state",
        *_record_key(),
        sa.Column("record_id", sa.String(64)),
        sa.Column("golden_id", sa.String(64)),
        sa.Column("values", Json, nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.Column("written_at", Timestamp, nullable=False),
    )
    op.create_index("ix_writeback_state_golden_id", "writeback_state", ["golden_id"])
    op.create_table(
        "writeback_queue",
        *_record_key(),
        sa.Column("record_id", sa.String(64)),
        sa.Column("golden_id", sa.String(64)),
        sa.Column("values", Json, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("run_id", sa.String(36)),
        sa.Column("first_at", Timestamp, nullable=False),
        sa.Column("last_at", Timestamp, nullable=False),
    )
    op.create_table(
        "writeback_batches",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("object", sa.String(128), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("key_field", sa.String(128), nullable=False),
        sa.Column("job_id", sa.String(64)),
        sa.Column("run_id", sa.String(36)),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "writeback_inflight",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("key_value", sa.String(255), nullable=False),
        sa.Column("record_id", sa.String(64)),
        sa.Column("golden_id", sa.String(64)),
        sa.Column("values", Json, nullable=False),
        sa.Column("sent", Json, nullable=False),
        sa.Column("previous", Json),
    )


def downgrade() -> None:
    for table in ("writeback_inflight", "writeback_batches", "writeback_queue", "writeback_state"):
        op.drop_table(table)
