"""What each console page (and `crm2 report`) shows, read from the store.

Plain dataclasses and lists, no HTML: the console renders them with Jinja2 templates, the report
with its own one-file renderer, and tests assert on them directly. Reading is bounded: one pass
over golden customers for the key accounts, indexed look-ups for one customer.
"""

from __future__ import annotations

import csv
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sync.console.plain import Gettext, plain_reasons
from sync.enrich.explain import explain_lines
from sync.enrich.store_io import read_scores
from sync.redaction import redact
from sync.resolve import explain as explain_golden
from sync.resolve import pending
from sync.resolve.engine import parse_ref
from sync.store import Store
from sync.store.schema import (
    audit_log,
    check_results,
    golden,
    quarantine,
    runs,
    staging,
    writeback_queue,
    writeback_state,
)

TIERS = ("A", "B", "C")
# fields of a golden or source record that hold personal data (masked for roles that may not see it)
PERSONAL_FIELDS = frozenset({"email", "phone", "mobile", "first_name", "last_name", "birthdate", "address",
                             "street", "postal_code"})
ACTIVITY = {"order": ("ordered_at", "total"), "invoice": ("issued_on", "amount"), "payment": ("paid_at", "amount"),
            "deal": ("closed_at", "amount"), "interaction": ("occurred_at", "subject"),
            "service_case": ("opened_at", "subject"), "survey": ("responded_at", "score")}


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _float(value: Any) -> float | None:
    number = _dec(value)
    return float(number) if number is not None else None


def _reason(score: dict[str, Any] | None, factor: str) -> dict[str, Any]:
    for reason in (score or {}).get("reasons") or []:
        if reason.get("factor") == factor:
            return reason
    return {}


def mask_value(value: Any) -> Any:
    """A personal value replaced by a mask that keeps only its shape's hint."""
    if value in (None, ""):
        return value
    return "•••"


def masked(record: dict[str, Any] | None, show_personal: bool) -> dict[str, Any]:
    """A record with personal fields masked (and e-mails/phones inside any text redacted)."""
    if not record:
        return {}
    if show_personal:
        return dict(record)
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in PERSONAL_FIELDS:
            out[key] = mask_value(value)
        elif isinstance(value, str):
            out[key] = redact(value)
        elif isinstance(value, dict | list):
            out[key] = json.loads(redact(json.dumps(value, ensure_ascii=False, default=str)))
        else:
            out[key] = value
    return out


# -- key accounts ------------------------------------------------------------------------------
@dataclass
class AccountRow:
    golden_id: str
    name: str
    tier: str
    lifecycle: str
    revenue_12m: Decimal | None
    margin_12m: Decimal | None
    trend: float | None  # revenue change over 6 months, -1.0 = down 100%
    margin_trend: float | None  # margin change over 6 months, same scale
    health: float | None
    health_band: str
    churn_risk: float | None
    churn_band: str
    reasons: list[str]
    satisfaction: float | None
    satisfaction_band: str
    open_cases: int | None


def account_row(golden_id: str, data: dict[str, Any], gettext: Gettext | None = None) -> AccountRow:
    scores = data.get("scores") or {}
    churn, health, sat = scores.get("churn_risk") or {}, scores.get("health") or {}, scores.get("satisfaction") or {}
    revenue = _dec(_reason(scores.get("tier"), "revenue_12m").get("value"))
    margin = _dec(_reason(scores.get("clv"), "annual_margin").get("value"))
    trend = _float(_reason(churn, "falling_revenue").get("value"))
    margin_trend = _float(_reason(scores.get("clv"), "margin_trend").get("value"))
    opened = _float(_reason(churn, "open_complaints").get("value"))
    words = plain_reasons(churn, gettext) if gettext else plain_reasons(churn)
    return AccountRow(golden_id, str(data.get("name") or golden_id), str(data.get("tier") or "-"),
                      str(data.get("lifecycle_stage") or "-"), revenue, margin, trend, margin_trend,
                      _float(health.get("value")), str(health.get("band") or ""),
                      _float(churn.get("value")), str(churn.get("band") or ""), words,
                      _float(sat.get("value")), str(sat.get("band") or ""),
                      int(opened) if opened is not None else None)


SORTS = {"revenue": lambda r: r.revenue_12m or Decimal(0), "margin": lambda r: r.margin_12m or Decimal(0),
         "risk": lambda r: r.churn_risk or 0.0, "health": lambda r: r.health or 0.0,
         "name": lambda r: r.name.casefold(), "trend": lambda r: r.trend or 0.0,
         "margin_trend": lambda r: r.margin_trend or 0.0,
         "satisfaction": lambda r: r.satisfaction or 0.0, "cases": lambda r: r.open_cases or 0}


def _all_accounts(store: Store, gettext: Gettext | None) -> list[AccountRow]:
    with store.engine.connect() as conn:
        result = conn.execution_options(yield_per=2000).execute(sa.select(golden.c.golden_id, golden.c.data).where(
            golden.c.entity == "customer", golden.c.merged_into.is_(None)))
        return [account_row(golden_id, data or {}, gettext) for golden_id, data in result]


class AccountIndex:
    """Every live golden customer as a row, read again only when the golden records changed.

    Reading and decoding every golden record costs about a second per 10,000 customers; the
    key-accounts page filters and sorts the same rows on every request. The stamp that decides
    whether they are still current is cheap: the number of customers, the latest golden update,
    and the latest audit entry (an erasure rewrites records without touching updated_at, but it
    is always audited). Above `max_rows` customers nothing is kept and every request reads the
    store, so memory stays bounded.
    """

    def __init__(self, max_rows: int = 200_000) -> None:
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[tuple[Any, ...], list[AccountRow]]] = {}

    def _stamp(self, store: Store) -> tuple[Any, ...]:
        with store.engine.connect() as conn:
            count, latest = conn.execute(sa.select(sa.func.count(), sa.func.max(golden.c.updated_at)).where(
                golden.c.entity == "customer", golden.c.merged_into.is_(None))).one()
            audited = conn.execute(sa.select(sa.func.max(audit_log.c.id))).scalar()
        return count, str(latest), audited

    def rows(self, store: Store, lang: str, gettext: Gettext | None) -> list[AccountRow]:
        stamp = self._stamp(store)
        with self._lock:
            kept = self._kept.get(lang)
            if kept and kept[0] == stamp:
                return kept[1]
        rows = _all_accounts(store, gettext)
        if len(rows) <= self.max_rows:
            with self._lock:
                self._kept[lang] = (stamp, rows)
        return rows


@dataclass
class TierTotal:
    """A tier's customers and their revenue and margin over the last 12 months."""
    customers: int = 0
    revenue_12m: Decimal = Decimal(0)
    margin_12m: Decimal = Decimal(0)

    def add(self, row: AccountRow) -> None:
        self.customers += 1
        self.revenue_12m += row.revenue_12m or 0
        self.margin_12m += row.margin_12m or 0


def key_accounts(store: Store, *, tier: str | None = None, stage: str | None = None, query: str | None = None,
                 sort: str = "revenue", descending: bool = True, limit: int | None = 500,
                 gettext: Gettext | None = None, index: AccountIndex | None = None,
                 lang: str = "en") -> tuple[list[AccountRow], dict[str, TierTotal]]:
    """Customers filtered by tier / stage / name, sorted; plus each tier's totals (before filters)."""
    every = index.rows(store, lang, gettext) if index else _all_accounts(store, gettext)
    per_tier: dict[str, TierTotal] = {}
    for r in every:
        per_tier.setdefault(r.tier, TierTotal()).add(r)
    needle = (query or "").casefold().strip()
    rows = [r for r in every if (not tier or r.tier == tier) and (not stage or r.lifecycle == stage)
            and (not needle or needle in r.name.casefold() or needle in r.golden_id.casefold())]
    key = SORTS.get(sort, SORTS["revenue"])
    rows.sort(key=key, reverse=descending)
    return (rows[:limit] if limit else rows), per_tier


# -- customer 360 ------------------------------------------------------------------------------
@dataclass
class Customer360:
    golden_id: str
    requested: str
    name: str
    account: AccountRow
    fields: list[dict[str, Any]]  # field, value, source, rule
    sources: list[dict[str, Any]]  # ref, status, record
    links: list[Any]
    decisions: list[dict[str, Any]]
    merged_ids: list[str]
    scores: list[dict[str, Any]]  # name, value, band, reasons
    explain: list[str]
    timeline: list[dict[str, Any]]
    written: list[dict[str, Any]]


def customer_360(store: Store, golden_id: str, *, show_personal: bool, gettext: Gettext | None = None,
                 timeline_limit: int = 200) -> Customer360:
    """Everything about one golden customer; raises sync.resolve.explain.NotFound when unknown."""
    why = explain_golden(store, golden_id)
    scored = read_scores(store.engine, why.golden_id)
    data = scored[1] if scored else {}
    personal = PERSONAL_FIELDS if not show_personal else frozenset()
    fields = [{"field": f.field, "value": mask_value(f.value) if f.field in personal else f.value,
               "source": f.source, "rule": f.rule} for f in why.fields]
    refs = [s["ref"] for s in why.sources]
    records: dict[str, dict[str, Any]] = {}
    timeline: list[dict[str, Any]] = []
    with store.engine.connect() as conn:
        for ref in refs:
            system, obj, sid = parse_ref(ref)
            row = conn.execute(sa.select(staging.c.data).where(
                staging.c.source_system == system, staging.c.source_object == obj,
                staging.c.source_id == sid)).scalar()
            records[ref] = masked(row, show_personal)
            s = staging
            for act in conn.execute(sa.select(s.c.entity, s.c.source_system, s.c.source_object, s.c.source_id,
                                              s.c.data).where(
                    s.c.source_system == system, s.c.entity.in_(list(ACTIVITY)),
                    s.c.data["customer"].as_string() == sid).limit(timeline_limit)):
                when_key, what_key = ACTIVITY[act.entity]
                item = act.data or {}
                when = item.get(when_key) or item.get("updated_at") or ""
                what = item.get(what_key)
                timeline.append({"when": str(when), "kind": act.entity, "ref": f"{act.source_system}/"
                                 f"{act.source_object}/{act.source_id}", "what": redact(str(what)) if what is not None
                                 else "", "status": item.get("status") or item.get("kind") or ""})
        w = writeback_state
        written = [{"system": r.system, "object": r.object, "record_id": r.record_id, "values": r._mapping["values"],
                    "written_at": r.written_at} for r in conn.execute(
            sa.select(w).where(w.c.golden_id == why.golden_id).order_by(w.c.written_at.desc()))]
    timeline.sort(key=lambda t: t["when"], reverse=True)
    scores = []
    for name, score in sorted((data.get("scores") or {}).items()):
        scores.append({"name": name, "value": score.get("value"), "band": score.get("band"),
                       "plain": plain_reasons(score, gettext) if gettext else plain_reasons(score),
                       "reasons": score.get("reasons") or []})
    sources = [{"ref": s["ref"], "status": s["status"], "record": records.get(s["ref"], {})} for s in why.sources]
    return Customer360(why.golden_id, why.requested, str(data.get("name") or why.golden_id),
                       account_row(why.golden_id, data, gettext), fields, sources, why.links, why.decisions,
                       why.merged_ids, scores, explain_lines(data) if data else [], timeline[:timeline_limit],
                       written)


# -- review queue ------------------------------------------------------------------------------
def waterfall(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each comparison's weight as a step from the running total: start, end, in 0-1 of the range."""
    totals = [0.0]
    for level in levels:
        totals.append(totals[-1] + float(level.get("weight") or 0))
    low, high = min(totals), max(totals)
    span = (high - low) or 1.0
    steps = []
    for i, level in enumerate(levels):
        a, b = (totals[i] - low) / span, (totals[i + 1] - low) / span
        steps.append({**level, "start": min(a, b), "width": abs(b - a), "up": b >= a, "total": totals[i + 1]})
    return steps


@dataclass
class ReviewPair:
    entity: str
    left: str
    right: str
    weight: float
    rule: str
    levels: list[dict[str, Any]]
    rows: list[tuple[str, Any, Any, bool]] = field(default_factory=list)  # field, left, right, differs


def _staged(conn: sa.Connection, ref: str) -> dict[str, Any]:
    system, obj, sid = parse_ref(ref)
    return conn.execute(sa.select(staging.c.data).where(
        staging.c.source_system == system, staging.c.source_object == obj, staging.c.source_id == sid)).scalar() or {}


def review_queue(store: Store, *, show_personal: bool, limit: int = 50) -> list[ReviewPair]:
    """Pairs waiting for a steward, strongest first, with both records side by side."""
    items = pending(store, None, limit)
    out = []
    with store.engine.connect() as conn:
        for item in items:
            left, right = masked(_staged(conn, item.left), show_personal), masked(_staged(conn, item.right),
                                                                                  show_personal)
            names = sorted(set(left) | set(right))
            rows = [(n, left.get(n), right.get(n), left.get(n) != right.get(n)) for n in names]
            out.append(ReviewPair(item.entity, item.left, item.right, item.weight, item.rule, waterfall(item.levels),
                                  rows))
    return out


# -- data quality ------------------------------------------------------------------------------
def quality(store: Store, run_id: str | None, *, reason: str | None = None, source: str | None = None,
            show_personal: bool, limit: int = 100) -> dict[str, Any]:
    """Checks of one run (default: the latest with checks) and the quarantine by reason and source."""
    r, q = check_results, quarantine
    with store.engine.connect() as conn:
        check_runs = [x[0] for x in conn.execute(
            sa.select(r.c.run_id, sa.func.max(r.c.at)).group_by(r.c.run_id).order_by(sa.func.max(r.c.at).desc())
            .limit(30))]
        run_id = run_id if run_id in check_runs else (check_runs[0] if check_runs else None)
        checks = [dict(x._mapping) for x in conn.execute(
            sa.select(r).where(r.c.run_id == run_id).order_by(r.c.passed, r.c.id))] if run_id else []
        groups = [{"reason": x.reason, "source": f"{x.source_system}/{x.source_object}", "count": x.n}
                  for x in conn.execute(sa.select(q.c.reason, q.c.source_system, q.c.source_object,
                                                  sa.func.count().label("n"))
                                        .where(q.c.resolved_at.is_(None))
                                        .group_by(q.c.reason, q.c.source_system, q.c.source_object)
                                        .order_by(sa.func.count().desc()))]
        query = sa.select(q).where(q.c.resolved_at.is_(None))
        if reason:
            query = query.where(q.c.reason == reason)
        if source and "/" in source:
            system, obj = source.split("/", 1)
            query = query.where(q.c.source_system == system, q.c.source_object == obj)
        records = [{"id": x.id, "source": f"{x.source_system}/{x.source_object}/{x.source_id or '?'}",
                    "field": x.field, "reason": x.reason, "record": masked(x.record, show_personal),
                    "at": x.created_at} for x in conn.execute(query.order_by(q.c.id.desc()).limit(limit))]
    for check in checks:
        details = check.get("details") or {}
        check["reasons"] = details.get("reasons") or {}
        check["sample"] = details.get("sample") or []
    return {"run_id": run_id, "runs": check_runs, "checks": checks, "groups": groups, "records": records}


# -- runs, writeback, migration, audit ---------------------------------------------------------
def run_list(store: Store, *, limit: int = 30) -> list[dict[str, Any]]:
    out = []
    for rec in store.runs(limit):
        stages = (rec.counts or {}).get("stages") or {}
        out.append({"run_id": rec.run_id, "command": rec.command, "status": rec.status, "exit_code": rec.exit_code,
                    "started_at": rec.started_at, "seconds": rec.seconds, "api_calls": rec.api_calls,
                    "error": redact(rec.error) if rec.error else None,
                    "staged": sum(((rec.counts or {}).get("staged") or {}).values()),
                    "quarantined": (rec.counts or {}).get("quarantined") or 0,
                    "stages": [{"name": name, "status": (c or {}).get("status", ""),
                                "seconds": (c or {}).get("seconds"),
                                "counts": {k: v for k, v in (c or {}).items() if k not in ("status", "seconds")}}
                               for name, c in stages.items()]})
    return out


def writeback(store: Store, *, limit: int = 100) -> dict[str, Any]:
    """What the writeback last wrote and what waits in its queue (with old -> new per field)."""
    w, qu = writeback_state, writeback_queue
    with store.engine.connect() as conn:
        pending_rows = conn.execute(sa.select(qu).order_by(qu.c.last_at.desc()).limit(limit)).all()
        last = {(r.system, r.object, r.key_value): r._mapping["values"] or {} for r in conn.execute(
            sa.select(w.c.system, w.c.object, w.c.key_value, w.c["values"]).where(
                w.c.key_value.in_([p.key_value for p in pending_rows] or [""])))}
        queued = []
        for p in pending_rows:
            old = last.get((p.system, p.object, p.key_value), {})
            queued.append({"object": f"{p.system}/{p.object}", "key": p.key_value, "golden_id": p.golden_id,
                           "reason": p.reason, "error": p.error_message,
                           "changes": [(f, old.get(f), v) for f, v in sorted((p._mapping["values"] or {}).items())
                                       if old.get(f) != v]})
        written = conn.execute(sa.select(sa.func.count()).select_from(w)).scalar_one()
        recent = [{"object": f"{r.system}/{r.object}", "key": r.key_value, "golden_id": r.golden_id,
                   "values": r._mapping["values"] or {}, "at": r.written_at} for r in conn.execute(
            sa.select(w).order_by(w.c.written_at.desc()).limit(limit))]
    return {"written": written, "queued": queued, "recent": recent}


def dry_run_diff(logs: Path | None, run_ids: list[str], *, limit: int = 500) -> dict[str, Any] | None:
    """The latest writeback dry run's diff (which records, which fields, before -> after), if kept.

    A dry run does not touch the store; the writeback target leaves ``changes.csv`` in the run's log
    folder (``<logs>/writeback-<run id>/``), which is what this reads, newest run first.
    """
    if logs is None:
        return None
    for run_id in run_ids:
        path = logs / f"writeback-{run_id}" / "changes.csv"
        if path.is_file():
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                rows = [{"object": r.get("object"), "record": r.get("record"), "field": r.get("field"),
                         "before": redact(r.get("before") or ""), "after": redact(r.get("after") or "")}
                        for _, r in zip(range(limit), reader, strict=False)]
                more = sum(1 for _ in reader)
            return {"run_id": run_id, "rows": rows, "more": more,
                    "records": len({(r["object"], r["record"]) for r in rows})}
    return None


def migration(store: Store) -> dict[str, Any]:
    """Migration runs (plan, verify, archive, erase) and the erasure log (counts, no personal data)."""
    a = audit_log
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(runs).where(runs.c.command.like("migrate%"))
                            .order_by(runs.c.started_at.desc()).limit(50)).all()
        erased = [{"object": f"{x.system}/{x.object}", "count": x.n, "last": x.last} for x in conn.execute(
            sa.select(a.c.system, a.c.object, sa.func.count().label("n"), sa.func.max(a.c.at).label("last"))
            .where(a.c.action == "erase").group_by(a.c.system, a.c.object))]
    return {"runs": [{"run_id": r.run_id, "command": r.command, "status": r.status, "started_at": r.started_at,
                      "counts": r.counts or {}, "error": redact(r.error) if r.error else None} for r in rows],
            "erased": erased}


def audit_trail(store: Store, *, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
    """Recent audit entries, newest first; the actor column is shown when the store has one."""
    with store.engine.connect() as conn:
        table = sa.Table("audit_log", sa.MetaData(), autoload_with=conn)
        query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if action:
            query = query.where(table.c.action == action)
        rows = conn.execute(query).all()
    out = []
    for r in rows:
        m = dict(r._mapping)
        out.append({"at": m.get("at"), "action": m.get("action"), "actor": m.get("actor") or "",
                    "object": f"{m.get('system')}/{m.get('object')}", "record_id": m.get("record_id"),
                    "field": m.get("field"), "new": redact(json.dumps(m.get("new"), ensure_ascii=False,
                                                                      default=str)) if m.get("new") else ""})
    return out


def tier_lifecycle_counts(store: Store) -> tuple[Counter[str], Counter[str], dict[str, Decimal]]:
    tiers: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    revenue: dict[str, Decimal] = {}
    with store.engine.connect() as conn:
        for data in conn.execution_options(yield_per=5000).execute(sa.select(golden.c.data).where(
                golden.c.entity == "customer", golden.c.merged_into.is_(None))).scalars():
            data = data or {}
            tier = str(data.get("tier") or "unscored")
            tiers[tier] += 1
            if data.get("lifecycle_stage"):
                stages[str(data["lifecycle_stage"])] += 1
            value = _dec(_reason((data.get("scores") or {}).get("tier"), "revenue_12m").get("value"))
            if value is not None:
                revenue[tier] = revenue.get(tier, Decimal(0)) + value
    return tiers, stages, revenue


def shown(value: Any) -> str:
    """A value as plain text for a page: dicts as 'key: value, …', lists comma-separated."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {shown(v)}" for k, v in value.items() if v not in (None, ""))
    if isinstance(value, list | tuple):
        return ", ".join(shown(v) for v in value)
    return str(value)


def when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    return value.strftime("%Y-%m-%d %H:%M")
