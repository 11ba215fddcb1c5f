"""People's decisions on matches: the review queue, confirm / reject, and unmerge.

Decisions are stored as must-link / must-not-link constraints keyed by source reference, so
they survive re-staging and re-scoring and hold on every later resolve. They take effect on
the next :func:`sync.resolve.engine.resolve` of the entity (the CLI runs it straight away).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.errors import Crm2Error
from sync.exitcodes import ExitCode
from sync.resolve.engine import parse_ref, ref_text
from sync.resolve.scoring import levels_from_details
from sync.store.schema import crosswalk, match_constraints, match_pairs, match_records
from sync.store.store import AuditEntry, Store, now


class ReviewError(Crm2Error):
    exit_code = ExitCode.CONFIG

    """The pair or record named is not known to the store."""


@dataclass(frozen=True)
class ReviewItem:
    entity: str
    left: str
    right: str
    weight: float
    rule: str
    levels: list[dict[str, Any]]


def _refs_of(conn: Connection, rids: set[int]) -> dict[int, str]:
    m = match_records
    out: dict[int, str] = {}
    for part in [sorted(rids)[i:i + 500] for i in range(0, len(rids), 500)]:
        out.update((r.rid, ref_text(r.source_system, r.source_object, r.source_id)) for r in conn.execute(
            sa.select(m.c.rid, m.c.source_system, m.c.source_object, m.c.source_id).where(m.c.rid.in_(part))))
    return out


def pending(store: Store, entity: str | None = None, limit: int = 100) -> list[ReviewItem]:
    """Possible matches waiting for a person, strongest first."""
    p = match_pairs
    query = sa.select(p).where(p.c.decision == "review")
    if entity:
        query = query.where(p.c.entity == entity)
    with store.engine.connect() as conn:
        rows = conn.execute(query.order_by(p.c.weight.desc(), p.c.left_rid, p.c.right_rid).limit(limit)).all()
        refs = _refs_of(conn, {r.left_rid for r in rows} | {r.right_rid for r in rows})
    return [ReviewItem(r.entity, refs[r.left_rid], refs[r.right_rid], r.weight, r.rule,
                       levels_from_details(r.details)) for r in rows]


def _rid(conn: Connection, ref: str) -> tuple[int, str]:
    system, obj, source_id = parse_ref(ref)
    m = match_records
    row = conn.execute(sa.select(m.c.rid, m.c.entity).where(
        m.c.source_system == system, m.c.source_object == obj, m.c.source_id == source_id)).first()
    if row is None:
        raise ReviewError(f"no resolved record {ref}")
    return row.rid, row.entity


def _constrain(conn: Connection, entity: str, a: str, b: str, kind: str, reason: str | None,
               run_id: str | None) -> None:
    left, right = sorted((a, b))
    c = match_constraints
    conn.execute(c.delete().where(c.c.left_ref == left, c.c.right_ref == right))
    conn.execute(c.insert().values(entity=entity, left_ref=left, right_ref=right, kind=kind, reason=reason,
                                   run_id=run_id, created_at=now()))


def _decide(store: Store, left: str, right: str, *, kind: str, decision: str, reason: str | None,
            run_id: str | None) -> None:
    with store.begin() as conn:
        (lr, entity), (rr, _) = _rid(conn, left), _rid(conn, right)
        _constrain(conn, entity, left, right, kind, reason, run_id)
        a, b = sorted((lr, rr))
        p = match_pairs
        conn.execute(p.update().where(p.c.left_rid == a, p.c.right_rid == b).values(
            decision=decision, rule=f"review:{decision}", run_id=run_id))
        store.audit(conn, [AuditEntry(f"review_{decision}", "crm2", f"match_{entity}", f"{left} ~ {right}",
                                      None, None, {"reason": reason} if reason else None)], run_id)


def confirm(store: Store, left: str, right: str, *, reason: str | None = None, run_id: str | None = None) -> None:
    """A person says these two records are the same: they will always be linked."""
    _decide(store, left, right, kind="must_link", decision="match", reason=reason, run_id=run_id)


def reject(store: Store, left: str, right: str, *, reason: str | None = None, run_id: str | None = None) -> None:
    """A person says these two records differ: they will never be put together."""
    _decide(store, left, right, kind="must_not_link", decision="rejected", reason=reason, run_id=run_id)


def unmerge(store: Store, ref: str, *, reason: str | None = None, run_id: str | None = None) -> list[str]:
    """Split one source record off its golden record, for good; returns the records it left.

    A must-not-link is stored between it and every other record of that golden record, so no
    later run, however strong the evidence, puts them back together.
    """
    system, obj, source_id = parse_ref(ref)
    x = crosswalk
    with store.begin() as conn:
        _, entity = _rid(conn, ref)
        gid = conn.execute(sa.select(x.c.golden_id).where(
            x.c.source_system == system, x.c.source_object == obj, x.c.source_id == source_id)).scalar()
        others = sorted(ref_text(r.source_system, r.source_object, r.source_id) for r in conn.execute(
            sa.select(x.c.source_system, x.c.source_object, x.c.source_id).where(
                x.c.golden_id == gid, x.c.status.in_(("loaded", "merged")))))
        others = [o for o in others if o != ref]
        for other in others:
            _constrain(conn, entity, ref, other, "must_not_link", reason or "unmerge", run_id)
        store.audit(conn, [AuditEntry("unmerge", "crm2", f"golden_{entity}", str(gid), None,
                                      {"source": ref}, {"split_from": others})], run_id)
    return others
