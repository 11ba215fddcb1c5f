"""The thin adapter between the engine and the store: read activity per golden customer, write scores.

Reading streams in golden-id order so memory holds one customer at a time: one ordered query
for the live golden customers, one per activity entity. An activity row (an order, a case...)
names its customer by that customer's source id *in the same system* (``data.customer``); the
crosswalk rows of that system's customer records translate it into the golden id (following
``golden.merged_into`` once, for a merge the crosswalk has not caught up with). Rows that are
deleted at source, quarantined, or that do not parse into their entity are skipped and counted,
never fatal. :class:`StoreActivity` can be iterated more than once, which is what lets
:func:`~sync.enrich.engine.score_customers` make its two passes without buffering.

Writing merges ``tier``, ``lifecycle_stage`` and ``scores`` into ``golden.data`` and touches a
row only when something changed, so the writeback's diff sees only real changes.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Engine

from sync.enrich.activity import CreditNote, CustomerActivity
from sync.enrich.churn_model import churn_model_for
from sync.enrich.engine import CustomerScores, Population, score_customers, survey_population
from sync.enrich.measures import REVENUE_MEASURES
from sync.enrich.rules import ScoringRules
from sync.model import Deal, Interaction, Invoice, Order, Payment, ServiceCase, Survey
from sync.stage_marks import mid_stage
from sync.store.marks import source_mark
from sync.store.schema import crosswalk, golden, incremental_state, staging
from sync.store.store import to_json

ACTIVITY: dict[str, tuple[str, type[BaseModel]]] = {
    "order": ("orders", Order),
    "invoice": ("invoices", Invoice),
    "payment": ("payments", Payment),
    "credit_note": ("credit_notes", CreditNote),
    "deal": ("deals", Deal),
    "interaction": ("interactions", Interaction),
    "service_case": ("cases", ServiceCase),
    "survey": ("surveys", Survey),
}
"""Staging entity name -> (CustomerActivity list, model)."""

_SKIPPED_STATUSES = ("quarantined", "deleted")


def _lenient(model: type[BaseModel]) -> type[BaseModel]:
    # staged data may carry fields the entity does not define (lineage, raw ids); ignoring them
    # in the validator is much cheaper than filtering every row's dict first
    return type(model.__name__, (model,), {"model_config": ConfigDict(extra="ignore")})


_READERS: dict[str, type[BaseModel]] = {name: _lenient(model) for name, (_, model) in ACTIVITY.items()}


@dataclass
class ReadStats:
    """What reading skipped, by reason and entity (counts only: no record content)."""

    skipped: Counter[str] = field(default_factory=Counter)


def _ordered(engine: Engine, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    # Python compares str by code point; so do SQLite (binary) and PostgreSQL's "C" collation
    return sa.collate(expr, "C") if engine.dialect.name == "postgresql" else expr


def _parse_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_date(value: Any) -> date | None:
    stamp = _parse_datetime(value)
    return stamp.date() if stamp else None


class StoreActivity:
    """Every live golden customer with its activity, in golden-id order; re-iterable."""

    def __init__(self, engine: Engine, *, batch: int = 2000, entities: Iterable[str] | None = None,
                 only: set[str] | None = None) -> None:
        self.engine = engine
        self.only = only
        """Golden ids to yield (None: all); the others' rows are read past without parsing."""
        self.batch = batch
        self.entities = tuple(e for e in ACTIVITY if entities is None or e in set(entities))
        self.stats = ReadStats()

    def _golden_rows(self, conn: sa.Connection) -> Iterator[tuple[str, dict[str, Any]]]:
        g = golden
        query = (sa.select(g.c.golden_id, g.c.data)
                 .where(g.c.entity == "customer", g.c.merged_into.is_(None))
                 .order_by(_ordered(self.engine, g.c.golden_id)))
        for row in conn.execution_options(yield_per=self.batch).execute(query):
            yield row.golden_id, row.data or {}

    def _customer_objects(self, conn: sa.Connection) -> list[tuple[str, str]]:
        """(system, object) pairs that hold customer records, e.g. ('sales', 'accounts')."""
        return sorted((system, obj) for system, obj in conn.execute(
            sa.select(crosswalk.c.source_system, crosswalk.c.source_object)
            .where(crosswalk.c.entity == "customer").distinct()))

    def _linked_rows(self, conn: sa.Connection, entity: str, customer_objects: Sequence[tuple[str, str]],
                     content: bool = True) -> Iterator[tuple[str, sa.Row[Any]]]:
        """(golden id, staging row) for one entity's live rows, ordered by golden id.

        One query per customer object, each naming system, object and id so the crosswalk's
        primary key finds the customer: matching on system and id alone scans the crosswalk.
        """
        streams = [self._rows(conn, entity, system, customer_object, own_key=entity == "customer", content=content)
                   for system, customer_object in customer_objects]
        return heapq.merge(*streams, key=lambda item: item[0])

    def _rows(self, conn: sa.Connection, entity: str, system: str, customer_object: str,
              own_key: bool, content: bool = True) -> Iterator[tuple[str, sa.Row[Any]]]:
        s, own, cust = staging, crosswalk.alias("own"), crosswalk.alias("cust")
        own_on = sa.and_(own.c.source_system == s.c.source_system, own.c.source_object == s.c.source_object,
                         own.c.source_id == s.c.source_id)
        if own_key:  # a customer record's own crosswalk row names its golden id
            cust = own
            join = s.join(own, own_on)
            where = [s.c.source_object == customer_object]
        else:
            join = s.join(cust, sa.and_(cust.c.source_system == system, cust.c.source_object == customer_object,
                                        cust.c.source_id == s.c.data["customer"].as_string())).outerjoin(own, own_on)
            where = [sa.or_(own.c.status.is_(None), own.c.status.not_in(_SKIPPED_STATUSES))]
        merged = golden.alias("merged")
        join = join.outerjoin(merged, merged.c.golden_id == cust.c.golden_id)
        target = sa.func.coalesce(merged.c.merged_into, cust.c.golden_id).label("gid")
        # ``content=False`` reads the content hash instead of the data: enough to tell what changed
        query = (sa.select(target, s.c.source_system, s.c.source_object, s.c.source_id,
                           s.c.data if content else s.c.content_hash)
                 .select_from(join)
                 .where(s.c.entity == entity, s.c.source_system == system, s.c.deleted.is_(sa.false()),
                        cust.c.golden_id.is_not(None), *where)
                 .order_by(_ordered(self.engine, target), s.c.source_object, s.c.source_id))
        for row in conn.execution_options(yield_per=self.batch).execute(query):
            yield row.gid, row

    def _unlinked(self, conn: sa.Connection, customer_objects: Sequence[tuple[str, str]]) -> None:
        """Count live activity rows whose customer reference no customer crosswalk row knows."""
        s, cust = staging, crosswalk.alias("cust")
        objects = sorted({obj for _system, obj in customer_objects})
        # naming the objects lets the crosswalk's primary key answer; system and id alone scan it
        known = sa.exists().where(cust.c.source_system == s.c.source_system, cust.c.source_object.in_(objects),
                                  cust.c.source_id == s.c.data["customer"].as_string(),
                                  cust.c.entity == "customer", cust.c.golden_id.is_not(None))
        rows = conn.execute(sa.select(s.c.entity, sa.func.count()).where(
            s.c.entity.in_(list(self.entities)), s.c.deleted.is_(sa.false()), ~known).group_by(s.c.entity))
        for entity, count in rows:
            self.stats.skipped[f"{entity}: customer reference not in the crosswalk"] += count

    def _model(self, entity: str, row: sa.Row[Any]) -> BaseModel | None:
        data = dict(row.data or {})
        data["source"] = {"system": row.source_system, "object": row.source_object, "id": row.source_id}
        try:
            return _READERS[entity].model_validate(data)
        except ValidationError:
            self.stats.skipped[f"{entity}: does not parse"] += 1
            return None

    def __iter__(self) -> Iterator[CustomerActivity]:
        self.stats = ReadStats()
        with self.engine.connect() as conn:
            customer_objects = self._customer_objects(conn)
            self._unlinked(conn, customer_objects)
            streams = {entity: _Peek(self._linked_rows(conn, entity, customer_objects))
                       for entity in ("customer", *self.entities)}
            for golden_id, data in self._golden_rows(conn):
                activity = CustomerActivity(golden_id, kind=str(data.get("kind") or "direct"),
                                            created_at=_parse_datetime(data.get("created_at")),
                                            terminated_on=_parse_date(data.get("terminated_on")))
                wanted = self.only is None or golden_id in self.only
                for entity, stream in streams.items():
                    rows = stream.take(golden_id, self.stats.skipped, entity)
                    if not wanted:
                        continue
                    if entity == "customer":
                        self._customer_facts(activity, rows)
                        continue
                    items = getattr(activity, ACTIVITY[entity][0])
                    items.extend(m for m in (self._model(entity, r) for r in rows) if m is not None)
                if wanted:
                    yield activity
            for entity, stream in streams.items():
                stream.drain(self.stats.skipped, entity)

    def digests(self) -> dict[str, str]:
        """Golden id -> (digest of everything scoring reads for it, its golden data), for every
        live customer, from content hashes alone: no activity row is parsed.

        The digest covers the golden record's own facts (kind, creation, termination) and the
        (reference, content hash) of every staging row linked to it, customer rows included, so
        it changes when a row is added, changed, deleted, or moves to another golden customer.
        Rows are combined by a sum of their hashes, which does not depend on reading order.
        """
        combined: dict[str, int] = {}
        g = golden
        # only the facts scoring reads: decoding whole golden records (scores included) costs more
        facts = sa.select(g.c.golden_id, *(g.c.data[k].as_string() for k in ("kind", "created_at", "terminated_on"))
                          ).where(g.c.entity == "customer", g.c.merged_into.is_(None))
        with self.engine.connect() as conn:
            customer_objects = self._customer_objects(conn)
            for golden_id, *values in conn.execute(facts):
                combined[golden_id] = _row_hash("golden", *map(str, values))
            for entity in ("customer", *self.entities):
                for gid, row in self._linked_rows(conn, entity, customer_objects, content=False):
                    if gid in combined:
                        combined[gid] = (combined[gid] + _row_hash(entity, row.source_system, row.source_object,
                                                                   row.source_id, row.content_hash)) % _MOD
        return {gid: f"{value:032x}" for gid, value in combined.items()}

    @staticmethod
    def _customer_facts(activity: CustomerActivity, rows: Sequence[sa.Row[Any]]) -> None:
        """Tenure starts with the oldest source record; a termination date on any source counts."""
        for row in rows:
            data = row.data or {}
            created = _parse_datetime(data.get("created_at"))
            if created is not None and (activity.created_at is None or created < activity.created_at):
                activity.created_at = created
            ended = _parse_date(data.get("terminated_on"))
            if ended is not None and (activity.terminated_on is None or ended < activity.terminated_on):
                activity.terminated_on = ended


_MOD = 1 << 128


def _row_hash(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).digest(), "big")


class _Peek:
    """A golden-id-ordered row stream read in step with the golden customers."""

    def __init__(self, rows: Iterator[tuple[str, sa.Row[Any]]]) -> None:
        self._rows = rows
        self._head: tuple[str, sa.Row[Any]] | None = next(rows, None)

    def take(self, golden_id: str, skipped: Counter[str], entity: str) -> list[sa.Row[Any]]:
        out: list[sa.Row[Any]] = []
        while self._head is not None and self._head[0] <= golden_id:
            gid, row = self._head
            if gid == golden_id:
                out.append(row)
            else:  # a golden id that is not a live customer (deleted, or not resolved yet)
                skipped[f"{entity}: customer not in golden records"] += 1
            self._head = next(self._rows, None)
        return out

    def drain(self, skipped: Counter[str], entity: str) -> None:
        rest = (self._head is not None) + sum(1 for _ in self._rows)
        if rest:
            skipped[f"{entity}: customer not in golden records"] += rest
        self._head = None


def scores_json(result: CustomerScores) -> dict[str, Any]:
    """The fields enrichment owns in a golden customer's data."""
    return {"tier": result.tier.value, "lifecycle_stage": result.lifecycle_stage.value,
            "scores": {name: score.model_dump(mode="json") for name, score in result.scores.items()}}


@dataclass
class WriteStats:
    updated: int = 0
    unchanged: int = 0
    missing: int = 0


def write_scores(engine: Engine, results: Iterable[CustomerScores], run_id: str | None = None,
                 batch: int = 500) -> WriteStats:
    """Merge scores into golden.data, one transaction per batch; rows whose scores are unchanged stay untouched."""
    stats = WriteStats()
    iterator = iter(results)
    while chunk := list(itertools.islice(iterator, batch)):
        wanted = {r.golden_id: scores_json(r) for r in chunk}
        with engine.begin() as conn:
            current = {gid: data for gid, data in conn.execute(
                sa.select(golden.c.golden_id, golden.c.data).where(golden.c.golden_id.in_(list(wanted))))}
            stamp = datetime.now(UTC)
            updates = []
            for gid, fields in wanted.items():
                if gid not in current:
                    stats.missing += 1
                    continue
                data = dict(current[gid] or {})
                if all(data.get(k) == v for k, v in fields.items()):
                    stats.unchanged += 1
                    continue
                data.update(fields)
                updates.append({"b_gid": gid, "b_data": to_json(data)})
            if updates:
                conn.execute(golden.update().where(golden.c.golden_id == sa.bindparam("b_gid")).values(
                    data=sa.bindparam("b_data"), run_id=run_id, updated_at=stamp), updates)
                stats.updated += len(updates)
    return stats


def read_scores(engine: Engine, golden_id: str) -> tuple[str, dict[str, Any]] | None:
    """(live golden id, its data) for a customer, following merges; None when unknown."""
    with engine.connect() as conn:
        for _ in range(16):  # merge chains are short; the bound only guards against a cycle
            row = conn.execute(sa.select(golden.c.data, golden.c.merged_into).where(
                golden.c.golden_id == golden_id, golden.c.entity == "customer")).first()
            if row is None:
                return None
            if row.merged_into is None:
                return golden_id, dict(row.data or {})
            golden_id = row.merged_into
    return None


def population_entities(rules: ScoringRules) -> set[str] | None:
    """Entities pass one must read (None: all), from what the tier measure depends on."""
    names = set(rules.tier.weighted) if rules.tier.measure == "weighted" else {rules.tier.measure}
    if not names <= REVENUE_MEASURES:
        return None
    documents = "order" if rules.revenue.source == "orders" else "invoice"
    return {documents, "credit_note"} if rules.revenue.net_of_credit_notes else {documents}


@dataclass
class EnrichSummary:
    """Counts for the end-of-run summary (no personal data)."""

    customers: int = 0
    tiers: Counter[str] = field(default_factory=Counter)
    stages: Counter[str] = field(default_factory=Counter)
    forecast_total: Decimal = Decimal("0.00")
    written: WriteStats = field(default_factory=WriteStats)
    skipped: Counter[str] = field(default_factory=Counter)
    rescored: int = 0
    """Customers scored in this run; ``customers - rescored`` kept their scores unchanged."""
    why: str = ""
    """Why this many were re-scored: nothing changed, some inputs changed, or everyone."""

    @property
    def not_rescored(self) -> int:
        return self.customers - self.rescored


STATE_STAGE = "enrich"
_RUN_KEY = ""


def _code_digest() -> str:
    """The scoring code itself: a new formula re-scores everyone, even on unchanged inputs."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _run_digest(rules: ScoringRules, as_of: date) -> str:
    # The as-of date moves every window (trailing revenue, recency, tenure): a new date re-scores all.
    return hashlib.sha256("\x1f".join([_code_digest(), rules.model_dump_json(), as_of.isoformat()]).encode()
                          ).hexdigest()


def _population_digest(population: Population) -> str:
    return hashlib.sha256(repr(population).encode()).hexdigest()


def _watermark(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return source_mark(conn)


def _golden_mark(engine: Engine) -> str:
    """Golden customers' count and latest change. Kept apart from the source mark because enrich's
    own score writes move it: what a run saves is the mark after its writes."""
    with engine.connect() as conn:
        return str(tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(golden.c.updated_at))
                                      .where(golden.c.entity == "customer")).one()))


def _load_run(engine: Engine) -> dict[str, Any]:
    """The last run's digests, marks and totals."""
    st = incremental_state
    with engine.connect() as conn:
        note = conn.execute(sa.select(st.c.note).where(st.c.stage == STATE_STAGE, st.c.key == _RUN_KEY)).scalar()
    return json.loads(note) if note else {}


def _load_kept(engine: Engine) -> dict[str, tuple[str, dict[str, Any]]]:
    """Golden id -> (inputs digest, summary facts) as last scored."""
    st = incremental_state
    with engine.connect() as conn:
        rows = conn.execute(sa.select(st.c.key, st.c.digest, st.c.note)
                            .where(st.c.stage == STATE_STAGE, st.c.key != _RUN_KEY)).all()
    return {key: (digest, _unpack(note)) for key, digest, note in rows}


def _save_state(engine: Engine, scored: dict[str, tuple[str, dict[str, Any]]], gone: Iterable[str],
                run: dict[str, Any], run_id: str | None, replace_all: bool) -> None:
    """Remember what was scored, after the scores are written (state never runs ahead of data)."""
    st = incremental_state
    stamp = datetime.now(UTC)
    with engine.begin() as conn:
        if replace_all:
            conn.execute(st.delete().where(st.c.stage == STATE_STAGE))
        else:
            stale = [*gone, *scored, _RUN_KEY]
            for start in range(0, len(stale), 500):
                conn.execute(st.delete().where(st.c.stage == STATE_STAGE, st.c.key.in_(stale[start:start + 500])))
        rows = [{"stage": STATE_STAGE, "key": gid, "digest": d, "note": _pack(facts), "run_id": run_id,
                 "updated_at": stamp} for gid, (d, facts) in scored.items()]
        rows.append({"stage": STATE_STAGE, "key": _RUN_KEY, "digest": run["run"], "note": json.dumps(run),
                     "run_id": run_id, "updated_at": stamp})
        for start in range(0, len(rows), 5000):
            conn.execute(st.insert(), rows[start:start + 5000])


def _facts(result: CustomerScores) -> dict[str, Any]:
    """What the run summary counts of a customer, kept so a customer not re-scored still counts."""
    return {"tier": result.tier.value, "stage": result.lifecycle_stage.value, "forecast": str(result.forecast)}


_FACTS = ("tier", "stage", "forecast")


def _pack(facts: dict[str, Any]) -> str:
    return "\x1f".join(str(facts[k]) for k in _FACTS)


def _unpack(note: str | None) -> dict[str, Any]:
    return dict(zip(_FACTS, (note or "").split("\x1f"), strict=False))


def _count(summary: EnrichSummary, facts: dict[str, Any]) -> None:
    summary.customers += 1
    summary.tiers[facts["tier"]] += 1
    summary.stages[facts["stage"]] += 1
    summary.forecast_total += Decimal(facts["forecast"])


def enrich_store(engine: Engine, rules: ScoringRules, as_of: date, run_id: str | None = None,
                 *, incremental: bool = True) -> EnrichSummary:
    """Score the live golden customers in the store as of ``as_of`` and write the results back.

    Incremental (the default): a customer is re-scored only when what scoring reads for it
    changed since its last scoring (its golden facts, or any staged row linked to it), or when
    something every customer depends on changed: the rules, the scoring code, the as-of date,
    or the population cut-offs (tiers and RFM compare a customer with everyone). When nothing at
    all changed, neither pass reads activity: the stored scores are the result.
    """
    summary = EnrichSummary()
    last_run = _load_run(engine) if incremental else {}
    run_digest = _run_digest(rules, as_of)
    # taken before anything is read: a change made while this run reads is seen by the next one
    mark = {"watermark": _watermark(engine), "golden": _golden_mark(engine)}
    if (last_run.get("run") == run_digest and all(last_run.get(k) == v for k, v in mark.items())
            and "totals" in last_run):
        # no row scoring reads was written since the last scoring: not even the digests are needed
        return _from_totals(summary, last_run["totals"])
    kept = _load_kept(engine) if incremental else {}
    current = StoreActivity(engine).digests()
    changed = {gid for gid, d in current.items() if gid not in kept or kept[gid][0] != d}
    gone = set(kept) - set(current)
    if last_run.get("run") == run_digest and not changed and not gone:
        # Same inputs, same rules, same date: pass one would find the same population, and
        # pass two the same scores, already in golden.data.
        _unchanged(summary, kept)
        _save_state(engine, {}, (), {**last_run, **mark, "totals": _totals(summary)}, run_id, replace_all=False)
        return summary

    # pass one needs only what the tier measure is made of: usually revenue documents alone
    population = survey_population(StoreActivity(engine, entities=population_entities(rules)), rules, as_of)
    population = population.with_churn(churn_model_for(StoreActivity(engine), rules, as_of))
    # the fitted churn model is part of the population: a refit changes its digest, so everyone is re-scored
    population_digest = _population_digest(population)
    everyone = last_run.get("run") != run_digest or last_run.get("population") != population_digest
    if everyone:
        summary.why = ("first scoring" if not last_run else
                       "rules, scoring code or as-of date changed" if last_run.get("run") != run_digest else
                       "population cut-offs moved")
        targets = set(current)
    else:
        summary.why = "inputs changed"
        targets = changed
    source = StoreActivity(engine, only=None if everyone else targets)

    scored: dict[str, tuple[str, dict[str, Any]]] = {}

    def counted(results: Iterable[CustomerScores]) -> Iterator[CustomerScores]:
        for result in results:
            facts = _facts(result)
            _count(summary, facts)
            summary.rescored += 1
            if summary.rescored == 1:
                mid_stage("enrich")  # scoring under way, scores not all written (crash tests kill here)
            if result.golden_id in current:
                scored[result.golden_id] = (current[result.golden_id], facts)
            yield result

    summary.written = write_scores(engine, counted(score_customers(source, rules, as_of, population)), run_id)
    summary.skipped = source.stats.skipped
    for gid in set(current) - set(scored):
        if gid in kept:  # not re-scored: its scores in golden.data are still right
            _count(summary, kept[gid][1])
            summary.written.unchanged += 1
    # enrich's own score writes moved golden.updated_at: what the next run compares with is after them
    mark["golden"] = _golden_mark(engine)
    _save_state(engine, scored, gone, {"run": run_digest, "population": population_digest, **mark,
                                       "totals": _totals(summary)}, run_id, replace_all=everyone)
    return summary


def _totals(summary: EnrichSummary) -> dict[str, Any]:
    """What the summary counts of every customer, kept so an unchanged run reads no customer's state."""
    return {"customers": summary.customers, "tiers": dict(summary.tiers), "stages": dict(summary.stages),
            "forecast": str(summary.forecast_total)}


def _from_totals(summary: EnrichSummary, totals: dict[str, Any]) -> EnrichSummary:
    summary.customers = totals["customers"]
    summary.tiers.update(totals["tiers"])
    summary.stages.update(totals["stages"])
    summary.forecast_total = Decimal(totals["forecast"])
    summary.written.unchanged = summary.customers
    summary.why = "nothing changed since the last scoring"
    return summary


def _unchanged(summary: EnrichSummary, kept: dict[str, tuple[str, dict[str, Any]]]) -> EnrichSummary:
    for _digest, facts in kept.values():
        _count(summary, facts)
    summary.written.unchanged = summary.customers
    summary.why = "nothing changed since the last scoring"
    return summary
