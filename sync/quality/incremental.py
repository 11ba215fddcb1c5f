"""What quality checks last saw, so a re-run judges only records whose staged content changed.

Two kinds of state, both in ``incremental_state``:

* a **snapshot per entity** (stage ``snapshot:<entity>``): every live record's staged content
  hash when the checks last ran, shared by all checks of the entity. Comparing it with the
  live (reference, hash) pairs — read without any record data — gives the records that are
  new or changed and those that left (deleted at source). A snapshot carries a generation,
  renewed each time it is saved;
* per **check** (stage ``check:<name>``): a row ``""`` with the rule's digest and the snapshot
  generation it was evaluated against, and a row per record the check has something to say
  about: the reason it fails (simple checks), or for ``unique``, ``relationship`` and
  ``freshness`` the one value the verdict depends on, flagged ``F`` (failing) or ``P``.

A check whose rule or generation differs from what it saved (new check, edited rule, a check
that sat out runs) judges every record. Otherwise it judges the changed ones only; simple checks
carry the rest over as they are; cross-record checks re-derive verdicts from the kept values
when anything in their entities changed, and reuse the kept failing rows when nothing did.

Golden membership (which golden record a source record joined) is no input of any check type,
so it is not part of the key: with it, every resolve that merges would re-check everything.
Membership of the check's population (live, not deleted at source) is: leaving it drops the
record's state.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.quality.spec import Check
from sync.store.schema import crosswalk, incremental_state, staging

Ref = tuple[str, str, str]
SEP = "\x1f"
"""Joins a source reference into one key; the unit separator does not occur in ids we stage."""
META = ""
CHUNK = 500


def rule_digest(check: Check) -> str:
    spec = json.dumps(check.model_dump(mode="json", exclude={"description", "severity", "name"}), sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()


def ref_key(ref: Ref) -> str:
    return SEP.join(ref)


def key_ref(key: str) -> Ref:
    system, obj, source_id = key.split(SEP, 2)
    return system, obj, source_id


def system_of(key: str) -> str:
    return key.split(SEP, 1)[0]


def _delete(conn: Connection, stage: str, keys: Iterable[str]) -> None:
    st = incremental_state
    keys = list(keys)
    for start in range(0, len(keys), CHUNK):
        conn.execute(st.delete().where(st.c.stage == stage, st.c.key.in_(keys[start:start + CHUNK])))


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 5000):
        conn.execute(incremental_state.insert(), rows[start:start + 5000])


@dataclass
class Snapshot:
    """An entity's live records now, against what the checks saw last time."""

    entity: str
    live: dict[str, str]
    """Reference key -> staged content hash, for every live record of the entity."""
    staged_at: dict[str, datetime]
    generation: str | None
    """The generation the checks last evaluated against (None: never)."""
    changed: set[str] = field(default_factory=set)
    """New or changed since the last snapshot."""
    gone: set[str] = field(default_factory=set)
    """In the last snapshot, not live any more."""

    @property
    def stage(self) -> str:
        return f"snapshot:{self.entity}"

    @property
    def moved(self) -> bool:
        return bool(self.changed or self.gone)

    @classmethod
    def read(cls, conn: Connection, entity: str) -> Snapshot:
        s, c, st = staging, crosswalk, incremental_state
        query = (sa.select(s.c.source_system, s.c.source_object, s.c.source_id, s.c.content_hash, s.c.updated_at)
                 .select_from(s.join(c, sa.and_(c.c.source_system == s.c.source_system,
                                                  c.c.source_object == s.c.source_object,
                                                  c.c.source_id == s.c.source_id)))
                 .where(s.c.entity == entity, s.c.deleted.is_(False), c.c.status != "deleted"))
        live: dict[str, str] = {}
        staged_at: dict[str, datetime] = {}
        for system, obj, source_id, content_hash, updated_at in conn.execute(query):
            key = f"{system}{SEP}{obj}{SEP}{source_id}"
            live[key] = content_hash
            staged_at[key] = updated_at
        saved: dict[str, str] = dict(
            conn.execute(sa.select(st.c.key, st.c.digest).where(st.c.stage == f"snapshot:{entity}")).tuples().all())
        generation = saved.pop(META, None)
        snapshot = cls(entity, live, staged_at, generation)
        snapshot.changed = {k for k, h in live.items() if saved.get(k) != h}
        snapshot.gone = saved.keys() - live.keys()
        return snapshot

    def save(self, conn: Connection, run_id: str | None, at: datetime) -> str:
        """Record the live records as seen; returns the new generation."""
        generation = uuid.uuid4().hex
        _delete(conn, self.stage, [*self.gone, *self.changed, META])
        _insert(conn, [{"stage": self.stage, "key": k, "digest": self.live[k], "run_id": run_id, "updated_at": at}
                       for k in self.changed])
        _insert(conn, [{"stage": self.stage, "key": META, "digest": generation, "run_id": run_id, "updated_at": at}])
        return generation


class CheckState:
    """One check's kept verdicts: what it knows, what it must judge, and saving what it judged."""

    def __init__(self, conn: Connection, check: Check, snapshot: Snapshot) -> None:
        st = incremental_state
        self.conn, self.check, self.snapshot = conn, check, snapshot
        self.stage = f"check:{check.name}"
        self.rule = rule_digest(check)
        meta = conn.execute(sa.select(st.c.digest, st.c.note).where(st.c.stage == self.stage, st.c.key == META)).first()
        saved = json.loads(meta.note) if meta is not None and meta.note else {}
        self.extra: dict[str, Any] = saved.get("extra", {})
        self.full = (meta is None or meta.digest != self.rule or snapshot.generation is None
                     or saved.get("generation") != snapshot.generation)
        systems = set(check.systems) if check.systems else None
        self.in_scope = (lambda key: True) if systems is None else (lambda key: system_of(key) in systems)
        candidates = snapshot.live if self.full else snapshot.changed
        self.todo = [k for k in candidates if self.in_scope(k)]
        self.total = sum(1 for k in snapshot.live if self.in_scope(k)) if systems else len(snapshot.live)

    def kept(self, failing_only: bool = False) -> Iterator[tuple[str, str]]:
        """(key, note) rows kept from the last run for records still live and not judged now."""
        if self.full:
            return
        st = incremental_state
        query = sa.select(st.c.key, st.c.note).where(st.c.stage == self.stage, st.c.key != META)
        if failing_only:
            query = query.where(st.c.note.like("F%"))
        stale = self.snapshot.changed | self.snapshot.gone
        for key, note in self.conn.execute(query):
            if key not in stale:
                yield key, note

    def save(self, notes: dict[str, str], drop: Iterable[str], run_id: str | None, at: datetime,
             extra: dict[str, Any] | None = None) -> None:
        """Replace rows: ``notes`` (judged or re-flagged now) are written, ``drop`` removed; the
        generation recorded is filled in by :meth:`stamp` once the snapshot is saved."""
        st = incremental_state
        if self.full:
            self.conn.execute(st.delete().where(st.c.stage == self.stage))
        else:
            _delete(self.conn, self.stage, [*self.snapshot.gone, *self.snapshot.changed, *drop, *notes, META])
        self.extra = extra or {}
        _insert(self.conn, [{"stage": self.stage, "key": k, "digest": self.snapshot.live.get(k, ""), "note": n,
                             "run_id": run_id, "updated_at": at} for k, n in notes.items()])

    def stamp(self, generation: str, run_id: str | None, at: datetime) -> None:
        st = incremental_state
        self.conn.execute(st.delete().where(st.c.stage == self.stage, st.c.key == META))
        _insert(self.conn, [{"stage": self.stage, "key": META, "digest": self.rule,
                             "note": json.dumps({"generation": generation, "extra": self.extra}),
                             "run_id": run_id, "updated_at": at}])


def record_data(conn: Connection, keys: Sequence[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Staged data of the given records, a chunk of references per query."""
    s = staging
    cols = (s.c.source_system, s.c.source_object, s.c.source_id)
    refs = sorted(key_ref(k) for k in keys)
    for start in range(0, len(refs), CHUNK):
        chunk = refs[start:start + CHUNK]
        for r in conn.execute(sa.select(*cols, s.c.data).where(sa.tuple_(*cols).in_(chunk))):
            yield f"{r.source_system}{SEP}{r.source_object}{SEP}{r.source_id}", dict(r.data or {})
