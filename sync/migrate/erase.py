"""`crm2 migrate erase`: delete or anonymise personal data per a retention policy, with an audit trail.

Subjects come from a right-to-erasure request (``--subject system/object/id``) or from the
policy's rules. A subject is a person, not a row: it is widened to every source record of its
golden record (the same person in other systems), and records of the same raw source record
read by other mapping entries (a sales account carries its contact person) are *scoped* to it.

Personal data is then erased wherever crm2 keeps it:

* staging.data (the policy's fields of the entity; ``delete`` removes the row) and the crosswalk
  (``delete`` sets status ``erased`` and keeps the id and fingerprint, so an unchanged source
  record is not loaded again);
* golden.data, including golden records merged into it (``delete`` removes them);
* match_records.features and match_keys (every comparison value of the record becomes a token;
  ``delete`` removes them with their pairs);
* quarantine.record and audit_log old/new of these records;
* every other JSON or text column of every table, for the people's e-mail addresses and phone
  numbers (a customer's main phone may be its contact's mobile);
* archives written by ``crm2 migrate archive`` (:mod:`sync.migrate.erase_archive`).

Each erased record gets an audit entry (action ``erase``, the action and reason, no values), and
so does every other staged or golden record the erasure changed, so ``verify`` knows why they
differ from the source. Without ``apply`` the same work runs in a transaction that is rolled back
and no archive file is written: the report says what would be erased.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.errors import Crm2Error
from sync.exitcodes import ExitCode
from sync.mapping import Mapping as SourceMapping
from sync.migrate import erase_archive
from sync.migrate.refs import BadReference, Ref
from sync.migrate.retention import Action, RetentionPolicy, Rule
from sync.migrate.scrub import PersonalValues, Tokens, replace_fields, scrub, tokenise_all
from sync.migrate.verify import parse_time
from sync.store import AuditEntry, Store
from sync.store import crosswalk as xw
from sync.store.schema import (
    audit_log,
    crosswalk,
    golden,
    match_keys,
    match_pairs,
    match_records,
    metadata,
    quarantine,
    staging,
)

_CHUNK = 400
_ERASE_REASON_SHARED = "held personal data of an erased record"


class EraseError(Crm2Error):
    exit_code = ExitCode.CONFIG

    """A subject crm2 does not hold, or an archive that cannot be changed (nothing was erased)."""


@dataclass(frozen=True)
class Subject:
    ref: Ref
    action: Action
    reason: str
    """'request', or the name of the retention rule that selected it."""


@dataclass
class ErasureReport:
    applied: bool
    subjects: list[str] = field(default_factory=list)
    records: dict[str, str] = field(default_factory=dict)
    """Every source record erased (subjects widened to their person) → action."""
    golden: dict[str, str] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    """Rows changed or deleted per table ('staging', 'golden', ...)."""
    shared: list[str] = field(default_factory=list)
    """Other records that held some of the people's data and were anonymised there."""
    archive_files: list[str] = field(default_factory=list)
    audit_entries: int = 0
    run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "subjects": self.subjects, "records": self.records, "golden": self.golden,
                "changed": self.changed, "shared": self.shared, "archive_files": self.archive_files,
                "audit_entries": self.audit_entries, "run_id": self.run_id}


def _stronger(a: Action | None, b: Action) -> Action:
    return "delete" if "delete" in (a, b) else "anonymise"


def _refs_filter(table: sa.Table, refs: Sequence[Ref], *, obj_col: str = "source_object",
                 id_col: str = "source_id", sys_col: str = "source_system") -> sa.ColumnElement[bool]:
    cols = (table.c[sys_col], table.c[obj_col], table.c[id_col])
    return sa.tuple_(*cols).in_([(r.system, r.object, r.id) for r in refs])


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


class Eraser:
    """Finds what to erase and erases it; see the module docstring."""

    def __init__(self, store: Store, policy: RetentionPolicy, mappings: Mapping[str, SourceMapping]) -> None:
        self.store, self.policy, self.mappings = store, policy, mappings
        self.token = Tokens()

    # -- choosing subjects ----------------------------------------------------------------------
    def requested(self, refs: Iterable[str], action: Action) -> list[Subject]:
        """Subjects of a right-to-erasure request; EraseError for a record crm2 does not hold."""
        try:
            subjects = [Subject(Ref.parse(text), action, "request") for text in refs]
        except BadReference as exc:
            raise EraseError(str(exc)) from None
        with self.store.engine.connect() as conn:
            for s in subjects:
                held = conn.execute(sa.select(sa.func.count()).select_from(crosswalk).where(
                    _refs_filter(crosswalk, [s.ref]))).scalar_one()
                held += conn.execute(sa.select(sa.func.count()).select_from(quarantine).where(
                    _refs_filter(quarantine, [s.ref]))).scalar_one()
                if not held:
                    raise EraseError(f"crm2 holds no record {s.ref}")
        return subjects

    def by_rules(self, as_of: date | None = None, rules: Iterable[str] = ()) -> list[Subject]:
        """Records the policy's rules select today (or ``as_of``), minus those already erased."""
        as_of = as_of or datetime.now(UTC).date()
        chosen = [r for r in self.policy.rules if not rules or r.name in set(rules)]
        subjects: dict[Ref, Subject] = {}
        with self.store.engine.connect() as conn:
            done = {Ref(*r) for r in conn.execute(sa.select(audit_log.c.system, audit_log.c.object,
                                                            audit_log.c.record_id)
                                                  .where(audit_log.c.action == "erase"))}
            for rule in chosen:
                for ref in self._selected(conn, rule, as_of):
                    if ref not in done and ref not in subjects:
                        subjects[ref] = Subject(ref, rule.action, rule.name)
        return list(subjects.values())

    def _selected(self, conn: Connection, rule: Rule, as_of: date) -> Iterable[Ref]:
        s, c = staging, crosswalk
        cutoff = None
        if rule.older_than is not None:
            cutoff = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) - timedelta(days=rule.older_than.days)
        rows = conn.execute(sa.select(s.c.source_system, s.c.source_object, s.c.source_id, s.c.data, c.c.golden_id)
                            .select_from(s.join(c, sa.and_(s.c.source_system == c.c.source_system,
                                                           s.c.source_object == c.c.source_object,
                                                           s.c.source_id == c.c.source_id)))
                            .where(s.c.entity == rule.entity, s.c.deleted.is_(False),
                                   c.c.status.in_(("loaded", "merged", "quarantined")))).all()
        stages = {str(v) for v in rule.customer_stage} if rule.customer_stage else None
        stage_of = self._customer_stages(conn) if stages else {}
        for system, obj, sid, data, gid in rows:
            data = data or {}
            if cutoff is not None:
                stamp = parse_time(str(data.get(rule.older_than.field))) if rule.older_than else None
                if stamp is None or stamp >= cutoff:
                    continue  # a record without the date is not known to be old: keep it
            if stages is not None:
                if rule.entity == "customer":
                    stage = stage_of.get(("", "", gid or ""))
                else:
                    stage = stage_of.get((system, "customer", str(data.get("customer"))))
                if stage not in stages:
                    continue
            yield Ref(system, obj, sid)

    def _customer_stages(self, conn: Connection) -> dict[tuple[str, str, str], str]:
        """Lifecycle stage by (system, 'customer', source id) and by ('', '', golden id)."""
        g, c = golden, crosswalk
        stage_of_gid = {gid: (data or {}).get("lifecycle_stage") for gid, data in conn.execute(
            sa.select(g.c.golden_id, g.c.data).where(g.c.entity == "customer", g.c.merged_into.is_(None)))}
        found: dict[tuple[str, str, str], str] = {("", "", k): v for k, v in stage_of_gid.items() if v}
        for system, sid, gid in conn.execute(sa.select(c.c.source_system, c.c.source_id, c.c.golden_id)
                                             .where(c.c.entity == "customer", c.c.golden_id.is_not(None))):
            stage = stage_of_gid.get(gid)
            if stage:
                found[(system, "customer", sid)] = stage
        return found

    # -- erasing ----------------------------------------------------------------------------------
    def erase(self, subjects: Sequence[Subject], *, archives: Sequence[Path] = (), apply: bool = False,
              run_id: str | None = None) -> ErasureReport:
        report = ErasureReport(applied=apply, subjects=[str(s.ref) for s in subjects], run_id=run_id)
        if not subjects:
            return report
        folders = [erase_archive.open_archive(folder) for folder in archives]
        with self.store.engine.connect() as conn:
            records, goldens, reasons = self._widen(conn, subjects)
            shared = self._shared(records)
            values = PersonalValues()
            self._collect(conn, records, goldens, values)
            for archive in folders:
                archive.collect(records, values, self.policy, self.mappings)
            try:
                touched = self._erase_store(conn, records, shared, goldens, values, report)
                entries = [AuditEntry("erase", r.system, r.object, r.id, None, None,
                                      {"action": a, "reason": reasons[r]}) for r, a in sorted(records.items())]
                entries += [AuditEntry("erase", r.system, r.object, r.id, None, None,
                                       {"action": "anonymise", "reason": _ERASE_REASON_SHARED})
                            for r in sorted(touched["staging"] - records.keys())]
                about_golden = {gid: (entity, action, "golden record of an erased person")
                                for gid, (entity, action) in goldens.items()}
                for gid, entity in touched["golden_entity"].items():
                    about_golden.setdefault(gid, (entity, "anonymise", _ERASE_REASON_SHARED))
                entries += [AuditEntry("erase", "crm2", f"golden_{entity}", gid, None, None,
                                       {"action": action, "reason": reason})
                            for gid, (entity, action, reason) in sorted(about_golden.items())]
                report.audit_entries = self.store.audit(conn, entries, run_id)
                report.shared = sorted(str(r) for r in touched["staging"] - records.keys())
                if apply:
                    conn.commit()
                else:
                    conn.rollback()  # a dry run does all the work, then takes none of it
            except BaseException:
                conn.rollback()
                raise
        report.records = {str(r): a for r, a in sorted(records.items())}
        report.golden = {gid: a for gid, (_, a) in sorted(goldens.items())}
        for archive in folders:
            changed = archive.erase(records, values, self.policy, self.mappings, self.token, apply=apply,
                                    run_id=run_id)
            report.archive_files += changed
        return report

    def _widen(self, conn: Connection, subjects: Sequence[Subject],
               ) -> tuple[dict[Ref, Action], dict[str, tuple[str, Action]], dict[Ref, str]]:
        """Every source record of each subject's person, and their golden records (merged ones too)."""
        records: dict[Ref, Action] = {}
        reasons: dict[Ref, str] = {}
        goldens: dict[str, tuple[str, Action]] = {}
        c = crosswalk
        for s in subjects:
            row = conn.execute(sa.select(c.c.entity, c.c.golden_id).where(_refs_filter(c, [s.ref]))).first()
            refs = {s.ref}
            if row is not None and row.golden_id:
                gid = row.golden_id
                refs |= {Ref(*r) for r in conn.execute(sa.select(c.c.source_system, c.c.source_object, c.c.source_id)
                                                       .where(c.c.golden_id == gid))}
                chain = [gid]
                while chain:
                    current = chain.pop()
                    goldens[current] = (row.entity, _stronger(goldens.get(current, (None, None))[1], s.action))
                    chain += [g for g in conn.execute(sa.select(golden.c.golden_id).where(
                        golden.c.merged_into == current)).scalars() if g not in goldens]
            for r in refs:
                records[r] = _stronger(records.get(r), s.action)
                reasons.setdefault(r, s.reason if r == s.ref else f"{s.reason}: same person as {s.ref}")
        return records, goldens, reasons

    def _shared(self, records: Mapping[Ref, Action]) -> set[Ref]:
        """Records made from the same raw source record by another mapping entry with the same key."""
        found: set[Ref] = set()
        for r in records:
            mapping = self.mappings.get(r.system)
            plan = mapping.streams.get(r.object) if mapping else None
            if mapping is None or plan is None:
                continue
            keys = [k for k, _ in plan.key]
            for other in mapping.plans_for(plan.source_stream):
                if other.name != r.object and [k for k, _ in other.key] == keys:
                    found.add(Ref(r.system, other.name, r.id))
        return found - records.keys()

    def _collect(self, conn: Connection, records: Mapping[Ref, Action], goldens: Mapping[str, tuple[str, Action]],
                 values: PersonalValues) -> None:
        refs = sorted(records)
        for part in _chunks(refs):
            for entity, data in conn.execute(sa.select(staging.c.entity, staging.c.data)
                                             .where(_refs_filter(staging, part))):
                self._collect_data(entity, data, values)
        for part in _chunks(sorted(goldens)):
            for entity, data in conn.execute(sa.select(golden.c.entity, golden.c.data)
                                             .where(golden.c.golden_id.in_(part))):
                self._collect_data(entity, data, values)

    def _collect_data(self, entity: str, data: Any, values: PersonalValues) -> None:
        if not isinstance(data, dict):
            return
        for path in self.policy.entity_fields(entity):
            node: Any = data
            for part in path.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            values.add(node)
        if "last_name" in data:
            values.add_name(data.get("first_name"), data.get("last_name"))

    def _erase_store(self, conn: Connection, records: Mapping[Ref, Action], shared: set[Ref],
                     goldens: Mapping[str, tuple[str, Action]], values: PersonalValues,
                     report: ErasureReport) -> dict[str, Any]:
        changed: Counter[str] = Counter()
        touched: dict[str, Any] = {"staging": set(), "golden_entity": {}}

        def scoped(text: str) -> bool:
            return values.matches(text, scoped=True)

        deleted = sorted(r for r, a in records.items() if a == "delete")
        scope = sorted(set(records) | shared)
        # staging
        for part in _chunks(scope):
            for row in conn.execute(sa.select(staging).where(_refs_filter(staging, part))).all():
                ref = Ref(row.source_system, row.source_object, row.source_id)
                where = _refs_filter(staging, [ref])
                if records.get(ref) == "delete":
                    conn.execute(staging.delete().where(where))
                    changed["staging"] += 1
                    continue
                data = copy.deepcopy(row.data)
                own = ref in records and replace_fields(data, self.policy.entity_fields(row.entity), self.token)
                data, did = scrub(data, scoped, self.token)
                if own or did:
                    conn.execute(staging.update().where(where).values(data=data))
                    changed["staging"] += 1
                    touched["staging"].add(ref)
        # crosswalk: a deleted record is remembered as erased (no data), so it is not loaded again unchanged
        for part in _chunks(deleted):
            changed["crosswalk"] += xw.erase(conn, _refs_filter(crosswalk, part))
        # golden records
        for gid, (_entity, action) in sorted(goldens.items()):
            if action == "delete":
                changed["golden"] += conn.execute(golden.delete().where(golden.c.golden_id == gid)).rowcount
                continue
            found = conn.execute(sa.select(golden.c.entity, golden.c.data).where(golden.c.golden_id == gid)).first()
            if found is None:
                continue
            data = copy.deepcopy(found.data)
            replace_fields(data, self.policy.entity_fields(found.entity), self.token)
            data, _ = scrub(data, scoped, self.token)
            conn.execute(golden.update().where(golden.c.golden_id == gid).values(data=data))
            changed["golden"] += 1
            touched["golden_entity"][gid] = row.entity
        # match data: comparison values are derived from the record, so all of them go
        m = match_records
        for part in _chunks(scope):
            for rid, source_system, source_object, source_id, features in conn.execute(
                    sa.select(m.c.rid, m.c.source_system, m.c.source_object, m.c.source_id, m.c.features)
                    .where(_refs_filter(m, part))).all():
                ref = Ref(source_system, source_object, source_id)
                keys = conn.execute(sa.select(match_keys.c.entity, match_keys.c.key).where(match_keys.c.rid == rid))
                if records.get(ref) == "delete":
                    conn.execute(match_keys.delete().where(match_keys.c.rid == rid))
                    conn.execute(match_pairs.delete().where(sa.or_(match_pairs.c.left_rid == rid,
                                                                   match_pairs.c.right_rid == rid)))
                    conn.execute(m.delete().where(m.c.rid == rid))
                    changed["match_records"] += 1
                    continue
                own = ref in records
                new = tokenise_all(features, self.token) if own else scrub(features, scoped, self.token)[0]
                if new != features:
                    conn.execute(m.update().where(m.c.rid == rid).values(features=new))
                    changed["match_records"] += 1
                for entity, key in keys.all():
                    kind, _, value = key.partition(":")
                    if value and (own or scoped(value)):
                        conn.execute(match_keys.update().where(
                            match_keys.c.entity == entity, match_keys.c.key == key, match_keys.c.rid == rid)
                            .values(key=f"{kind}:{self.token(value)}"[:255]))
                        changed["match_keys"] += 1
        # quarantined copies of the records
        q = quarantine
        for part in _chunks(scope):
            for row in conn.execute(sa.select(q).where(_refs_filter(q, part))).all():
                ref = Ref(row.source_system, row.source_object, row.source_id)
                if records.get(ref) == "delete":
                    conn.execute(q.delete().where(q.c.id == row.id))
                    changed["quarantine"] += 1
                    continue
                record = copy.deepcopy(row.record)
                own = ref in records and replace_fields(record, self.policy.source_fields(ref.system, row.stream),
                                                        self.token)
                record, did = scrub(record, scoped, self.token)
                if own or did:
                    conn.execute(q.update().where(q.c.id == row.id).values(record=record))
                    changed["quarantine"] += 1
        # audit entries about these records
        a = audit_log
        golden_refs = [("crm2", f"golden_{entity}", gid) for gid, (entity, _) in goldens.items()]
        about = [(r.system, r.object, r.id) for r in scope] + golden_refs
        for part in _chunks(about):
            for row in conn.execute(sa.select(a.c.id, a.c.old, a.c.new).where(
                    sa.tuple_(a.c.system, a.c.object, a.c.record_id).in_(list(part)))).all():
                old, did_old = scrub(row.old, scoped, self.token)
                new, did_new = scrub(row.new, scoped, self.token)
                if did_old or did_new:
                    conn.execute(a.update().where(a.c.id == row.id).values(old=old, new=new))
                    changed["audit_log"] += 1
        self._sweep(conn, values, changed, touched)
        report.changed = dict(sorted(changed.items()))
        return touched

    def _sweep(self, conn: Connection, values: PersonalValues, changed: Counter[str], touched: dict[str, Any]) -> None:
        """Every JSON and text column of every table, for the people's e-mail addresses and phones."""
        pattern = values.pattern()
        if pattern is None:
            return

        def hit(text: str) -> bool:
            return values.matches(text, scoped=False)

        for table in metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            columns = [c for c in table.columns if (isinstance(c.type, sa.JSON | sa.Text) and not c.primary_key)
                       or (table is match_keys and c.name == "key")]
            if not columns or not pk:
                continue
            found = []
            for row in conn.execute(sa.select(*pk, *(sa.cast(c, sa.Text).label(f"t_{c.name}") for c in columns))):
                texts = [getattr(row, f"t_{c.name}") for c in columns]
                if any(t is not None and pattern.search(t) for t in texts):
                    found.append(tuple(getattr(row, c.name) for c in pk))
            for key in found:
                where = sa.and_(*(c == v for c, v in zip(pk, key, strict=True)))
                current = conn.execute(sa.select(*columns).where(where)).first()
                if current is None:
                    continue
                updates = {}
                for column, value in zip(columns, current, strict=True):
                    new, did = scrub(value, hit, self.token)
                    if did:
                        updates[column.name] = new
                if not updates:
                    continue
                conn.execute(table.update().where(where).values(**updates))
                changed[table.name] += 1
                if table is staging:
                    touched["staging"].add(Ref(*key))
                elif table is golden:
                    entity = conn.execute(sa.select(golden.c.entity).where(where)).scalar()
                    touched["golden_entity"][key[0]] = entity or "?"
