"""What each quality check last saw of each record, so a re-run judges only what changed.

A check's verdict on a record is a function of the record's staged content and of the check's
rule; for ``unique`` and ``relationship`` also of other records (a value shared, a customer that
exists). So per check and live record the store keeps the staged content hash it judged and what
it learned: the reason it failed (simple checks) or the one value the verdict depends on
(``unique``, ``relationship``, ``freshness``). A re-run reads only the (reference, content hash)
pairs of the entity — no record data — judges the records whose hash differs or that are new,
drops those that left (deleted at source), and re-derives the cross-record verdicts from the
kept values, which costs set look-ups, not parsing. A changed rule discards the check's state:
a full re-check.

Golden membership (which golden record a source record joined) is not an input of any check
type, so it is not part of the key: including it would re-check every record after every
resolve that merges. A record's membership in the check's population (live, not deleted at
source, in the check's systems) is: leaving it drops the record's state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.quality.spec import Check
from sync.store.schema import crosswalk, incremental_state, staging

Ref = tuple[str, str, str]
SEP = "\x1f"
"""Joins a source reference into one key; the unit separator does not occur in ids we stage."""
RULE_KEY = ""
FETCH_CHUNK = 500


def rule_digest(check: Check) -> str:
    spec = json.dumps(check.model_dump(mode="json", exclude={"description", "severity"}), sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()


def ref_key(ref: Ref) -> str:
    return SEP.join(ref)


def _ref(key: str) -> Ref:
    system, obj, source_id = key.split(SEP, 2)
    return system, obj, source_id


@dataclass
class Live:
    """An entity's live staged records: content hash and staging time per reference."""

    hashes: dict[Ref, str]
    staged_at: dict[Ref, datetime]


def live_records(conn: Connection, entity: str, systems: Sequence[str] | None) -> Live:
    """(reference → content hash, staged time) of an entity's live records; reads no data."""
    s, c = staging, crosswalk
    query = (sa.select(s.c.source_system, s.c.source_object, s.c.source_id, s.c.content_hash, s.c.updated_at)
             .select_from(s.join(c, sa.and_(c.c.source_system == s.c.source_system,
                                              c.c.source_object == s.c.source_object,
                                              c.c.source_id == s.c.source_id)))
             .where(s.c.entity == entity, s.c.deleted.is_(False), c.c.status != "deleted"))
    if systems:
        query = query.where(s.c.source_system.in_(list(systems)))
    hashes: dict[Ref, str] = {}
    staged_at: dict[Ref, datetime] = {}
    for r in conn.execute(query):
        ref = (r.source_system, r.source_object, r.source_id)
        hashes[ref] = r.content_hash
        staged_at[ref] = r.updated_at
    return Live(hashes, staged_at)


def record_data(conn: Connection, refs: Sequence[Ref]) -> Iterator[tuple[Ref, dict[str, Any]]]:
    """Staged data of the given records, a chunk of references per query."""
    s = staging
    cols = (s.c.source_system, s.c.source_object, s.c.source_id)
    ordered = sorted(refs)
    for start in range(0, len(ordered), FETCH_CHUNK):
        chunk = ordered[start:start + FETCH_CHUNK]
        for r in conn.execute(sa.select(*cols, s.c.data).where(sa.tuple_(*cols).in_(chunk))):
            yield (r.source_system, r.source_object, r.source_id), dict(r.data or {})


@dataclass
class Kept:
    """What a check kept about one record when it last judged it."""

    digest: str
    reason: str | None
    value: Any


class CheckState:
    """One check's saved state: load it, say what changed, save what was judged."""

    def __init__(self, conn: Connection, check: Check) -> None:
        self.stage = f"check:{check.name}"
        self.rule = rule_digest(check)
        st = incremental_state
        rows = conn.execute(sa.select(st.c.key, st.c.digest, st.c.value).where(st.c.stage == self.stage)).all()
        saved_rule = next((r.digest for r in rows if r.key == RULE_KEY), None)
        self.rule_changed = saved_rule != self.rule
        self.kept: dict[Ref, Kept] = {} if self.rule_changed else {
            _ref(r.key): Kept(r.digest, (r.value or {}).get("reason"), (r.value or {}).get("value"))
            for r in rows if r.key != RULE_KEY}
        self._had_rows = bool(rows)

    def changed(self, live: dict[Ref, str]) -> tuple[list[Ref], list[Ref]]:
        """(records to judge: new or changed content, records that left since the last run)."""
        new = [ref for ref, h in live.items() if (k := self.kept.get(ref)) is None or k.digest != h]
        gone = [ref for ref in self.kept if ref not in live]
        return new, gone

    def save(self, conn: Connection, judged: dict[Ref, Kept], gone: Sequence[Ref], run_id: str | None,
             at: datetime) -> None:
        st = incremental_state
        if self.rule_changed and self._had_rows:
            conn.execute(st.delete().where(st.c.stage == self.stage))
        else:
            stale = [ref_key(ref) for ref in (*gone, *(r for r in judged if r in self.kept))]
            for start in range(0, len(stale), FETCH_CHUNK):
                chunk = stale[start:start + FETCH_CHUNK]
                conn.execute(st.delete().where(st.c.stage == self.stage, st.c.key.in_(chunk)))
        rows = [{"stage": self.stage, "key": ref_key(ref), "digest": k.digest,
                 "value": {"reason": k.reason, "value": k.value}, "run_id": run_id, "updated_at": at}
                for ref, k in judged.items()]
        if self.rule_changed:
            rows.append({"stage": self.stage, "key": RULE_KEY, "digest": self.rule, "value": None,
                         "run_id": run_id, "updated_at": at})
        if rows:
            conn.execute(st.insert(), rows)
