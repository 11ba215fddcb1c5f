"""Security: actor and command on audit entries, the hash chain, an append-only audit log, and
(PostgreSQL) the crm2_viewer/steward/operator/admin roles with their GRANTs.

Entries written before this revision get actor 'unknown' and are chained in id order, so
`crm2 audit verify` covers them from now on (it cannot vouch for what happened to them before).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_HASHED_COLUMNS = "id, run_id, at, action, system, object, record_id, field, actor, command, prev_hash, hash"
_SQLITE_TRIGGERS = {
    "audit_log_no_delete":
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be deleted'); END",
    "audit_log_no_update":
        f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE OF {_HASHED_COLUMNS} ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: only erasure may blank old/new values'); END",
}
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION crm2_audit_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'audit_log is append-only: entries cannot be deleted';
  END IF;
  IF (NEW.id, NEW.run_id, NEW.at, NEW.action, NEW.system, NEW.object, NEW.record_id, NEW.field,
      NEW.actor, NEW.command, NEW.prev_hash, NEW.hash) IS DISTINCT FROM
     (OLD.id, OLD.run_id, OLD.at, OLD.action, OLD.system, OLD.object, OLD.record_id, OLD.field,
      OLD.actor, OLD.command, OLD.prev_hash, OLD.hash) THEN
    RAISE EXCEPTION 'audit_log is append-only: only erasure may blank old/new values';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    from sync.store.audit import GENESIS, entry_hash

    for name, size in (("actor", 128), ("command", 128), ("prev_hash", 64), ("hash", 64)):
        op.add_column("audit_log", sa.Column(name, sa.String(size)))
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_record", "audit_log", ["system", "object", "record_id"])
    bind = op.get_bind()
    table = sa.table("audit_log", *(sa.column(c) for c in (
        "id", "run_id", "at", "action", "system", "object", "record_id", "field", "actor", "command",
        "prev_hash", "hash")))
    prev = GENESIS
    for row in bind.execute(sa.select(table).order_by(table.c.id)).mappings().all():
        data = {**row, "actor": "unknown", "command": None}
        digest = entry_hash(data, prev)
        bind.execute(table.update().where(table.c.id == row["id"]).values(
            actor="unknown", prev_hash=prev, hash=digest))
        prev = digest
    if bind.dialect.name == "sqlite":
        for sql in _SQLITE_TRIGGERS.values():
            op.execute(sql)
    elif bind.dialect.name == "postgresql":
        from sync.store import roles

        op.execute(_PG_FUNCTION)
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION crm2_audit_append_only()")
        roles.apply(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS crm2_audit_append_only()")
    op.drop_index("ix_audit_log_record", "audit_log")
    op.drop_index("ix_audit_log_actor", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        for name in ("hash", "prev_hash", "command", "actor"):
            batch.drop_column(name)
