"""Run quality checks over staged records, store the results, act on severities.

Nothing is ever deleted: a quarantined record stays in staging with crosswalk status
``quarantined`` and a reason, and comes back (status ``loaded``, picked up by the next
resolve) on the first run where it passes again. A ``fail`` result changes no record; the
caller must stop before resolving (``CheckRun.failed``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

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
from sync.store.schema import check_results, crosswalk, quarantine, staging
from sync.store.store import QuarantinedRecord, Store, now

SAMPLE = 20  # failing source ids kept per result, enough to start looking
STREAM_PREFIX = "check:"


@dataclass
class CheckResult:
    check: str
    entity: str
    severity: str
    passed: bool
    failing: int
    total: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckRun:
    run_id: str | None
    results: list[CheckResult]
    quarantined: int = 0
    released: int = 0

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


def _record_check(conn: Connection, check: Check) -> tuple[CheckResult, dict[Ref, str]]:
    """Evaluate a record-level check; returns the result and failing refs with reasons."""
    failing: dict[Ref, str] = {}
    total = 0
    if isinstance(check, Unique):
        seen: Counter[tuple[Any, ...]] = Counter()
        for ref, data, _ in _records(conn, check.entity, check.systems):
            value = field_value(data, check.field)
            if value not in (None, ""):
                seen[(ref[0] if check.per_system else "", str(value))] += 1
        for ref, data, _ in _records(conn, check.entity, check.systems):
            total += 1
            value = field_value(data, check.field)
            if value not in (None, "") and seen[(ref[0] if check.per_system else "", str(value))] > 1:
                failing[ref] = f"{check.field} is not unique"
    elif isinstance(check, Relationship):
        targets: set[tuple[str, str]] = set()
        for ref, _, _ in _records(conn, check.to, None):
            targets.add((ref[0], ref[2]))
        for ref, data, _ in _records(conn, check.entity, check.systems):
            total += 1
            value = field_value(data, check.field)
            if value not in (None, "") and (ref[0], str(value)) not in targets:
                failing[ref] = f"{check.field} refers to a missing {check.to}"
    else:
        pattern = re.compile(check.pattern) if check.type == "regex" else None  # type: ignore[union-attr]
        for ref, data, _ in _records(conn, check.entity, check.systems):
            total += 1
            reason = failure(check, data, pattern)  # type: ignore[arg-type]
            if reason:
                failing[ref] = reason
    sample = [f"{s}/{o}/{i}" for s, o, i in sorted(failing)[:SAMPLE]]
    reasons = Counter(failing.values())
    return CheckResult(check.name, check.entity, check.severity, not failing, len(failing), total,
                       {"sample": sample, "reasons": dict(reasons.most_common(5))}), failing


def _dataset_check(conn: Connection, check: Freshness | RowCountChange, at: datetime,
                   run_id: str | None) -> CheckResult:
    if isinstance(check, Freshness):
        newest: datetime | None = None
        total = 0
        for _, data, staged_at in _records(conn, check.entity, check.systems):
            total += 1
            stamp = _parse_time(field_value(data, check.field)) if check.field else _aware(staged_at)
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
        age = None if newest is None else (at - newest).total_seconds() / 3600
        passed = age is not None and age <= check.max_age_hours
        return CheckResult(check.name, check.entity, check.severity, passed, 0 if passed else 1, total,
                           {"newest": newest.isoformat() if newest else None,
                            "age_hours": round(age, 2) if age is not None else None})
    total = sum(1 for _ in _records(conn, check.entity, check.systems))
    r = check_results
    previous = conn.execute(sa.select(r.c.total).where(r.c.check == check.name, r.c.run_id != (run_id or ""))
                            .order_by(r.c.at.desc(), r.c.id.desc()).limit(1)).scalar()
    if previous is None or previous < check.min_rows:
        return CheckResult(check.name, check.entity, check.severity, True, 0, total,
                           {"previous": previous, "note": "no earlier run to compare with"})
    change = 100.0 * (total - previous) / previous if previous else (0.0 if total == 0 else 100.0)
    passed = abs(change) <= check.max_change_pct
    return CheckResult(check.name, check.entity, check.severity, passed, 0 if passed else 1, total,
                       {"previous": previous, "change_pct": round(change, 2)})


def run_checks(store: Store, run_id: str | None, config: ChecksConfig, *, at: datetime | None = None) -> CheckRun:
    """Run every check, store results for ``run_id``, quarantine or release records; one transaction."""
    at = at or now()
    out = CheckRun(run_id, [])
    with store.begin() as conn:
        to_quarantine: dict[Ref, list[str]] = {}
        for check in config.checks:
            if check.record_level:
                result, failing = _record_check(conn, check)
                if check.severity == "quarantine":
                    for ref, reason in failing.items():
                        to_quarantine.setdefault(ref, []).append(f"{check.name}: {reason}")
            else:
                result = _dataset_check(conn, check, at, run_id)  # type: ignore[arg-type]
            out.results.append(result)
        mid_stage("checks")  # every check evaluated, nothing committed (crash tests kill here)
        if not out.failed:
            out.quarantined, out.released = _apply_quarantine(store, conn, to_quarantine, run_id, at)
        stamp = now()
        conn.execute(check_results.insert(), [
            {"run_id": run_id, "check": r.check, "entity": r.entity, "severity": r.severity, "passed": r.passed,
             "failing": r.failing, "total": r.total, "details": r.details, "at": stamp} for r in out.results])
    return out


def _apply_quarantine(store: Store, conn: Connection, failing: dict[Ref, list[str]], run_id: str | None,
                      at: datetime) -> tuple[int, int]:
    """Quarantine newly failing records; release those quarantined by checks that now pass."""
    q, c = quarantine, crosswalk
    held = {(r.source_system, r.source_object, r.source_id) for r in conn.execute(
        sa.select(q.c.source_system, q.c.source_object, q.c.source_id).where(
            q.c.stream.like(STREAM_PREFIX + "%"), q.c.resolved_at.is_(None)))}
    released = sorted(held - failing.keys())
    for system, obj, source_id in released:
        key = sa.and_(q.c.source_system == system, q.c.source_object == obj, q.c.source_id == source_id)
        conn.execute(q.update().where(key, q.c.stream.like(STREAM_PREFIX + "%"), q.c.resolved_at.is_(None))
                     .values(resolved_at=at))
        conn.execute(c.update().where(c.c.source_system == system, c.c.source_object == obj,
                                      c.c.source_id == source_id, c.c.status == "quarantined")
                     .values(status="loaded", golden_id=None, run_id=run_id, updated_at=at))
    new = sorted(failing.keys() - held)
    store.quarantine(conn, [QuarantinedRecord(stream=f"{STREAM_PREFIX}{system}/{obj}", source_system=system,
                                              source_object=obj, source_id=source_id,
                                              reason="; ".join(failing[(system, obj, source_id)]))
                            for system, obj, source_id in new], run_id)
    for system, obj, source_id in new:
        conn.execute(c.update().where(c.c.source_system == system, c.c.source_object == obj,
                                      c.c.source_id == source_id, c.c.status.in_(("loaded", "merged")))
                     .values(status="quarantined", run_id=run_id, updated_at=at))
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


