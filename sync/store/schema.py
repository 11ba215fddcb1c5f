"""The store's tables at the current schema revision (what the migrations build).

Source references are always the triple (source_system, source_object, source_id); JSON
columns hold mapped records and states so the schema does not change with every mapping.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

# JSONB on PostgreSQL for indexable, compact storage; plain JSON text elsewhere.
Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def _source_ref() -> list[sa.Column]:
    return [
        sa.Column("source_system", sa.String(64), primary_key=True),
        sa.Column("source_object", sa.String(128), primary_key=True),
        sa.Column("source_id", sa.String(255), primary_key=True),
    ]


runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("command", sa.String(64), nullable=False),
    sa.Column("config", sa.Text),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp),
    sa.Column("status", sa.String(16), nullable=False),  # running | ok | partial | failed | interrupted
    sa.Column("exit_code", sa.Integer),
    sa.Column("counts", Json),
    sa.Column("error", sa.Text),
    sa.Column("api_calls", sa.Integer, nullable=False, server_default="0"),
)

staging = sa.Table(
    "staging", metadata,
    *_source_ref(),
    sa.Column("entity", sa.String(64), nullable=False, index=True),
    sa.Column("data", Json, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("run_id", sa.String(36)),
    sa.Column("updated_at", Timestamp, nullable=False, index=True),  # sync/store/marks.py seeks the latest
)

crosswalk = sa.Table(
    "crosswalk", metadata,
    *_source_ref(),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("golden_id", sa.String(64), index=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    # loaded | merged | quarantined | deleted: every source record is exactly one of these
    sa.Column("status", sa.String(16), nullable=False, server_default="loaded"),
    sa.Column("run_id", sa.String(36)),
    sa.Column("updated_at", Timestamp, nullable=False, index=True),  # sync/store/marks.py seeks the latest
)

golden = sa.Table(
    "golden", metadata,
    sa.Column("golden_id", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(64), nullable=False, index=True),
    sa.Column("data", Json, nullable=False),
    sa.Column("merged_into", sa.String(64)),
    sa.Column("run_id", sa.String(36)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

quarantine = sa.Table(
    "quarantine", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), index=True),
    sa.Column("stream", sa.String(128), nullable=False),
    sa.Column("source_system", sa.String(64), nullable=False),
    sa.Column("source_object", sa.String(128), nullable=False),
    sa.Column("source_id", sa.String(255)),
    sa.Column("field", sa.String(128)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("record", Json),  # raw record with personal data masked
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("resolved_at", Timestamp),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), index=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # write | merge | unmerge | erase | ...
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("object", sa.String(128), nullable=False),
    sa.Column("record_id", sa.String(255), nullable=False),
    sa.Column("field", sa.String(128)),
    sa.Column("old", Json),
    sa.Column("new", Json),
    # migration 0006: who did it, and the hash chain (old/new are outside the hash: see store/audit.py)
    sa.Column("actor", sa.String(128)),
    sa.Column("command", sa.String(128)),
    sa.Column("prev_hash", sa.String(64)),
    sa.Column("hash", sa.String(64)),
)

bookmarks = sa.Table(
    "bookmarks", metadata,
    sa.Column("name", sa.String(255), primary_key=True),  # e.g. the tap's name in a pipeline
    sa.Column("state", Json, nullable=False),
    sa.Column("run_id", sa.String(36)),
    sa.Column("updated_at", Timestamp, nullable=False),
)

check_results = sa.Table(
    "check_results", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), index=True),
    sa.Column("check", sa.String(255), nullable=False),
    sa.Column("entity", sa.String(64)),
    sa.Column("severity", sa.String(16), nullable=False),  # warn | quarantine | fail
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("failing", sa.Integer, nullable=False, server_default="0"),
    sa.Column("total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("details", Json),
    sa.Column("at", Timestamp, nullable=False),
)

# -- entity resolution (migration 0003) ------------------------------------------------------
# Each resolvable source record gets a compact integer id (rid) so keys and pairs stay small;
# its prepared comparison values are kept so a pair is scored without re-normalising.
match_records = sa.Table(
    "match_records", metadata,
    sa.Column("rid", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("source_system", sa.String(64), nullable=False),
    sa.Column("source_object", sa.String(128), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("features", Json, nullable=False),
    sa.Column("run_id", sa.String(36)),
    sa.UniqueConstraint("source_system", "source_object", "source_id", name="uq_match_records_ref"),
    sa.Index("ix_match_records_entity", "entity"),
)

match_keys = sa.Table(
    "match_keys", metadata,
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("rid", sa.Integer, primary_key=True),
    sa.Index("ix_match_keys_rid", "rid"),
)

match_pairs = sa.Table(
    "match_pairs", metadata,
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("left_rid", sa.Integer, primary_key=True),
    sa.Column("right_rid", sa.Integer, primary_key=True),
    sa.Column("weight", sa.Float, nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),  # match | review
    sa.Column("rule", sa.String(128), nullable=False),
    sa.Column("details", Json),
    sa.Column("run_id", sa.String(36)),
    sa.Index("ix_match_pairs_right", "right_rid"),
    sa.Index("ix_match_pairs_entity_decision", "entity", "decision"),
)

# Decisions by people (review confirm/reject, unmerge), keyed by source reference text so they
# outlive the records' rids; must_not_link keeps an unmerge undone on every later run.
match_constraints = sa.Table(
    "match_constraints", metadata,
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("left_ref", sa.String(512), primary_key=True),
    sa.Column("right_ref", sa.String(512), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # must_link | must_not_link
    sa.Column("reason", sa.Text),
    sa.Column("run_id", sa.String(36)),
    sa.Column("created_at", Timestamp, nullable=False),
)

# -- writeback to external systems (migration 0004) -------------------------------------------
# A record in an external system is named by how crm2 matches it: key_field 'Id' with its
# Salesforce Id, or an external id field with the value crm2 put there (the golden id).
writeback_state = sa.Table(
    "writeback_state", metadata,
    sa.Column("system", sa.String(64), primary_key=True),
    sa.Column("object", sa.String(128), primary_key=True),
    sa.Column("key_field", sa.String(128), primary_key=True),
    sa.Column("key_value", sa.String(255), primary_key=True),
    sa.Column("record_id", sa.String(64)),  # the external system's own id, once known
    sa.Column("golden_id", sa.String(64), index=True),
    sa.Column("values", Json, nullable=False),  # last values successfully written, by field
    sa.Column("run_id", sa.String(36)),
    sa.Column("written_at", Timestamp, nullable=False),
)

# Writes not confirmed yet: rejected rows (retried on the next run), rows deferred when the API
# budget ran out, and rows of a crashed batch that turned out not to have landed.
writeback_queue = sa.Table(
    "writeback_queue", metadata,
    sa.Column("system", sa.String(64), primary_key=True),
    sa.Column("object", sa.String(128), primary_key=True),
    sa.Column("key_field", sa.String(128), primary_key=True),
    sa.Column("key_value", sa.String(255), primary_key=True),
    sa.Column("record_id", sa.String(64)),
    sa.Column("golden_id", sa.String(64)),
    sa.Column("values", Json, nullable=False),  # the values still to write, by field
    sa.Column("reason", sa.String(16), nullable=False),  # rejected | deferred | unconfirmed
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("run_id", sa.String(36)),
    sa.Column("first_at", Timestamp, nullable=False),
    sa.Column("last_at", Timestamp, nullable=False),
)

# Write-ahead log: a batch is recorded here before it is sent and removed in the transaction
# that records its outcome, so a crash leaves exactly the batches whose fate is unknown.
writeback_batches = sa.Table(
    "writeback_batches", metadata,
    sa.Column("batch_id", sa.String(36), primary_key=True),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("object", sa.String(128), nullable=False),
    sa.Column("method", sa.String(32), nullable=False),  # collections | bulk
    sa.Column("operation", sa.String(16), nullable=False),  # update | upsert
    sa.Column("key_field", sa.String(128), nullable=False),
    sa.Column("job_id", sa.String(64)),  # a Bulk job's id, recorded as soon as it exists
    sa.Column("run_id", sa.String(36)),
    sa.Column("created_at", Timestamp, nullable=False),
)

writeback_inflight = sa.Table(
    "writeback_inflight", metadata,
    sa.Column("batch_id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # position in the batch (results come in order)
    sa.Column("key_value", sa.String(255), nullable=False),
    sa.Column("record_id", sa.String(64)),
    sa.Column("golden_id", sa.String(64)),
    sa.Column("values", Json, nullable=False),  # every mapped value the record should end with
    sa.Column("sent", Json, nullable=False),  # the fields this batch sends
    sa.Column("previous", Json),  # last written values (the audit's "old"), null when never written
)

# -- incremental stages (migration 0007) -------------------------------------------------------
# What a derived stage (a quality check, enrichment) last saw of each input, so a re-run works
# only on what changed. ``stage`` names the consumer ("check:<name>", "enrich"); ``key`` the
# input (a source reference, a golden id; "" holds the stage's own digest: rule, as-of date);
# ``digest`` the input's content when it was evaluated; ``note`` what the stage keeps of it.
incremental_state = sa.Table(
    "incremental_state", metadata,
    sa.Column("stage", sa.String(300), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("run_id", sa.String(36)),
    sa.Column("updated_at", Timestamp, nullable=False),
)
