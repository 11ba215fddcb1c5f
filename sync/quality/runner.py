"""Run quality checks over staged records, store the results, act on severities.

Nothing is ever deleted: a quarantined record stays in staging with crosswalk status
``quarantined`` and a reason, and comes back (status ``loaded``, picked up by the next
resolve) on the first run where it passes again. A ``fail`` result changes no record; the
caller must stop before resolving (``CheckRun.failed``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.quality.incremental import CheckState, Snapshot, key_ref, record_data, ref_key, system_of
from sync.quality.rules import failure
from sync.quality.spec import (
    Check,
    ChecksConfig,
    Freshness,
    Relationship,
    RowCountChange,
    Unique,
)
from sync.resolve.blocking import field_value
from sync.resolve.engine import not_indexed
from sync.stage_marks import mid_stage
from sync.store import crosswalk as xw
from sync.store.marks import staged_mark
from sync.store.schema import check_results, crosswalk, incremental_state, quarantine, staging
from sync.store.store import QuarantinedRecord, Store, now

SAMPLE = 20  # failing source ids kept per result, enough to start looking
STREAM_PREFIX = "check:"
STAGE_MARK = "checks"
"""incremental_state stage of the whole checks stage: its config, the staged mark and the results."""


@dataclass
class CheckResult:
    check: str
    entity: str
    severity: str
    passed: bool
    failing: int
    total: int
    details: dict[str, Any] = field(default_factory=dict)
    evaluated: int = 0
    """Records judged in this run (new, changed, or all after a rule change); the rest of
    ``total`` carried their verdict over from the last run."""
    judges_records: bool = True
    """False for a row count: it counts records and judges none, so carries nothing over."""


@dataclass
class CheckRun:
    run_id: str | None
    results: list[CheckResult]
    quarantined: int = 0
    released: int = 0

    @property
    def evaluated(self) -> int:
        return sum(r.evaluated for r in self.results)

    @property
    def carried_over(self) -> int:
        return sum(r.total - r.evaluated for r in self.results if r.judges_records)

    @property
    def failed(self) -> bool:
        """A check with severity 'fail' did not pass: stop before golden records change."""
        return any(r.severity == "fail" and not r.passed for r in self.results)


Ref = tuple[str, str, str]


def _records(conn: Connection, entity: str, systems: Sequence[str] | None,
             page: int = 5000) -> Iterator[tuple[Ref, dict[str, Any], datetime]]:
    """Live staged records of an entity (not deleted at source), in pages."""
    s, c = staging, crosswalk
    cols = (s.c.source_system, s.c.source_object, s.c.source_id)
    last: Ref | None = None
    while True:
        query = (sa.select(*cols, s.c.data, s.c.updated_at).select_from(s.join(c, sa.and_(
            c.c.source_system == s.c.source_system, c.c.source_object == s.c.source_object,
            c.c.source_id == s.c.source_id)))
            .where(not_indexed(s.c.entity) == entity, s.c.deleted.is_(False), c.c.status != "deleted")
            .order_by(*cols).limit(page))
        if systems:
            query = query.where(s.c.source_system.in_(list(systems)))
        if last is not None:
            query = query.where(sa.tuple_(*cols) > sa.tuple_(*(sa.literal(v) for v in last)))
        rows = conn.execute(query).all()
        if not rows:
            return
        for r in rows:
            yield (r.source_system, r.source_object, r.source_id), dict(r.data or {}), r.updated_at
        last = (rows[-1].source_system, rows[-1].source_object, rows[-1].source_id)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return _aware(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return None


def _judged(conn: Connection, check: Check, state: CheckState) -> Iterator[tuple[str, dict[str, Any]]]:
    """Data of the records this check has to judge: new, changed, or all of them."""
    if len(state.todo) * 5 > len(state.snapshot.live):  # most of the entity: one ordered scan beats look-ups
        wanted = set(state.todo)
        for ref, data, _ in _records(conn, check.entity, check.systems):
            key = ref_key(ref)
            if key in wanted:
                yield key, data
    else:
        yield from record_data(conn, state.todo)


def _value(data: dict[str, Any], name: str) -> str | None:
    value = field_value(data, name)
    return None if value in (None, "") else str(value)


class _Snapshots:
    """Each entity's snapshot, read once per run, shared by its checks, saved at the end."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.read: dict[str, Snapshot] = {}
        self.states: list[CheckState] = []

    def __call__(self, entity: str) -> Snapshot:
        if entity not in self.read:
            self.read[entity] = Snapshot.read(self.conn, entity)
        return self.read[entity]

    def state(self, check: Check) -> CheckState:
        state = CheckState(self.conn, check, self(check.entity))
        self.states.append(state)
        return state

    def save(self, run_id: str | None, at: datetime) -> None:
        generations = {entity: snap.save(self.conn, run_id, at) for entity, snap in self.read.items()}
        for state in self.states:
            state.stamp(generations[state.check.entity], run_id, at)


def _result(check: Check, failing: dict[str, str], total: int, evaluated: int) -> tuple[CheckResult, dict[Ref, str]]:
    refs = {key_ref(k): reason for k, reason in failing.items()}
    sample = [f"{s}/{o}/{i}" for s, o, i in sorted(refs)[:SAMPLE]]
    reasons = Counter(refs.values())
    return CheckResult(check.name, check.entity, check.severity, not refs, len(refs), total,
                       {"sample": sample, "reasons": dict(reasons.most_common(5))}, evaluated=evaluated), refs


def _record_check(conn: Connection, check: Check, snapshots: _Snapshots, run_id: str | None,
                  at: datetime) -> tuple[CheckResult, dict[Ref, str]]:
    """Evaluate a record-level check; returns the result and failing refs with reasons."""
    state = snapshots.state(check)
    if isinstance(check, Unique | Relationship):
        return _cross_record_check(conn, check, state, snapshots, run_id, at)
    pattern = re.compile(check.pattern) if check.type == "regex" else None  # type: ignore[union-attr]
    judged: dict[str, str] = {}
    for key, data in _judged(conn, check, state):
        reason = failure(check, data, pattern)  # type: ignore[arg-type]
        if reason:
            judged[key] = reason
    failing = dict(state.kept())  # only failing records have rows: the rest passed
    state.save(judged, (), run_id, at)
    failing.update(judged)
    return _result(check, failing, state.total, len(state.todo))


def _cross_record_check(conn: Connection, check: Unique | Relationship, state: CheckState, snapshots: _Snapshots,
                        run_id: str | None, at: datetime) -> tuple[CheckResult, dict[Ref, str]]:
    """``unique`` and ``relationship``: a verdict depends on other records, so the kept value of
    every record is re-read when anything in the entities involved changed."""
    reason = (f"{check.field} is not unique" if isinstance(check, Unique)
              else f"{check.field} refers to a missing {check.to}")
    target = snapshots(check.to) if isinstance(check, Relationship) else None
    if not state.full and not state.todo and not state.snapshot.gone and not (target and target.moved):
        failing = {key: reason for key, _ in state.kept(failing_only=True)}
        state.save({}, (), run_id, at)
        return _result(check, failing, state.total, 0)
    values = {key: note[1:] for key, note in state.kept()}
    old_flags = {key: note[0] for key, note in state.kept()}
    for key, data in _judged(conn, check, state):
        value = _value(data, check.field)
        if value is not None:
            values[key] = value
    if isinstance(check, Unique):
        def group(key: str, value: str) -> tuple[str, str]:
            return (system_of(key) if check.per_system else "", value)

        seen: Counter[tuple[str, str]] = Counter(group(k, v) for k, v in values.items())
        bad = {k for k, v in values.items() if seen[group(k, v)] > 1}
    else:
        assert target is not None
        targets = {(system, source_id) for system, _, source_id in map(key_ref, target.live)}
        bad = {k for k, v in values.items() if (system_of(k), v) not in targets}
    judged = set(state.todo)
    notes = {k: ("F" if k in bad else "P") + v for k, v in values.items()
             if k in judged or old_flags.get(k) != ("F" if k in bad else "P")}
    state.save(notes, (), run_id, at)
    return _result(check, dict.fromkeys(bad, reason), state.total, len(state.todo))


def _dataset_check(conn: Connection, check: Freshness | RowCountChange, snapshots: _Snapshots, at: datetime,
                   run_id: str | None) -> CheckResult:
    if isinstance(check, Freshness):
        state = snapshots.state(check)
        newest: datetime | None = None
        if not check.field:  # the staging time: known for every live record without reading data
            for key, stamp in state.snapshot.staged_at.items():
                if state.in_scope(key) and (newest is None or _aware(stamp) > newest):
                    newest = _aware(stamp)
            state.save({}, (), run_id, at)
        elif not state.full and not state.todo and not state.snapshot.gone:
            kept = state.extra.get("newest")
            newest = _parse_time(kept) if kept else None
            state.save({}, (), run_id, at, extra=state.extra)
        else:
            values = {key: note[1:] for key, note in state.kept()}
            for key, data in _judged(conn, check, state):
                value = _value(data, check.field)
                if value is not None:
                    values[key] = value
            for value in values.values():
                parsed = _parse_time(value)
                if parsed is not None and (newest is None or parsed > newest):
                    newest = parsed
            judged = set(state.todo)
            state.save({k: "P" + v for k, v in values.items() if k in judged}, (), run_id, at,
                       extra={"newest": newest.isoformat() if newest else None})
        return _freshness(check, newest, state.total, len(state.todo), at)
    snapshot = snapshots(check.entity)
    systems = set(check.systems or ())
    total = sum(1 for k in snapshot.live if not systems or system_of(k) in systems)  # a count: nothing to judge
    return _row_count(check, total, _previous_total(conn, check, run_id))


def _freshness(check: Freshness, newest: datetime | None, total: int, evaluated: int, at: datetime) -> CheckResult:
    if total == 0:  # a source without invoices is not stale: there is nothing to be fresh
        return CheckResult(check.name, check.entity, check.severity, True, 0, 0,
                           {"newest": None, "note": "no records to judge"}, evaluated=evaluated)
    age = None if newest is None else (at - newest).total_seconds() / 3600
    passed = age is not None and age <= check.max_age_hours
    return CheckResult(check.name, check.entity, check.severity, passed, 0 if passed else 1, total,
                       {"newest": newest.isoformat() if newest else None,
                        "age_hours": round(age, 2) if age is not None else None}, evaluated=evaluated)


def _previous_total(conn: Connection, check: Check, run_id: str | None) -> int | None:
    r = check_results
    return conn.execute(sa.select(r.c.total).where(r.c.check == check.name, r.c.run_id != (run_id or ""))
                        .order_by(r.c.at.desc(), r.c.id.desc()).limit(1)).scalar()


def _row_count(check: RowCountChange, total: int, previous: int | None) -> CheckResult:
    if previous is None or previous < check.min_rows:
        return CheckResult(check.name, check.entity, check.severity, True, 0, total,
                           {"previous": previous, "note": "no earlier run to compare with"}, judges_records=False)
    change = 100.0 * (total - previous) / previous if previous else (0.0 if total == 0 else 100.0)
    passed = abs(change) <= check.max_change_pct
    return CheckResult(check.name, check.entity, check.severity, passed, 0 if passed else 1, total,
                       {"previous": previous, "change_pct": round(change, 2)}, judges_records=False)


def run_checks(store: Store, run_id: str | None, config: ChecksConfig, *, at: datetime | None = None) -> CheckRun:
    """Run every check, store results for ``run_id``, quarantine or release records; one transaction.

    When nothing was staged or erased since the last run of the same checks
    (:func:`sync.store.marks.staged_mark`), no record is read: every record verdict is the last
    run's, and only what depends on the clock or on other runs (freshness, row counts) is judged
    again.
    """
    at = at or now()
    out = CheckRun(run_id, [])
    digest = _config_digest(config)
    with store.begin() as conn:
        mark = staged_mark(conn)  # taken before anything is read: a change made meanwhile is seen next time
        last = _last_stage(conn)
        if last.get("checks") == digest and last.get("mark") == mark:
            out.results = [_again(conn, check, CheckResult(**saved), run_id, at)
                           for check, saved in zip(config.checks, last["results"], strict=True)]
            mid_stage("checks")
        else:
            snapshots = _Snapshots(conn)
            to_quarantine: dict[Ref, list[str]] = {}
            for check in config.checks:
                if check.record_level:
                    result, failing = _record_check(conn, check, snapshots, run_id, at)
                    if check.severity == "quarantine":
                        for ref, reason in failing.items():
                            to_quarantine.setdefault(ref, []).append(f"{check.name}: {reason}")
                else:
                    result = _dataset_check(conn, check, snapshots, at, run_id)  # type: ignore[arg-type]
                out.results.append(result)
            snapshots.save(run_id, at)  # after every check of the entity has used it
            mid_stage("checks")  # every check evaluated, nothing committed (crash tests kill here)
            if not out.failed:
                out.quarantined, out.released = _apply_quarantine(store, conn, to_quarantine, run_id, at)
        stamp = now()
        conn.execute(check_results.insert(), [
            {"run_id": run_id, "check": r.check, "entity": r.entity, "severity": r.severity, "passed": r.passed,
             "failing": r.failing, "total": r.total, "details": r.details, "at": stamp} for r in out.results])
        # a failed run applied no quarantine: its verdicts are not the state a skip may carry over
        _save_stage(conn, {"checks": digest, "mark": mark, "results": [asdict(r) for r in out.results]}
                    if not out.failed else {}, run_id, stamp)
    return out


def _config_digest(config: ChecksConfig) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()


def _last_stage(conn: Connection) -> dict[str, Any]:
    st = incremental_state
    note = conn.execute(sa.select(st.c.note).where(st.c.stage == STAGE_MARK, st.c.key == "")).scalar()
    return json.loads(note) if note else {}


def _save_stage(conn: Connection, state: dict[str, Any], run_id: str | None, at: datetime) -> None:
    st = incremental_state
    conn.execute(st.delete().where(st.c.stage == STAGE_MARK))
    conn.execute(st.insert().values(stage=STAGE_MARK, key="", digest="", note=json.dumps(state, default=str),
                                    run_id=run_id, updated_at=at))


def _again(conn: Connection, check: Check, last: CheckResult, run_id: str | None, at: datetime) -> CheckResult:
    """A check's result on records that did not change: the same, but for what the clock moves."""
    if isinstance(check, Freshness):
        return _freshness(check, _parse_time(last.details.get("newest")), last.total, 0, at)
    if isinstance(check, RowCountChange):
        return _row_count(check, last.total, _previous_total(conn, check, run_id))
    last.evaluated = 0
    return last


def _apply_quarantine(store: Store, conn: Connection, failing: dict[Ref, list[str]], run_id: str | None,
                      at: datetime) -> tuple[int, int]:
    """Quarantine newly failing records; release those quarantined by checks that now pass."""
    q = quarantine
    held = {(r.source_system, r.source_object, r.source_id) for r in conn.execute(
        sa.select(q.c.source_system, q.c.source_object, q.c.source_id).where(
            q.c.stream.like(STREAM_PREFIX + "%"), q.c.resolved_at.is_(None)))}
    released = sorted(held - failing.keys())
    for system, obj, source_id in released:
        key = sa.and_(q.c.source_system == system, q.c.source_object == obj, q.c.source_id == source_id)
        conn.execute(q.update().where(key, q.c.stream.like(STREAM_PREFIX + "%"), q.c.resolved_at.is_(None))
                     .values(resolved_at=at))
        xw.release(conn, system, obj, [source_id], run_id=run_id, at=at)
    new = sorted(failing.keys() - held)
    store.quarantine(conn, [QuarantinedRecord(stream=f"{STREAM_PREFIX}{system}/{obj}", source_system=system,
                                              source_object=obj, source_id=source_id,
                                              reason="; ".join(failing[(system, obj, source_id)]))
                            for system, obj, source_id in new], run_id)
    for system, obj, source_id in new:
        xw.hold(conn, system, obj, source_id, run_id=run_id, at=at, only_active=True)
    return len(new), len(released)


def latest_results(store: Store, run_id: str | None = None) -> list[CheckResult]:
    """Results of one run (default: the most recent run that ran checks), for ``crm2 checks``."""
    r = check_results
    with store.engine.connect() as conn:
        if run_id is None:
            run_id = conn.execute(sa.select(r.c.run_id).order_by(r.c.at.desc(), r.c.id.desc()).limit(1)).scalar()
            if run_id is None:
                return []
        rows = conn.execute(sa.select(r).where(r.c.run_id == run_id).order_by(r.c.id)).all()
    return [CheckResult(x.check, x.entity or "", x.severity, x.passed, x.failing, x.total, x.details or {})
            for x in rows]


def describe(config: ChecksConfig) -> list[dict[str, Any]]:
    """The configured checks as rows (name, entity, type, severity), for listing."""
    return [{"name": c.name, "entity": c.entity, "type": c.type, "severity": c.severity,
             "record_level": c.record_level} for c in config.checks]


