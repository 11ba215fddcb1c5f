"""The writeback's memory in the crm2 store: last written values, the retry queue, the write-ahead log.

Ordering is what makes a rerun after a crash write nothing twice: a batch is recorded (with
every row's intended values) and committed *before* it is sent; its outcome — last written
values, audit rows, queue changes — is committed in one transaction that also deletes the
batch. Whatever is still in the write-ahead log at startup was sent, or about to be, when the
process died, and :mod:`writeback_recover` settles it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.store import AuditEntry, Store
from sync.store.schema import writeback_batches, writeback_inflight, writeback_queue, writeback_state
from sync.store.store import now, to_json
from sync.writeback.mapping import Intent, Operation
from sync.writeback.values import stored

SYSTEM = "salesforce"
CHUNK = 400  # keys per IN (...): well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class LastWritten:
    record_id: str | None
    values: dict[str, Any]


@dataclass
class Change:
    """One record to send: its intent, the fields this write sends, and what crm2 wrote before."""

    intent: Intent
    sent: dict[str, Any]
    previous: dict[str, Any] | None
    record_id: str | None = None

    def __post_init__(self) -> None:
        if self.record_id is None:
            self.record_id = self.intent.record_id


@dataclass
class Outcome:
    change: Change
    success: bool
    record_id: str | None = None
    created: bool = False
    error_code: str | None = None
    error_message: str = ""


@dataclass
class PendingBatch:
    """A batch read back from the write-ahead log."""

    batch_id: str
    object: str
    method: str
    operation: Operation
    key_field: str
    job_id: str | None
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class Queued:
    intent: Intent
    reason: str
    error_code: str | None
    attempts: int


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class WritebackStore:
    def __init__(self, store: Store, run_id: str, *, system: str = SYSTEM) -> None:
        self.store = store
        self.run_id = run_id
        self.system = system

    # -- last written values ------------------------------------------------------------------

    def last_written(self, obj: str, key_field: str, keys: Sequence[str]) -> dict[str, LastWritten]:
        s = writeback_state
        found: dict[str, LastWritten] = {}
        with self.store.engine.connect() as conn:
            for part in _chunks(list(keys)):
                for row in conn.execute(sa.select(s.c.key_value, s.c.record_id, s.c["values"]).where(
                        s.c.system == self.system, s.c.object == obj, s.c.key_field == key_field,
                        s.c.key_value.in_(part))):
                    found[row.key_value] = LastWritten(row.record_id, dict(row[2] or {}))
        return found

    # -- retry queue --------------------------------------------------------------------------

    def queued(self, operation_for: Callable[[str], Operation]) -> list[Queued]:
        """Every queued intent; ``operation_for(key_field)`` says how the current settings write it."""
        q = writeback_queue
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(q).where(q.c.system == self.system)
                                .order_by(q.c.object, q.c.key_field, q.c.key_value)).mappings().all()
        out = []
        for row in rows:
            intent = Intent(row["object"], operation_for(row["key_field"]), row["key_field"], row["key_value"],
                            row["record_id"], row["golden_id"], dict(row["values"] or {}))
            out.append(Queued(intent, row["reason"], row["error_code"], int(row["attempts"] or 0)))
        return out

    def drop_queued(self, keys: Iterable[tuple[str, str, str]]) -> None:
        keys = list(keys)
        if not keys:
            return
        with self.store.begin() as conn:
            self._delete_queue(conn, keys)

    def _delete_queue(self, conn: Connection, keys: Sequence[tuple[str, str, str]]) -> None:
        q = writeback_queue
        by_kind: dict[tuple[str, str], list[str]] = {}
        for obj, key_field, key_value in keys:
            by_kind.setdefault((obj, key_field), []).append(key_value)
        for (obj, key_field), values in by_kind.items():
            for part in _chunks(values):
                conn.execute(q.delete().where(q.c.system == self.system, q.c.object == obj,
                                              q.c.key_field == key_field, q.c.key_value.in_(part)))

    def enqueue(self, intents: Sequence[Intent], reason: str, *, error_code: str | None = None,
                error_message: str | None = None, conn: Connection | None = None) -> None:
        """Keep intents to write on a later run (replacing any older entry for the same record)."""
        if not intents:
            return
        if conn is None:
            with self.store.begin() as own:
                self._enqueue(own, [(i, error_code, error_message) for i in intents], reason)
        else:
            self._enqueue(conn, [(i, error_code, error_message) for i in intents], reason)

    def _enqueue(self, conn: Connection, items: Sequence[tuple[Intent, str | None, str | None]],
                 reason: str) -> None:
        q = writeback_queue
        keys = [i.key for i, _, _ in items]
        previous: dict[tuple[str, str, str], tuple[int, Any]] = {}
        by_kind: dict[tuple[str, str], list[str]] = {}
        for obj, key_field, key_value in keys:
            by_kind.setdefault((obj, key_field), []).append(key_value)
        for (obj, key_field), values in by_kind.items():
            for part in _chunks(values):
                for row in conn.execute(sa.select(q.c.key_value, q.c.attempts, q.c.first_at).where(
                        q.c.system == self.system, q.c.object == obj, q.c.key_field == key_field,
                        q.c.key_value.in_(part))):
                    previous[(obj, key_field, row.key_value)] = (int(row.attempts or 0), row.first_at)
        self._delete_queue(conn, keys)
        stamp = now()
        rows = []
        for intent, code, message in items:
            attempts, first_at = previous.get(intent.key, (0, stamp))
            rows.append({"system": self.system, "object": intent.object, "key_field": intent.key_field,
                         "key_value": intent.key_value, "record_id": intent.record_id,
                         "golden_id": intent.golden_id, "values": to_json(_stored(intent.values)),
                         "reason": reason, "error_code": code, "error_message": message,
                         "attempts": attempts + (1 if reason == "rejected" else 0), "run_id": self.run_id,
                         "first_at": first_at, "last_at": stamp})
        conn.execute(q.insert(), rows)

    # -- write-ahead log ----------------------------------------------------------------------

    def begin_batch(self, obj: str, method: str, operation: Operation, key_field: str,
                    changes: Sequence[Change]) -> str:
        """Record a batch as in flight (committed) before any of it is sent; returns its id."""
        batch_id = str(uuid.uuid4())
        with self.store.begin() as conn:
            conn.execute(writeback_batches.insert().values(
                batch_id=batch_id, system=self.system, object=obj, method=method, operation=operation,
                key_field=key_field, job_id=None, run_id=self.run_id, created_at=now()))
            conn.execute(writeback_inflight.insert(), [
                {"batch_id": batch_id, "seq": n, "key_value": c.intent.key_value, "record_id": c.record_id,
                 "golden_id": c.intent.golden_id, "values": to_json(_stored(c.intent.values)),
                 "sent": to_json(_stored(c.sent)),
                 "previous": to_json(_stored(c.previous)) if c.previous is not None else None}
                for n, c in enumerate(changes)])
        return batch_id

    def set_job_id(self, batch_id: str, job_id: str) -> None:
        with self.store.begin() as conn:
            conn.execute(writeback_batches.update().where(writeback_batches.c.batch_id == batch_id)
                         .values(job_id=job_id))

    def pending_batches(self) -> list[PendingBatch]:
        b, f = writeback_batches, writeback_inflight
        with self.store.engine.connect() as conn:
            batches = conn.execute(sa.select(b).where(b.c.system == self.system)
                                   .order_by(b.c.created_at, b.c.batch_id)).mappings().all()
            out = []
            for row in batches:
                batch = PendingBatch(row["batch_id"], row["object"], row["method"], row["operation"],
                                     row["key_field"], row["job_id"])
                for item in conn.execute(sa.select(f).where(f.c.batch_id == row["batch_id"])
                                         .order_by(f.c.seq)).mappings():
                    intent = Intent(row["object"], row["operation"], row["key_field"], item["key_value"],
                                    item["record_id"], item["golden_id"], dict(item["values"] or {}))
                    batch.changes.append(Change(intent, dict(item["sent"] or {}),
                                                dict(item["previous"]) if item["previous"] is not None else None,
                                                item["record_id"]))
                out.append(batch)
        return out

    # -- outcomes -----------------------------------------------------------------------------

    def settle(self, batch_id: str | None, outcomes: Sequence[Outcome], *,
               requeue: Sequence[tuple[Intent, str]] = ()) -> None:
        """One transaction: last written values and audit rows for successes, the queue for failures
        (and ``requeue``: (intent, reason) whose fate is otherwise settled), the batch gone."""
        with self.store.begin() as conn:
            done = [o for o in outcomes if o.success]
            if done:
                self._record_written(conn, done)
            for o in outcomes:
                if not o.success:
                    self._enqueue(conn, [(_with_id(o.change.intent, o.change.record_id), o.error_code,
                                          o.error_message[:1000] or None)], "rejected")
            for intent, reason in requeue:
                self._enqueue(conn, [(intent, None, None)], reason)
            if batch_id is not None:
                conn.execute(writeback_inflight.delete().where(writeback_inflight.c.batch_id == batch_id))
                conn.execute(writeback_batches.delete().where(writeback_batches.c.batch_id == batch_id))

    def _record_written(self, conn: Connection, done: Sequence[Outcome]) -> None:
        s = writeback_state
        stamp = now()
        self._delete_queue(conn, [o.change.intent.key for o in done])
        by_kind: dict[tuple[str, str], list[str]] = {}
        for o in done:
            by_kind.setdefault((o.change.intent.object, o.change.intent.key_field), []).append(
                o.change.intent.key_value)
        for (obj, key_field), values in by_kind.items():
            for part in _chunks(values):
                conn.execute(s.delete().where(s.c.system == self.system, s.c.object == obj,
                                              s.c.key_field == key_field, s.c.key_value.in_(part)))
        rows, audits = [], []
        for o in done:
            intent, previous = o.change.intent, o.change.previous
            # what Salesforce now holds of ours: what was there before, with this write's fields on top
            written = {**(previous or {}), **_stored(o.change.sent)}
            record_id = o.record_id or o.change.record_id
            rows.append({"system": self.system, "object": intent.object, "key_field": intent.key_field,
                         "key_value": intent.key_value, "record_id": record_id, "golden_id": intent.golden_id,
                         "values": to_json(written), "run_id": self.run_id, "written_at": stamp})
            for name, new in o.change.sent.items():
                old = (previous or {}).get(name)
                if previous is None or name not in previous or old != stored(new):
                    audits.append(AuditEntry("write", self.system, intent.object, record_id or intent.key_value,
                                             name, old, stored(new)))
        conn.execute(s.insert(), rows)
        self.store.audit(conn, audits, self.run_id)

    # -- the tap's bookmark -------------------------------------------------------------------

    def save_bookmark(self, name: str, state: Mapping[str, Any]) -> None:
        with self.store.begin() as conn:
            self.store.set_bookmark(conn, name, state, self.run_id)


def _stored(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: stored(v) for k, v in values.items()}


def _with_id(intent: Intent, record_id: str | None) -> Intent:
    if record_id is None or intent.record_id == record_id:
        return intent
    return Intent(intent.object, intent.operation, intent.key_field, intent.key_value, record_id,
                  intent.golden_id, intent.values)
