"""Why a golden record looks the way it does: its sources, the links, each field's origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from sync.errors import Crm2Error
from sync.exitcodes import ExitCode
from sync.resolve.engine import ref_text
from sync.resolve.scoring import levels_from_details
from sync.store.schema import crosswalk, golden, match_constraints, match_pairs, match_records
from sync.store.store import Store


@dataclass
class Link:
    left: str
    right: str
    decision: str  # match | review | rejected
    rule: str  # the deterministic rule, "score", or "review:<decision>"
    weight: float
    levels: list[dict[str, Any]]


@dataclass
class FieldOrigin:
    field: str
    value: Any
    source: str
    rule: str


@dataclass
class Explanation:
    golden_id: str
    entity: str
    requested: str  # the id asked about; differs from golden_id when it was merged
    sources: list[dict[str, Any]] = field(default_factory=list)  # ref and crosswalk status
    links: list[Link] = field(default_factory=list)
    fields: list[FieldOrigin] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)  # people's constraints
    merged_ids: list[str] = field(default_factory=list)  # golden ids merged into this one


class NotFound(Crm2Error):
    """No golden record or source record by that id."""

    exit_code = ExitCode.CONFIG


def explain(store: Store, golden_id: str) -> Explanation:
    """Explain a golden record; a merged-away id is followed to the record it lives on in."""
    with store.engine.connect() as conn:
        requested, gid = golden_id, golden_id
        for _ in range(100):  # merge chains are short; the bound guards against a cycle
            row = conn.execute(sa.select(golden).where(golden.c.golden_id == gid)).first()
            if row is None:
                raise NotFound(f"no golden record {golden_id}")
            if row.merged_into is None:
                break
            gid = row.merged_into
        assert row is not None  # the loop either found the record or raised NotFound
        data = dict(row.data or {})
        out = Explanation(golden_id=gid, entity=row.entity, requested=requested)
        out.merged_ids = sorted(conn.execute(sa.select(golden.c.golden_id).where(
            golden.c.merged_into == gid)).scalars())
        x, m = crosswalk, match_records
        members = conn.execute(
            sa.select(x.c.source_system, x.c.source_object, x.c.source_id, x.c.status, m.c.rid)
            .select_from(x.outerjoin(m, sa.and_(m.c.source_system == x.c.source_system,
                                                m.c.source_object == x.c.source_object,
                                                m.c.source_id == x.c.source_id)))
            .where(x.c.golden_id == gid)).all()
        ref_of = {r.rid: ref_text(r.source_system, r.source_object, r.source_id) for r in members if r.rid}
        out.sources = sorted(({"ref": ref_text(r.source_system, r.source_object, r.source_id), "status": r.status}
                              for r in members), key=lambda s: s["ref"])
        rids = sorted(ref_of)
        if rids:
            p = match_pairs
            for pair in conn.execute(sa.select(p).where(p.c.left_rid.in_(rids), p.c.right_rid.in_(rids))
                                     .order_by(p.c.weight.desc())):
                out.links.append(Link(ref_of[pair.left_rid], ref_of[pair.right_rid], pair.decision, pair.rule,
                                      round(pair.weight, 3), levels_from_details(pair.details)))
            refs = list(ref_of.values())
            c = match_constraints
            out.decisions = [{"left": d.left_ref, "right": d.right_ref, "kind": d.kind, "reason": d.reason}
                             for d in conn.execute(sa.select(c).where(
                                 sa.or_(c.c.left_ref.in_(refs), c.c.right_ref.in_(refs))))]
        lineage = data.pop("lineage", {}) or {}
        data.pop("sources", None)
        out.fields = [FieldOrigin(name, data.get(name), origin.get("source", ""), origin.get("rule", ""))
                      for name, origin in sorted(lineage.items())]
    return out
