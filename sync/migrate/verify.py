"""`crm2 migrate verify`: reconcile the retired system with crm2, record by record.

The source is re-read through its tap (no state: everything, deleted rows included). Each
record gets the source reference(s) target-crm2 gave it — the same mapping entries, the same
:func:`~sync.mapping.applier.source_key` — and is looked up in the store:

* crosswalk ``loaded`` / ``merged`` with a staged row → loaded / merged;
* crosswalk ``quarantined`` with an open quarantine reason, or an open quarantine row → quarantined;
* crosswalk ``deleted``, or deleted at source and never loaded → deleted;
* crosswalk ``erased`` (deleted under a retention policy, see :mod:`sync.migrate.erase`) → erased;
* anything else is **unexplained** and named (system/object/id and why).

So per object ``source = loaded + merged + quarantined + deleted + erased + unexplained``, and a
migration is proven when ``unexplained`` is zero. A deterministic sample per object (the ids
with the smallest SHA-256) is mapped again and compared field by field with what is staged;
fields that differ are named, never their values. A record whose replication key (e.g.
SystemModstamp) is newer than its load is *changed since load* — not a loss: cutover picks it
up. Crosswalk rows whose record the source no longer has are listed as *gone from source*.
Records anonymised by an erasure are counted where they belong and left out of field checks.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from dateutil import parser as dateparser

from sync.mapping.applier import Deleted, Mapped, apply_record, source_key
from sync.mapping.compiler import CompiledStream
from sync.mapping.staging import staged_data
from sync.migrate.plan import is_deleted
from sync.migrate.singer_reader import Record, replication_key, stream_entries
from sync.migrate.sources import Source
from sync.store import Store, to_json
from sync.store.schema import audit_log, crosswalk, quarantine, staging

DEFAULT_SAMPLE = 300
NAMED = 200
"""Refs kept per object and list (unexplained, changed, gone, mismatches): the counts stay exact."""
_BATCH = 2000
_CHUNK = 500


@dataclass
class Named:
    ref: str
    why: str


@dataclass
class ObjectCheck:
    """The reconciliation of one crm2 source object (a mapping entry)."""

    source: str
    name: str
    stream: str
    entity: str
    source_count: int = 0
    loaded: int = 0
    merged: int = 0
    quarantined: int = 0
    deleted: int = 0
    erased: int = 0
    unexplained: int = 0
    without_key: int = 0
    anonymised: int = 0
    changed: int = 0
    sampled: int = 0
    mismatched: int = 0
    gone: int = 0
    unexplained_refs: list[Named] = field(default_factory=list)
    changed_refs: list[str] = field(default_factory=list)
    mismatches: list[Named] = field(default_factory=list)
    gone_refs: list[str] = field(default_factory=list)

    @property
    def explained(self) -> int:
        return self.loaded + self.merged + self.quarantined + self.deleted + self.erased

    @property
    def adds_up(self) -> bool:
        return self.source_count == self.explained and self.unexplained == 0

    def note(self, kind: str, ref: str, why: str = "") -> None:
        if kind == "unexplained":
            self.unexplained += 1
            if len(self.unexplained_refs) < NAMED:
                self.unexplained_refs.append(Named(ref, why))
        elif kind == "changed":
            self.changed += 1
            if len(self.changed_refs) < NAMED:
                self.changed_refs.append(ref)
        elif kind == "mismatch":
            self.mismatched += 1
            if len(self.mismatches) < NAMED:
                self.mismatches.append(Named(ref, why))
        elif kind == "gone":
            self.gone += 1
            if len(self.gone_refs) < NAMED:
                self.gone_refs.append(ref)


@dataclass
class UnmappedStream:
    source: str
    stream: str
    records: int = 0
    quarantined: int = 0
    """Of those, held in quarantine (target-crm2 with ``unmapped_streams: quarantine``)."""


@dataclass
class VerifyReport:
    generated_at: datetime
    sources: list[str] = field(default_factory=list)
    objects: list[ObjectCheck] = field(default_factory=list)
    unmapped: list[UnmappedStream] = field(default_factory=list)
    sample_size: int = DEFAULT_SAMPLE
    run_id: str | None = None

    @property
    def unexplained(self) -> int:
        return sum(o.unexplained for o in self.objects)

    @property
    def mismatched(self) -> int:
        return sum(o.mismatched for o in self.objects)

    @property
    def changed(self) -> int:
        return sum(o.changed for o in self.objects)

    @property
    def ok(self) -> bool:
        """Zero unexplained records and zero field mismatches: what a migration team signs off."""
        return self.unexplained == 0 and self.mismatched == 0

    def as_dict(self) -> dict[str, Any]:
        return {"generated_at": self.generated_at.isoformat(), "ok": self.ok, "run_id": self.run_id,
                "sources": self.sources, "sample_size": self.sample_size,
                "totals": {"unexplained": self.unexplained, "mismatched": self.mismatched,
                           "changed": self.changed, "gone": sum(o.gone for o in self.objects),
                           "source": sum(o.source_count for o in self.objects)},
                "objects": [{**asdict(o), "adds_up": o.adds_up} for o in self.objects],
                "unmapped_streams": [asdict(u) for u in self.unmapped]}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_time(value: Any) -> datetime | None:
    """A replication-key value as an aware datetime; None when it is not a timestamp."""
    if isinstance(value, datetime):
        return _aware(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return _aware(dateparser.isoparse(value))
    except (ValueError, OverflowError):
        return None


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted paths ('address.city'), so differences are named precisely."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {"": data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def differing_fields(staged: Any, remapped: Any) -> list[str]:
    left, right = flatten(to_json(staged) or {}), flatten(to_json(remapped) or {})
    return sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))


def _sample_rank(sid: str) -> int:
    return int.from_bytes(hashlib.sha256(sid.encode("utf-8", "backslashreplace")).digest()[:8], "big")


@dataclass
class _XRow:
    status: str
    updated_at: datetime


class _ObjectState:
    """What verify keeps per object while the source streams by."""

    def __init__(self, check: ObjectCheck, plan: CompiledStream | None, rk: str | None, sample: int) -> None:
        self.check, self.plan, self.rk, self.sample = check, plan, rk, sample
        self.seen: set[str] = set()
        self.pending: list[tuple[str, Any]] = []
        self.keyless = 0
        self.heap: list[tuple[int, str, Any]] = []  # the smallest ranks, as a max-heap: (-rank, sid, record)

    def offer(self, sid: str, record: Any) -> None:
        if self.sample <= 0:
            return
        item = (-_sample_rank(sid), sid, record)
        if len(self.heap) < self.sample:
            heapq.heappush(self.heap, item)
        elif item[0] > self.heap[0][0]:
            heapq.heapreplace(self.heap, item)


class Verifier:
    """Reconciles one source with the store; see the module docstring."""

    def __init__(self, store: Store, source: Source, *, sample: int = DEFAULT_SAMPLE) -> None:
        self.store, self.source, self.sample = store, source, sample
        self.system = source.name
        self.objects: dict[str, _ObjectState] = {}
        self.unmapped: dict[str, UnmappedStream] = {}
        self.unmapped_ids: dict[str, list[str]] = {}
        self.anonymised = self._anonymised()

    def _anonymised(self) -> set[tuple[str, str]]:
        a = audit_log
        with self.store.engine.connect() as conn:
            return {(o, i) for o, i in conn.execute(sa.select(a.c.object, a.c.record_id).where(
                a.c.action == "erase", a.c.system == self.system))}

    def run(self, on_record: Callable[[int], None] | None = None) -> tuple[list[ObjectCheck], list[UnmappedStream]]:
        catalog = self.source.tap.discover()
        entries = stream_entries(catalog)
        for plan in self.source.mapping.streams.values():
            rk = replication_key(entries[plan.source_stream]) if plan.source_stream in entries else None
            check = ObjectCheck(self.system, plan.name, plan.source_stream, plan.entity.entity)
            self.objects[plan.name] = _ObjectState(check, plan, rk, self.sample)
        keys = {name: list(e.get("key_properties") or []) for name, e in entries.items()}
        for message in self.source.tap.read(None, on_record=on_record):
            if not isinstance(message, Record):
                continue
            plans = self.source.plans(message.stream)
            if not plans:
                self._unmapped(message.stream, message.record, keys.get(message.stream, []))
                continue
            for plan in plans:
                state = self.objects[plan.name]
                sid = source_key(plan, message.record)
                if sid is None:
                    state.keyless += 1
                    continue
                if sid in state.seen:
                    continue  # a tap may repeat a record; it is one source record
                state.seen.add(sid)
                state.pending.append((sid, message.record))
                if len(state.pending) >= _BATCH:
                    self._flush(state)
        for state in self.objects.values():
            self._flush(state)
            self._keyless(state)
            self._compare_sample(state)
        self._gone()
        self._unmapped_quarantine()
        return [s.check for s in self.objects.values()], list(self.unmapped.values())

    # -- per record -----------------------------------------------------------------------------
    def _ref(self, obj: str, sid: str) -> str:
        return f"{self.system}/{obj}/{sid}"

    def _flush(self, state: _ObjectState) -> None:
        if not state.pending:
            return
        batch, state.pending = state.pending, []
        obj, plan = state.check.name, state.plan
        assert plan is not None  # only mapped objects collect records
        ids = [sid for sid, _ in batch]
        xrows, staged, held = self._lookup(obj, ids)
        check = state.check
        for sid, record in batch:
            check.source_count += 1
            ref = self._ref(obj, sid)
            x = xrows.get(sid)
            if x is None:
                if sid in held:
                    check.quarantined += 1
                elif is_deleted(plan, record):
                    check.deleted += 1  # deleted at source before crm2 ever saw it
                else:
                    check.note("unexplained", ref, "not in crm2: no crosswalk row, not deleted at source")
                continue
            changed = self._changed(state, record, x)
            if x.status in ("loaded", "merged"):
                if sid not in staged:
                    check.note("unexplained", ref, f"crosswalk says {x.status} but nothing is staged")
                    continue
                setattr(check, x.status, getattr(check, x.status) + 1)
                if (obj, sid) in self.anonymised:
                    check.anonymised += 1
                elif not changed:
                    state.offer(sid, record)
            elif x.status == "quarantined":
                if sid in held:
                    check.quarantined += 1
                else:
                    check.note("unexplained", ref, "crosswalk says quarantined but no open quarantine reason")
                    continue
            elif x.status == "deleted":
                check.deleted += 1
            elif x.status == "erased":
                check.erased += 1
                continue
            else:
                check.note("unexplained", ref, f"unknown crosswalk status '{x.status}'")
                continue
            if changed:
                check.note("changed", ref)

    def _changed(self, state: _ObjectState, record: Any, x: _XRow) -> bool:
        if state.rk is None or not isinstance(record, dict):
            return False
        stamp = parse_time(record.get(state.rk))
        return stamp is not None and stamp > _aware(x.updated_at)

    def _lookup(self, obj: str, ids: Sequence[str]) -> tuple[dict[str, _XRow], set[str], set[str]]:
        c, s, q = crosswalk, staging, quarantine
        xrows: dict[str, _XRow] = {}
        staged: set[str] = set()
        held: set[str] = set()
        with self.store.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = list(ids[start:start + _CHUNK])
                for sid, status, updated in conn.execute(
                        sa.select(c.c.source_id, c.c.status, c.c.updated_at).where(
                            c.c.source_system == self.system, c.c.source_object == obj, c.c.source_id.in_(chunk))):
                    xrows[sid] = _XRow(status, updated)
                staged.update(conn.execute(sa.select(s.c.source_id).where(
                    s.c.source_system == self.system, s.c.source_object == obj, s.c.source_id.in_(chunk))).scalars())
                held.update(conn.execute(sa.select(q.c.source_id).where(
                    q.c.source_system == self.system, q.c.source_object == obj, q.c.source_id.in_(chunk),
                    q.c.resolved_at.is_(None))).scalars())
        return xrows, staged, held

    def _keyless(self, state: _ObjectState) -> None:
        if not state.keyless:
            return
        check = state.check
        check.without_key = state.keyless
        check.source_count += state.keyless
        q = quarantine
        with self.store.engine.connect() as conn:
            open_rows = conn.execute(sa.select(sa.func.count()).select_from(q).where(
                q.c.source_system == self.system, q.c.source_object == check.name, q.c.source_id.is_(None),
                q.c.resolved_at.is_(None))).scalar_one()
        if open_rows:
            check.quarantined += state.keyless  # identical keyless records share one quarantine row
        else:
            for n in range(state.keyless):
                check.note("unexplained", self._ref(check.name, f"(record without key #{n + 1})"),
                           "no usable key and no open quarantine row for it")

    # -- field sample ---------------------------------------------------------------------------
    def _compare_sample(self, state: _ObjectState) -> None:
        if not state.heap or state.plan is None:
            return
        obj = state.plan.name
        chosen = sorted(state.heap, key=lambda item: -item[0])
        ids = [sid for _, sid, _ in chosen]
        data: dict[str, Any] = {}
        s = staging
        with self.store.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                data.update((r.source_id, r.data) for r in conn.execute(sa.select(s.c.source_id, s.c.data).where(
                    s.c.source_system == self.system, s.c.source_object == obj, s.c.source_id.in_(chunk))))
        check = state.check
        for _, sid, record in chosen:
            if sid not in data:
                continue
            check.sampled += 1
            result = apply_record(state.plan, record)
            if isinstance(result, Mapped):
                fields = differing_fields(data[sid], staged_data(result))
                if fields:
                    check.note("mismatch", self._ref(obj, sid), "fields differ: " + ", ".join(fields))
            elif isinstance(result, Deleted):
                check.note("mismatch", self._ref(obj, sid), "staged as a live record, deleted at source")
            else:
                where = f" (field '{result.field}')" if result.field else ""
                check.note("mismatch", self._ref(obj, sid), f"staged, but the mapping now quarantines it{where}")

    # -- the other direction --------------------------------------------------------------------
    def _gone(self) -> None:
        c = crosswalk
        with self.store.engine.connect() as conn:
            rows = conn.execution_options(yield_per=5000).execute(
                sa.select(c.c.source_object, c.c.source_id).where(
                    c.c.source_system == self.system, c.c.status != "erased")
                .order_by(c.c.source_object, c.c.source_id))
            for obj, sid in rows:
                state = self.objects.get(obj)
                if state is None:
                    state = self._orphan_object(obj)
                if sid not in state.seen:
                    state.check.note("gone", self._ref(obj, sid))

    def _orphan_object(self, obj: str) -> _ObjectState:
        """An object crm2 holds for this source that the mapping no longer has."""
        state = _ObjectState(ObjectCheck(self.system, obj, "(not in the mapping)", "?"), None, None, 0)
        self.objects[obj] = state
        return state

    # -- streams the mapping does not read ----------------------------------------------------
    def _unmapped(self, stream: str, record: Any, keys: list[str]) -> None:
        entry = self.unmapped.setdefault(stream, UnmappedStream(self.system, stream))
        entry.records += 1
        if keys and isinstance(record, dict) and all(record.get(k) is not None for k in keys):
            self.unmapped_ids.setdefault(stream, []).append(":".join(str(record[k]) for k in keys))

    def _unmapped_quarantine(self) -> None:
        q = quarantine
        with self.store.engine.connect() as conn:
            for stream, entry in self.unmapped.items():
                ids = self.unmapped_ids.get(stream, [])
                held: set[str] = set()
                for start in range(0, len(ids), _CHUNK):
                    held.update(conn.execute(sa.select(q.c.source_id).where(
                        q.c.source_system == self.system, q.c.source_object == stream,
                        q.c.source_id.in_(ids[start:start + _CHUNK]), q.c.resolved_at.is_(None))).scalars())
                entry.quarantined = len(held)


def verify(store: Store, sources: Iterable[Source], *, sample: int = DEFAULT_SAMPLE,
           on_record: Callable[[str, int], None] | None = None) -> VerifyReport:
    """Reconcile every source with the store (see the module docstring)."""
    report = VerifyReport(generated_at=datetime.now(UTC), sample_size=sample)
    for source in sources:
        report.sources.append(source.name)
        progress = (lambda n, name=source.name: on_record(name, n)) if on_record else None
        objects, unmapped = Verifier(store, source, sample=sample).run(progress)
        report.objects += objects
        report.unmapped += unmapped
    return report
