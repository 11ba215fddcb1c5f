"""Write one mapped batch to the crm2 store: staging, crosswalk and quarantine in one transaction.

The crosswalk's content hash is the *source* record's fingerprint under its mapping plan (see
:func:`fingerprint`), not the mapped data's: a record whose fingerprint is unchanged since the
last run is skipped before it is validated or mapped, which is what makes a re-run cheap. A
changed mapping plan, tap schema or crm2 version changes every fingerprint, so nothing stale
survives such a change. Downstream stages compare hashes only for equality, so this is safe.

Crosswalk status after a write says what became of each source record: ``loaded`` (staged),
``deleted`` (deleted at source) or ``quarantined`` (the mapping rejected it; the reason and a
masked copy are in the quarantine table, and the crosswalk row exists even though nothing was
staged, so the record is accounted for and its unchanged repeat is skipped). A record that maps
again after a quarantine releases its open quarantine rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.mapping.staging import same_content
from sync.store import Store
from sync.store import crosswalk as xw
from sync.store.schema import crosswalk, quarantine, staging
from sync.store.store import QuarantinedRecord, StagedRecord, StageResult, now

_CHUNK = 500  # ids per IN (...) query: well under SQLite's bound-parameter limit

VOLATILE_FIELDS = frozenset({"_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at", "_sdc_sequence",
                             "_sdc_sync_started_at", "_sdc_table_version"})
"""Singer metadata that differs on every run for the same record: left out of fingerprints."""


def canonical(value: Any) -> str:
    """One spelling per JSON value (sorted keys, ASCII escapes so lone surrogates survive)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)


def digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("ascii", "backslashreplace"))
        h.update(b"\x1f")
    return h.hexdigest()


def fingerprint(context: str, record: Any) -> str:
    """The content hash kept in the crosswalk: the record under one plan, schema and crm2 version.

    The record's ``repr`` is the encoding: for JSON-born values (dicts, lists, text, ints,
    Decimals, floats, booleans, None) different values always print differently, and it is three
    times cheaper than sorted JSON, which matters when a re-run skips every record. It follows
    the record's key order; a tap that reorders keys only costs one re-mapping, never a wrong skip.
    """
    if isinstance(record, dict) and not VOLATILE_FIELDS.isdisjoint(record):
        record = {k: v for k, v in record.items() if k not in VOLATILE_FIELDS}
    base = _CONTEXTS.get(context)
    if base is None:
        base = _CONTEXTS[context] = hashlib.sha256(context.encode("ascii", "backslashreplace"))
    h = base.copy()  # the context is hashed once, not once per record
    h.update(repr(record).encode("utf-8", "backslashreplace"))
    return h.hexdigest()


_CONTEXTS: dict[str, Any] = {}


@dataclass(frozen=True)
class FingerprintedRecord(StagedRecord):
    """A staged record whose content hash is its source fingerprint (see the module docstring)."""

    fingerprint: str = ""

    @property
    def hash(self) -> str:
        return self.fingerprint


class Known(NamedTuple):
    """What the crosswalk already holds for one source id."""

    content_hash: str
    status: str


@dataclass
class Quarantined:
    """A record the mapping (or the tap's schema, or the store) rejected."""

    source_id: str | None
    field: str | None
    reason: str
    record: Any  # masked
    fingerprint: str | None = None


@dataclass
class Outcomes:
    """What one plan made of one batch, ready to write."""

    staged: list[FingerprintedRecord] = field(default_factory=list)
    deleted: list[FingerprintedRecord] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.staged) + len(self.deleted) + len(self.quarantined)

    def split(self) -> list[Outcomes]:
        """One Outcomes per record, for writing records one at a time after a batch failed."""
        return ([Outcomes(staged=[r]) for r in self.staged] + [Outcomes(deleted=[r]) for r in self.deleted]
                + [Outcomes(quarantined=[q]) for q in self.quarantined])


@dataclass
class Written:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0


def _ref(table: sa.Table, system: str, obj: str) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.source_system == system, table.c.source_object == obj)


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def known(conn: Connection, system: str, obj: str, ids: Sequence[str]) -> dict[str, Known]:
    """Crosswalk hash and status for these ids (absent ids are new)."""
    c = crosswalk
    found: dict[str, Known] = {}
    for chunk in _chunks(ids):
        rows = conn.execute(sa.select(c.c.source_id, c.c.content_hash, c.c.status)
                            .where(_ref(c, system, obj), c.c.source_id.in_(chunk))).all()
        found.update({sid: Known(digest_, status) for sid, digest_, status in rows})  # a tuple: cheap to build
    return found


def _staged_ids(conn: Connection, system: str, obj: str, ids: Sequence[str]) -> set[str]:
    s = staging
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(conn.execute(sa.select(s.c.source_id).where(_ref(s, system, obj), s.c.source_id.in_(chunk)))
                     .scalars())
    return found


class BatchWriter:
    """Writes the outcomes of one plan into the store within the caller's transaction."""

    def __init__(self, store: Store, source_system: str, run_id: str | None) -> None:
        self.store, self.system, self.run_id = store, source_system, run_id

    def write(self, conn: Connection, stream: str, obj: str, entity: str, outcomes: Outcomes,
              known_rows: dict[str, Known]) -> Written:
        written = Written()
        touched = [r.source_id for r in (*outcomes.staged, *outcomes.deleted)]
        touched += [q.source_id for q in outcomes.quarantined if q.source_id is not None]
        # A crosswalk row without a staging row is a record only ever quarantined: drop it so the
        # store inserts the record as new (store.stage updates staging only where a row exists).
        rewritten = sorted({r.source_id for r in (*outcomes.staged, *outcomes.deleted)} & known_rows.keys())
        orphans = sorted(set(rewritten) - _staged_ids(conn, self.system, obj, rewritten)) if rewritten else []
        self._delete_crosswalk(conn, obj, orphans)
        held = [i for i in set(touched) if i in known_rows and known_rows[i].status == "quarantined"]
        self._resolve_quarantine(conn, stream, obj, held)
        staged = outcomes.staged
        if staged:
            echoes = self._touched_only(conn, obj, staged, known_rows)
            staged = [r for r in staged if r.source_id not in echoes]
            written.unchanged += len(echoes)
        if staged:
            # known_rows was read under the run lock just before: when it has none of the batch's
            # records, none is in the crosswalk and the store need not look them up again
            result: StageResult = self.store.stage(conn, staged, self.run_id, all_new=not known_rows)
            written.inserted, written.updated = result.inserted, result.updated
            written.unchanged += result.unchanged
            back = [r.source_id for r in outcomes.staged
                    if r.source_id in known_rows and known_rows[r.source_id].status in ("quarantined", "deleted")]
            self._release(conn, obj, back)
        if outcomes.deleted:
            result = self.store.stage(conn, outcomes.deleted, self.run_id)
            written.deleted = result.inserted + result.updated
            written.unchanged += result.unchanged
        if outcomes.quarantined:
            written.quarantined = self._quarantine(conn, stream, obj, entity, outcomes.quarantined, known_rows)
        return written

    def _touched_only(self, conn: Connection, obj: str, records: Sequence[FingerprintedRecord],
                      known_rows: dict[str, Known]) -> set[str]:
        """Loaded records whose new version differs only in its change time: keep the staged row
        as it is (resolve and enrich see no change) and remember the new fingerprint, so the same
        version is skipped cheaply next time."""
        live = {r.source_id: r for r in records
                if r.source_id in known_rows and known_rows[r.source_id].status in ("loaded", "merged")}
        s = staging
        echoes: set[str] = set()
        for chunk in _chunks(sorted(live)):
            for sid, data, deleted in conn.execute(sa.select(s.c.source_id, s.c.data, s.c.deleted).where(
                    _ref(s, self.system, obj), s.c.source_id.in_(chunk))):
                if not deleted and same_content(data or {}, live[sid].data):
                    echoes.add(sid)
        xw.rehash(conn, self.system, obj, {sid: live[sid].fingerprint for sid in echoes})
        return echoes

    def _delete_crosswalk(self, conn: Connection, obj: str, ids: Sequence[str]) -> None:
        for chunk in _chunks(list(ids)):
            xw.forget(conn, self.system, obj, chunk)

    def _resolve_quarantine(self, conn: Connection, stream: str, obj: str, ids: Sequence[str]) -> None:
        """Close this target's open quarantine rows for records that now have a newer outcome."""
        q = quarantine
        for chunk in _chunks(list(ids)):
            conn.execute(q.update().where(_ref(q, self.system, obj), q.c.stream == stream, q.c.source_id.in_(chunk),
                                          q.c.resolved_at.is_(None)).values(resolved_at=now()))

    def _release(self, conn: Connection, obj: str, ids: Sequence[str]) -> None:
        """Mark records that map again as loaded, unless a quality check still holds them."""
        stamp = now()
        for chunk in _chunks(list(ids)):
            xw.release(conn, self.system, obj, chunk, run_id=self.run_id, at=stamp,
                       from_statuses=(xw.Status.QUARANTINED, xw.Status.DELETED), unless_held=True)

    def _quarantine(self, conn: Connection, stream: str, obj: str, entity: str, items: Sequence[Quarantined],
                    known_rows: dict[str, Known]) -> int:
        stamp = now()
        keyed = {q.source_id: q for q in items if q.source_id is not None}  # last one wins within a batch
        keyless = dedupe_keyless(conn, stream, self.system, obj, [q for q in items if q.source_id is None])
        fresh = [q for q in keyed.values() if q.source_id not in known_rows]
        xw.add(conn, [{"source_system": self.system, "source_object": obj, "source_id": q.source_id,
                       "entity": entity, "content_hash": q.fingerprint or "", "status": xw.Status.QUARANTINED,
                       "run_id": self.run_id, "updated_at": stamp} for q in fresh])
        for q in keyed.values():
            if q.source_id in known_rows:
                xw.hold(conn, self.system, obj, q.source_id, run_id=self.run_id, at=stamp,
                        content_hash=q.fingerprint or "")
        rows = [*keyed.values(), *keyless]
        self.store.quarantine(conn, [
            QuarantinedRecord(stream=stream, source_system=self.system, source_object=obj, source_id=q.source_id,
                              reason=q.reason, field=q.field, record=q.record) for q in rows], self.run_id)
        return len(items)

    def quarantine_unmapped(self, conn: Connection, stream: str, items: Sequence[Quarantined]) -> int:
        """Records of a stream the mapping does not mention: kept, once, with the reason."""
        keyed = {q.source_id: q for q in items if q.source_id is not None}  # the last version wins
        held: dict[str, str] = {}
        q = quarantine
        for chunk in _chunks(sorted(keyed)):
            held.update({r.source_id: canonical([r.field, r.reason, r.record]) for r in conn.execute(
                sa.select(q.c.source_id, q.c.field, q.c.reason, q.c.record).where(
                    _ref(q, self.system, stream), q.c.stream == stream, q.c.source_id.in_(chunk),
                    q.c.resolved_at.is_(None)))})
        # One open row per record: the same again adds nothing, a newer version replaces the old.
        fresh = {sid: i for sid, i in keyed.items() if held.get(sid) != canonical([i.field, i.reason, i.record])}
        self._resolve_quarantine(conn, stream, stream, [sid for sid in fresh if sid in held])
        rows = [*fresh.values(), *dedupe_keyless(conn, stream, self.system, stream,
                                                 [i for i in items if i.source_id is None])]
        self.store.quarantine(conn, [
            QuarantinedRecord(stream=stream, source_system=self.system, source_object=stream, source_id=i.source_id,
                              reason=i.reason, field=i.field, record=i.record) for i in rows], self.run_id)
        return len(items)


def dedupe_keyless(conn: Connection, stream: str, system: str, obj: str,
                   items: Sequence[Quarantined]) -> list[Quarantined]:
    """Records without a usable id, minus those already held open in quarantine for the same reason.

    Without an id there is no crosswalk row to remember them by, so the open quarantine rows
    themselves are compared (masked copy and reason): re-sending the same input adds nothing.
    """
    if not items:
        return []
    q = quarantine
    held = {canonical([r.field, r.reason, r.record]) for r in conn.execute(
        sa.select(q.c.field, q.c.reason, q.c.record).where(_ref(q, system, obj), q.c.stream == stream,
                                                           q.c.source_id.is_(None), q.c.resolved_at.is_(None)))}
    fresh, seen = [], set()
    for item in items:
        key = canonical([item.field, item.reason, item.record])
        if key not in held and key not in seen:
            seen.add(key)
            fresh.append(item)
    return fresh
