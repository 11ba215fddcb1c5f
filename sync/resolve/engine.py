"""Incremental resolution of staged records into golden records, inside the store.

A run has three steps, all in one transaction so golden records move consistently:

1. **refresh** — staged records that are new or whose content hash changed since they were
   last resolved get their comparison values prepared and their blocking keys rewritten;
   records deleted at source or quarantined leave the match state.
2. **score** — only those changed records are paired, through shared blocking keys, with every
   record already known; pairs scored match or review are kept. Where: ``engine`` (DuckDB
   set-based SQL by default, Spark, or the per-pair Python path below).
3. **cluster** — clusters are rebuilt from the kept links and people's decisions (cheap: no
   scoring but of members of clusters that are not cliques of links, checked for a rule's
   no_match between them), compared with the golden records they had, and only clusters that
   changed get new golden data, ids, crosswalk rows and merge audit entries.

Memory holds integer ids and golden ids, not records: keys, prepared values and pairs live in
the store, and records are read in pages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.resolve.cluster import UnionFind, assign_ids, derived_id, group
from sync.resolve.prepare import prepare
from sync.resolve.scoring import PairScore, Scorer
from sync.resolve.spec import EntityRules, MatchConfig
from sync.resolve.survivorship import Member, survive
from sync.stage_marks import mid_stage
from sync.store import crosswalk as xw
from sync.store.bulk import insert_many, json_text
from sync.store.marks import decisions_mark, source_mark, staged_mark
from sync.store.schema import (
    bookmarks,
    crosswalk,
    golden,
    match_constraints,
    match_keys,
    match_pairs,
    match_records,
    staging,
)
from sync.store.store import AuditEntry, Store, now, to_json

ACTIVE = xw.ACTIVE  # the statuses that take part in golden records
PARAMS = 500  # bound parameters per IN list: well under SQLite's limit
CACHED_FEATURES = 50_000  # prepared values kept while scoring: neighbours recur, memory stays flat
LOCAL_SHARE = 0.1
"""A run whose changes start on at most this share of an entity's records re-clusters only the
records they reach (:func:`_closure`); above it, one read of the whole entity is cheaper than
the closure's indexed look-ups (about two look-ups per record reached, a few rounds)."""
CLOSURE_SHARE = 0.25
"""A closure that grows past this share of the records (a giant component of links) is given
up for the whole read: past it, look-ups cost more than the scan they save."""

T = TypeVar("T")


def ref_text(system: str, obj: str, source_id: str) -> str:
    return f"{system}/{obj}/{source_id}"


def parse_ref(text: str) -> tuple[str, str, str]:
    system, obj, source_id = text.split("/", 2)
    return system, obj, source_id


def chunks(items: Sequence[T], size: int = PARAMS) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _same_ref(a: sa.Table, b: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(a.c.source_system == b.c.source_system, a.c.source_object == b.c.source_object,
                   a.c.source_id == b.c.source_id)


def not_indexed(column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """Hide a column from SQLite's planner: with the entity index it sorts every page in a
    temp B-tree (quadratic over a paged scan); without it, it walks the primary key in order."""
    return sa.func.coalesce(column, "")


@dataclass
class ResolveResult:
    entity: str
    records: int = 0
    changed: int = 0
    removed: int = 0
    pairs_scored: int = 0
    matches: int = 0
    reviews: int = 0
    clusters_written: int = 0
    merges: int = 0
    retired: int = 0
    golden: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ENGINES = ("duckdb", "python", "spark")
"""Where candidate pairs are found and scored: ``duckdb`` (set-based SQL in-process,
sync/resolve/duck.py), ``spark`` (the same SQL on Apache Spark, sync/resolve/spark.py) or
``python`` (indexed look-ups in the store, one ``Scorer.score`` call per pair). All three give
the same pairs, weights and decisions; everything else in a run is shared."""
DEFAULT_ENGINE = "duckdb"


def resolve(store: Store, config: MatchConfig, entity: str, run_id: str | None = None,
            *, page: int = 2000, engine: str | None = None, local_share: float = LOCAL_SHARE) -> ResolveResult:
    """Bring golden records of ``entity`` up to date with staging; returns what changed.

    ``local_share``: re-cluster only the records a run's changes reach (:func:`_closure`) when
    they start as at most this share of the entity's records (0: always every record; 1: the
    closure whenever it is safe). The result is the same either way."""
    engine = engine or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise ValueError(f"unknown resolve engine '{engine}' (choose one of {', '.join(ENGINES)})")
    rules = config.rules_for(entity)
    scorer = Scorer(rules)
    result = ResolveResult(entity)
    with store.begin() as conn:
        _rescore_if_rules_changed(store, conn, entity, rules, run_id)
        unlinked: set[int] = set()
        dirty, touched = _refresh(conn, entity, rules, scorer, run_id, page, result, engine, unlinked)
        if engine in ("duckdb", "spark"):
            _score_set_based(engine, conn, entity, rules, dirty, run_id, result)
        else:
            _score(conn, entity, rules, scorer, dirty, run_id, result)
        local = _may_stay_local(store, conn, entity, rules, run_id)
        _recluster(store, conn, entity, rules, scorer, set(dirty), touched, run_id, result,
                   unlinked=unlinked, local_share=local_share if local else 0.0)
    return result


# -- 0. rules ---------------------------------------------------------------------------------
PREPARED_FORM = "2"
"""Bump when a normaliser or comparator prepares the same value differently: stored prepared
values and keys are then recomputed, as when the match rules change."""


def rules_fingerprint(rules: EntityRules) -> str:
    """What the stored keys, prepared values and scored pairs depend on (not survivorship)."""
    scoring = rules.model_dump(mode="json", exclude={"survivorship", "id_prefix", "prior"})
    if not rules.link_only:  # absent, as before link-only existed: stores of earlier rules are not rescored
        del scoring["link_only"]
    text = json.dumps({"form": PREPARED_FORM, "rules": scoring}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _rescore_if_rules_changed(store: Store, conn: Connection, entity: str, rules: EntityRules,
                              run_id: str | None) -> None:
    """Edited match rules (or a new crm2) make every stored key, value and link stale: mark every
    record changed so this run prepares and scores them all again. Golden ids stay stable: the
    clusters are compared with the golden records they had, as on any run."""
    name = f"resolve:{entity}"
    fingerprint = rules_fingerprint(rules)
    stored = conn.execute(sa.select(bookmarks.c.state).where(bookmarks.c.name == name)).scalar()
    if (stored or {}).get("rules") == fingerprint:
        return
    conn.execute(match_records.update().where(match_records.c.entity == entity).values(content_hash=""))
    conn.execute(match_keys.delete().where(match_keys.c.entity == entity))
    conn.execute(match_pairs.delete().where(match_pairs.c.entity == entity))
    store.set_bookmark(conn, name, {"rules": fingerprint}, run_id)


# -- 1. refresh ------------------------------------------------------------------------------
def _refresh(conn: Connection, entity: str, rules: EntityRules, scorer: Scorer, run_id: str | None,
             page: int, result: ResolveResult, engine: str, unlinked: set[int]) -> tuple[list[int], set[str]]:
    """Prepare new and changed records; the changed records' rids and the golden ids of records
    that left. ``unlinked`` gets the other ends of the match links this run forgets."""
    s, c, m = staging, crosswalk, match_records
    touched: set[str] = set()
    gone = conn.execute(
        sa.select(m.c.rid, c.c.golden_id)
        .select_from(m.outerjoin(c, _same_ref(m, c)).outerjoin(s, _same_ref(m, s)))
        .where(m.c.entity == entity, sa.or_(c.c.source_id.is_(None), c.c.status.not_in(ACTIVE),
                                            s.c.source_id.is_(None), s.c.deleted.is_(True)))).all()
    gone_rids = [r.rid for r in gone]
    touched.update(r.golden_id for r in gone if r.golden_id)
    _forget(conn, gone_rids, drop_records=True, unlinked=unlinked)
    result.removed = len(gone_rids)
    _mark_moved_references(conn, entity, rules)

    dirty: list[int] = []
    if engine == "spark":  # preparation on Spark's executors (mapInArrow), the writes here as below
        from sync.resolve import spark

        for batch in spark.prepare(rules, _to_prepare(conn, entity, rules, page), page):
            columns = {name: batch.column(name).to_pylist() for name in batch.schema.names}
            rows = [_Page(*values) for values in zip(*(columns[f] for f in _Page._fields), strict=True)]
            # the executor's JSON text back to the values the store writes, by the same code as below
            prepared = {(r.source_system, r.source_object, r.source_id): (json.loads(f), k)
                        for r, f, k in zip(rows, columns["features"], columns["keys"], strict=True)}
            dirty.extend(_write_prepared(conn, entity, run_id, rows, prepared, unlinked))
    else:
        objects = _referenced_objects(conn, rules)
        for staged in _pages(conn, entity, page):
            datas = _with_references(conn, rules, staged, objects)
            features, keys = prepare(scorer, datas)
            prepared = {(r.source_system, r.source_object, r.source_id): (f, k)
                        for r, f, k in zip(staged, features, keys, strict=True)}
            dirty.extend(_write_prepared(conn, entity, run_id, staged, prepared, unlinked))
    result.changed = len(dirty)
    return dirty, touched


class _Page(NamedTuple):
    """A prepared record read back from Spark: what :func:`_write_prepared` reads of a staging row."""
    source_system: str
    source_object: str
    source_id: str
    content_hash: str
    rid: int | None


def _pages(conn: Connection, entity: str, page: int, *, data_as_text: bool = False) -> Iterator[Sequence[Any]]:
    """Staged records of ``entity`` that are new or changed since they were last prepared, a page
    at a time in reference order (keyset paging: the caller may write each page before the next)."""
    s, c, m = staging, crosswalk, match_records
    ref_cols = (s.c.source_system, s.c.source_object, s.c.source_id)
    data = sa.cast(s.c.data, sa.Text).label("data") if data_as_text else s.c.data
    last: tuple[str, str, str] | None = None
    while True:
        query = (sa.select(*ref_cols, data, s.c.content_hash, m.c.rid)
                 .select_from(s.join(c, _same_ref(s, c)).outerjoin(m, _same_ref(s, m)))
                 .where(not_indexed(s.c.entity) == entity, c.c.status.in_(ACTIVE), s.c.deleted.is_(False),
                        sa.or_(m.c.rid.is_(None), m.c.content_hash != s.c.content_hash))
                 .order_by(*ref_cols).limit(page))
        if last is not None:
            query = query.where(sa.tuple_(*ref_cols) > sa.tuple_(*(sa.literal(v) for v in last)))
        rows = conn.execute(query).all()
        if not rows:
            return
        last = (rows[-1].source_system, rows[-1].source_object, rows[-1].source_id)
        yield rows


def _to_prepare(conn: Connection, entity: str, rules: EntityRules, page: int) -> Iterator[Any]:
    """The records to prepare as Arrow batches of ``prepare.to_prepare_schema()`` (for Spark): the staged data
    as the store holds its text, and each record's references' golden ids, read as
    :func:`_with_references` reads them for the driver's own preparation."""
    import pyarrow as pa

    from sync.resolve.prepare import to_prepare_schema

    seq = 0
    objects = _referenced_objects(conn, rules)
    for rows in _pages(conn, entity, page, data_as_text=True):
        refs: list[str | None] = [None] * len(rows)
        if rules.references:  # only these records' data is read on the driver: the crosswalk is here
            parsed = [_Staged(r.source_system, json.loads(r.data)) for r in rows]
            refs = [json_text({name: d[name] for name in rules.references})
                    for d in _with_references(conn, rules, parsed, objects)]
        columns: dict[str, list[Any]] = {
            "seq": list(range(seq, seq + len(rows))), **{n: [getattr(r, n) for r in rows] for n in (
                "source_system", "source_object", "source_id", "content_hash", "rid", "data")}, "refs": refs}
        seq += len(rows)
        yield pa.RecordBatch.from_pydict(columns, schema=to_prepare_schema())


class _Staged(NamedTuple):
    source_system: str
    data: dict[str, Any]


def _write_prepared(conn: Connection, entity: str, run_id: str | None, rows: Sequence[Any],
                    prepared: dict[tuple[str, str, str], tuple[Any, list[str]]],
                    unlinked: set[int] | None = None) -> list[int]:
    """Store a page's prepared values and keys (new records inserted, changed ones updated and
    their old keys and pairs forgotten); the page's rids."""
    m = match_records
    changed = [r for r in rows if r.rid is not None]
    new = [r for r in rows if r.rid is None]
    _forget(conn, [r.rid for r in changed], drop_records=False, unlinked=unlinked)
    if changed:
        conn.execute(m.update().where(m.c.rid == sa.bindparam("b_rid")).values(
            content_hash=sa.bindparam("b_hash"), features=sa.bindparam("b_features"), run_id=run_id),
            [{"b_rid": r.rid, "b_hash": r.content_hash,
              "b_features": prepared[(r.source_system, r.source_object, r.source_id)][0]} for r in changed])
    rid_of = {(r.source_system, r.source_object, r.source_id): r.rid for r in changed}
    if new:
        # rows come back keyed by their reference, so their order does not matter: asking for it
        # (sort_by_parameter_order) made SQLite insert one row per statement, having no sentinel
        inserted = conn.execute(
            m.insert().returning(m.c.rid, m.c.source_system, m.c.source_object, m.c.source_id),
            [{"entity": entity, "source_system": r.source_system, "source_object": r.source_object,
              "source_id": r.source_id, "content_hash": r.content_hash, "run_id": run_id,
              "features": prepared[(r.source_system, r.source_object, r.source_id)][0]} for r in new])
        rid_of.update({(x.source_system, x.source_object, x.source_id): x.rid for x in inserted})
    # about ten keys a record: straight to the driver, not through SQLAlchemy's per-row parameters
    # sorted by key, the table's primary key order: each page's inserts land close together
    key_rows = sorted({(k[:255], rid_of[ref]) for ref, (_, keys) in prepared.items() for k in keys})
    insert_many(conn, match_keys, [{"key": key, "rid": rid} for key, rid in key_rows], {"entity": entity})
    return list(rid_of.values())


def _referenced_objects(conn: Connection, rules: EntityRules) -> dict[str, dict[str, list[str]]]:
    """Per reference, the objects each source system keeps the referenced entity's records in (a
    customer is a Salesforce Account, a finance customer...): read once per run, so that
    :func:`_with_references` can look a referenced id up by the crosswalk's whole primary key."""
    c = crosswalk
    out: dict[str, dict[str, list[str]]] = {}
    for name, ref in rules.references.items():
        objects: dict[str, list[str]] = {}
        for system, source_object in conn.execute(
                sa.select(c.c.source_system, c.c.source_object).where(c.c.entity == ref.entity).distinct()):
            objects.setdefault(system, []).append(source_object)
        out[name] = objects
    return out


def _with_references(conn: Connection, rules: EntityRules, rows: Sequence[Any],
                     objects: dict[str, dict[str, list[str]]]) -> list[dict[str, Any]]:
    """Each record's data plus its references' golden ids (a contact's employer), read from the
    crosswalk in a few look-ups per page. A referenced id that is unknown, not active, or names
    records of two golden records (the same id in two objects of one system) gives None.
    ``objects`` is :func:`_referenced_objects`."""
    if not rules.references:
        return [r.data for r in rows]
    out = [dict(r.data) for r in rows]
    c = crosswalk
    for name, ref in rules.references.items():
        wanted: dict[str, set[str]] = {}
        for r, d in zip(rows, out, strict=True):
            if d.get(ref.field) not in (None, ""):
                wanted.setdefault(r.source_system, set()).add(str(d[ref.field]))
        found: dict[tuple[str, str], set[str]] = {}
        for system, ids in wanted.items():
            # system, object and id: the crosswalk's primary key. By system and id alone (no index
            # on them) SQLite scanned every referenced record per look-up, so a run's look-ups
            # grew with the square of the data (contacts, 100k customers: 198 s to resolve)
            for source_object in objects[name].get(system, []):
                for part in chunks(sorted(ids), 500):
                    for source_id, golden_id in conn.execute(
                            sa.select(c.c.source_id, c.c.golden_id).where(
                                c.c.source_system == system, c.c.source_object == source_object,
                                c.c.source_id.in_(part), c.c.entity == ref.entity, c.c.status.in_(ACTIVE),
                                c.c.golden_id.is_not(None))):
                        found.setdefault((system, source_id), set()).add(golden_id)
        for r, d in zip(rows, out, strict=True):
            ids_found = found.get((r.source_system, str(d.get(ref.field))), set())
            d[name] = next(iter(ids_found)) if len(ids_found) == 1 else None
    return out


def _mark_moved_references(conn: Connection, entity: str, rules: EntityRules) -> None:
    """A referenced golden id moves when the other entity's clusters merge or split: records whose
    prepared reference no longer names it are marked changed, so this run prepares and scores
    them again. Checked in SQL against the prepared value of each comparison of a reference."""
    m, s, c = match_records, staging, crosswalk
    for index, comparison in enumerate(rules.comparisons):
        ref = rules.references.get(comparison.field) if isinstance(comparison.field, str) else None
        if ref is None:
            continue
        # one golden id per referenced source id, or none when it names records of two (as
        # _with_references reads it); a grouped join, not a look-up per record: SQLite has no
        # index on (source_system, source_id) without the object
        target = (sa.select(c.c.source_system, c.c.source_id, sa.case(
            (sa.func.count(sa.distinct(c.c.golden_id)) == 1, sa.func.min(c.c.golden_id))).label("golden_id"))
            .where(c.c.entity == ref.entity, c.c.status.in_(ACTIVE), c.c.golden_id.is_not(None))
            .group_by(c.c.source_system, c.c.source_id).subquery("referenced"))
        moved = (sa.select(m.c.rid)
                 .select_from(m.join(s, _same_ref(m, s)).outerjoin(target, sa.and_(
                     target.c.source_system == s.c.source_system,
                     target.c.source_id == s.c.data[ref.field].as_string())))
                 .where(m.c.entity == entity, sa.func.coalesce(m.c.features[index].as_string(), "")
                        != sa.func.coalesce(target.c.golden_id, "")))
        rids = list(conn.execute(moved).scalars())
        for part in chunks(rids):
            conn.execute(m.update().where(m.c.rid.in_(part)).values(content_hash=""))


def _forget(conn: Connection, rids: Sequence[int], *, drop_records: bool, unlinked: set[int] | None = None) -> None:
    """Drop keys and machine-scored pairs of these records (people's decisions are kept).
    ``unlinked`` gets both ends of the match links dropped: a record losing a link may change
    cluster though nothing of its own changed, so the closure of the run starts there too."""
    p = match_pairs
    for part in chunks(list(rids)):
        if unlinked is not None:  # by each rid index on its own (see _links_of)
            for column in (p.c.left_rid, p.c.right_rid):
                unlinked.update(x for r in conn.execute(sa.select(p.c.left_rid, p.c.right_rid, p.c.decision)
                                                        .where(column.in_(part)))
                                if r.decision == "match" for x in (r.left_rid, r.right_rid))
        conn.execute(match_keys.delete().where(match_keys.c.rid.in_(part)))
        conn.execute(match_pairs.delete().where(
            sa.or_(match_pairs.c.left_rid.in_(part), match_pairs.c.right_rid.in_(part))))
        if drop_records:
            conn.execute(match_records.delete().where(match_records.c.rid.in_(part)))


# -- 2. score --------------------------------------------------------------------------------
def _big_keys(conn: Connection, entity: str, rules: EntityRules) -> set[str]:
    """Keys shared by more records than their rule's cap (a common word, a placeholder phone, a
    birth date in a big population) say nothing: every rule's keys are capped, none is exempt."""
    k = match_keys
    smallest = min([rules.max_block_size] + [b.max_block_size for b in rules.blocking if b.max_block_size])
    return {key for key, n in conn.execute(
        sa.select(k.c.key, sa.func.count()).where(k.c.entity == entity).group_by(k.c.key)
        .having(sa.func.count() > smallest)) if n > rules.block_limit(key.split(":", 1)[0])}


def _score_set_based(engine: str, conn: Connection, entity: str, rules: EntityRules, dirty: list[int],
                     run_id: str | None, result: ResolveResult) -> None:
    """The same candidates and scores as ``_score``, found and scored by set-based SQL on DuckDB or Spark."""
    from sync.resolve import duck

    if not dirty:
        return
    total = conn.execute(sa.select(sa.func.count()).select_from(match_records)
                         .where(match_records.c.entity == entity)).scalar_one()
    # most records changed (a first run, new rules): read the whole entity once, not by look-ups
    whole = len(dirty) * 2 >= total
    big = set() if whole else _big_keys(conn, entity, rules)

    def write(rows: list[dict[str, Any]]) -> None:
        # a page of kept pairs straight to the driver, the details as JSON text by orjson
        insert_many(conn, match_pairs, rows, {"entity": entity, "run_id": run_id})
    if engine == "spark":
        from sync.resolve import spark

        scored = spark.score(conn, entity, rules, dirty, big, whole, write)
    else:
        scored = duck.score(conn, entity, rules, dirty, big, whole, write)
    result.pairs_scored += scored.pairs
    result.matches += scored.matches
    result.reviews += scored.reviews


def _score(conn: Connection, entity: str, rules: EntityRules, scorer: Scorer, dirty: list[int],
           run_id: str | None, result: ResolveResult) -> None:
    if not dirty:
        return
    k = match_keys
    big = _big_keys(conn, entity, rules)
    dirty_set = set(dirty)
    cache: dict[int, Any] = {}
    for part in chunks(sorted(dirty)):
        # two indexed look-ups instead of a self-join, whose plan SQLite gets wrong without stats
        keys_of: dict[str, list[int]] = {}
        for rid, key in conn.execute(sa.select(k.c.rid, k.c.key).where(k.c.rid.in_(part))):
            if key not in big:
                keys_of.setdefault(key, []).append(rid)
        found: set[tuple[int, int]] = set()
        for keys in chunks(sorted(keys_of)):
            for key, other in conn.execute(sa.select(k.c.key, k.c.rid).where(k.c.entity == entity,
                                                                            k.c.key.in_(keys))):
                for rid in keys_of[key]:
                    # a pair of two changed records is met from both sides: score it once
                    if rid != other and (other not in dirty_set or rid < other):
                        found.add((min(rid, other), max(rid, other)))
        if rules.link_only:
            found = _across_sources(conn, found)
        pairs = sorted(found)
        if not pairs:
            continue
        if len(cache) > CACHED_FEATURES:
            cache.clear()
        need = sorted({r for p in pairs for r in p} - cache.keys())
        for ids in chunks(need):
            cache.update(conn.execute(sa.select(match_records.c.rid, match_records.c.features)
                                      .where(match_records.c.rid.in_(ids))).tuples().all())
        keep = []
        for left, right in pairs:
            score = scorer.score(cache[left], cache[right])
            if score.decision == "no_match":
                continue
            keep.append({"entity": entity, "left_rid": left, "right_rid": right, "weight": score.weight,
                         "decision": score.decision, "rule": score.rule, "details": score.details(),
                         "run_id": run_id})
        result.pairs_scored += len(pairs)
        result.matches += sum(1 for x in keep if x["decision"] == "match")
        result.reviews += sum(1 for x in keep if x["decision"] == "review")
        if keep:
            conn.execute(match_pairs.insert(), keep)


def _sources(conn: Connection, rids: Iterable[int]) -> dict[int, tuple[str, str]]:
    m = match_records
    out: dict[int, tuple[str, str]] = {}
    for part in chunks(sorted(set(rids))):
        out.update((r.rid, (r.source_system, r.source_object)) for r in conn.execute(
            sa.select(m.c.rid, m.c.source_system, m.c.source_object).where(m.c.rid.in_(part))))
    return out


def _across_sources(conn: Connection, pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """``link_only``: the pairs whose records come from two sources (stream of a system)."""
    source = _sources(conn, (x for p in pairs for x in p))
    return {(a, b) for a, b in pairs if source[a] != source[b]}


# -- 3. cluster ------------------------------------------------------------------------------
def _constraints(conn: Connection, entity: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    rows = conn.execute(sa.select(match_constraints).where(match_constraints.c.entity == entity)).all()
    refs = sorted({r.left_ref for r in rows} | {r.right_ref for r in rows})
    rid_of: dict[str, int] = {}
    m = match_records
    for part in chunks([parse_ref(r) for r in refs], 150):
        found = conn.execute(sa.select(m.c.rid, m.c.source_system, m.c.source_object, m.c.source_id).where(
            sa.tuple_(m.c.source_system, m.c.source_object, m.c.source_id).in_(part)))
        rid_of.update({ref_text(x.source_system, x.source_object, x.source_id): x.rid for x in found})
    must: list[tuple[int, int]] = []
    never: list[tuple[int, int]] = []
    for r in rows:
        if r.left_ref in rid_of and r.right_ref in rid_of:
            (must if r.kind == "must_link" else never).append((rid_of[r.left_ref], rid_of[r.right_ref]))
    return must, never


def _honour_vetoes(conn: Connection, entity: str, scorer: Scorer, clusters: dict[int, list[int]],
                   degree: dict[int, int], must: list[tuple[int, int]], never: list[tuple[int, int]],
                   previous: dict[int, str | None], dirty: set[int]) -> None:
    """A rule's no_match (two different valid tax ids) holds for whole clusters, not just pairs.

    Links chain: a subsidiary sharing the group's domain with the parent and a switchboard
    with a sister company joins three legal entities. Only a cluster that is not a clique of
    links can hide such a pair, so only those (small) clusters are checked: every pair of
    members is scored, and where a rule says no_match the members are clustered again with
    those pairs forbidden, links strongest first — the same order as the first pass. A cluster
    of unchanged records that were one golden record before was checked then: skipped, so an
    unchanged re-run scores nothing.
    """
    def suspect(members: list[int]) -> bool:
        if len(members) < 3 or sum(degree.get(x, 0) for x in members) == len(members) * (len(members) - 1):
            return False
        return any(x in dirty for x in members) or len({previous[x] for x in members}) > 1

    suspects = [root for root, members in clusters.items() if suspect(members)]
    for batch in chunks(suspects, 200):
        rids = sorted({x for root in batch for x in clusters[root]})
        features: dict[int, Any] = {}
        for part in chunks(rids):
            features.update(conn.execute(sa.select(match_records.c.rid, match_records.c.features)
                                         .where(match_records.c.rid.in_(part))).tuples().all())
        # link-only rules never compare two records of one source, not even for a veto
        source = _sources(conn, rids) if scorer.rules.link_only else {}
        for root in batch:
            members = sorted(clusters[root])
            vetoes = [(a, b) for i, a in enumerate(members) for b in members[i + 1:]
                      if source.get(a, a) != source.get(b, b) and _vetoed(scorer.score(features[a], features[b]))]
            if not vetoes:
                continue
            inside = set(members)
            uf = UnionFind()
            for x, y in never:
                if x in inside and y in inside:
                    uf.forbid(x, y)
            for x, y in must:
                if x in inside and y in inside:
                    uf.union(x, y)
            for x, y in vetoes:
                uf.forbid(x, y)
            p = match_pairs
            found: list[tuple[float, int, int]] = []
            for part in chunks(members):
                found += [(-r.weight, r.left_rid, r.right_rid) for r in conn.execute(
                    sa.select(p.c.weight, p.c.left_rid, p.c.right_rid).where(
                        p.c.entity == entity, p.c.decision == "match", p.c.left_rid.in_(part)))
                    if r.right_rid in inside]
            for _, x, y in sorted(found):
                uf.union(x, y)
            del clusters[root]
            for sub_root, sub in group(members, uf.find).items():
                clusters[sub_root] = sub


@dataclass
class _Local:
    """The records a run's changes can reach, with their old golden ids and their match links."""
    previous: dict[int, str | None]
    links: dict[tuple[int, int], float]  # (left, right) -> weight

    def golden_outside(self, conn: Connection, entity: str, previous: dict[int, str | None],
                       touched: set[str]) -> int:
        """Golden records outside the closure: each is one cluster, as the last run left it."""
        g = golden
        active = (g.c.entity == entity, g.c.merged_into.is_(None))
        total = conn.execute(sa.select(sa.func.count()).select_from(g).where(*active)).scalar_one()
        inside = sorted({x for x in previous.values() if x is not None} | touched)
        for part in chunks(inside):  # by id alone (see _Goldens._read)
            total -= sum(1 for x in conn.execute(sa.select(g.c.entity, g.c.merged_into).where(g.c.golden_id.in_(part)))
                         if x.entity == entity and x.merged_into is None)
        return int(total)


def _links_of(conn: Connection, rids: Sequence[int]) -> Iterator[Any]:
    """Match links touching these records: by the left and the right rid index in turn. Neither
    entity nor decision is in the query: with them SQLite may pick the (entity, decision) index
    and read every link of the entity (rids are unique across entities anyway)."""
    p = match_pairs
    for column in (p.c.left_rid, p.c.right_rid):
        for r in conn.execute(sa.select(p.c.left_rid, p.c.right_rid, p.c.weight, p.c.decision).where(column.in_(rids))):
            if r.decision == "match":
                yield r


def _closure(conn: Connection, entity: str, seeds: set[int], touched: set[str], must: list[tuple[int, int]],
             *, limit: int) -> _Local | None:
    """The records a run's changes can reach, or None past ``limit`` records.

    From the seeds, add until nothing new: records linked by a match, records that shared a golden
    id, records tied by a must-link. No match link, must-link or old golden id then crosses the
    closure's border, so clustering inside it (links strongest first, must-not-links, vetoes)
    gives exactly the clusters a run over every record gives, and outside it every cluster is
    the golden record the last run left: nothing there changed (a must-not-link across the border
    joins nothing, and its records are seeds anyway). Old golden ids are indexed in the
    crosswalk, links by each rid: a few look-ups per record reached.
    """
    m, c = match_records, crosswalk
    tied: dict[int, list[int]] = {}
    for x, y in must:
        tied.setdefault(x, []).append(y)
        tied.setdefault(y, []).append(x)
    local = _Local({}, {})
    seen: set[int] = set()
    ids_seen: set[str] = set()
    frontier, new_ids = set(seeds), set(touched)
    while frontier or new_ids:
        for ids in chunks(sorted(new_ids - ids_seen)):
            frontier.update(r for r in conn.execute(
                sa.select(m.c.rid).select_from(c.join(m, _same_ref(m, c)))
                .where(c.c.golden_id.in_(ids), m.c.entity == entity)).scalars() if r not in seen)
        ids_seen |= new_ids
        new_ids = set()
        batch = sorted(frontier - seen)
        frontier = set()
        seen.update(batch)
        if len(seen) > limit:
            return None
        for part in chunks(batch):
            for rid, gid in conn.execute(sa.select(m.c.rid, c.c.golden_id).select_from(m.join(c, _same_ref(m, c)))
                                         .where(m.c.rid.in_(part), m.c.entity == entity)):
                local.previous[rid] = gid
                if gid is not None and gid not in ids_seen:
                    new_ids.add(gid)
            for link in _links_of(conn, part):
                local.links[(link.left_rid, link.right_rid)] = link.weight
                frontier.update(x for x in (link.left_rid, link.right_rid) if x not in seen)
        frontier.update(y for x in batch for y in tied.get(x, ()) if y not in seen)
    return local


def _may_stay_local(store: Store, conn: Connection, entity: str, rules: EntityRules, run_id: str | None) -> bool:
    """Whether the closure may stand for the whole entity: not when records were erased since this
    entity's last run (erasure drops records and their links outside any run, so the clusters
    it changed start from nothing this run sees). The erase mark is kept for the next run."""
    name = f"resolve:{entity}"
    state = conn.execute(sa.select(bookmarks.c.state).where(bookmarks.c.name == name)).scalar() or {}
    erased = staged_mark(conn)[1]
    if state.get("erased") == erased:
        return True
    store.set_bookmark(conn, name, {**state, "rules": rules_fingerprint(rules), "erased": erased}, run_id)
    return False


def _vetoed(score: PairScore) -> bool:
    return score.decision == "no_match" and score.rule != "score"


def _recluster(store: Store, conn: Connection, entity: str, rules: EntityRules, scorer: Scorer, dirty: set[int],
               touched: set[str], run_id: str | None, result: ResolveResult, *, unlinked: Iterable[int] = (),
               local_share: float = 0.0) -> None:
    m, c = match_records, crosswalk
    must, never = _constraints(conn, entity)
    local: _Local | None = None
    if local_share > 0:
        total = conn.execute(sa.select(sa.func.count()).select_from(m).where(m.c.entity == entity)).scalar_one()
        # people's decisions are few and may be new since the last run (they move no record): their
        # records always start the closure, as do records that lost a link and those of ids that lost one
        seeds = dirty | set(unlinked) | {x for pair in (*must, *never) for x in pair}
        if len(seeds) <= local_share * total:
            local = _closure(conn, entity, seeds, touched, must, limit=int(max(CLOSURE_SHARE, local_share) * total))
    previous: dict[int, str | None] = {}
    if local is None:  # a first run, new rules, a large change: one read of the whole entity
        for rid, gid in conn.execute(sa.select(m.c.rid, c.c.golden_id).select_from(m.join(c, _same_ref(m, c)))
                                     .where(m.c.entity == entity)):
            previous[rid] = gid
        result.records = len(previous)
        links: Iterable[Any] = conn.execute(
            sa.select(match_pairs.c.left_rid, match_pairs.c.right_rid)
            .where(match_pairs.c.entity == entity, match_pairs.c.decision == "match")
            .order_by(match_pairs.c.weight.desc(), match_pairs.c.left_rid, match_pairs.c.right_rid))
    else:
        previous = local.previous
        result.records = total
        links = [(x, y) for _, x, y in sorted((-w, x, y) for (x, y), w in local.links.items())]
    members_of: dict[str, int] = {}
    for gid in previous.values():
        if gid is not None:
            members_of[gid] = members_of.get(gid, 0) + 1

    uf = UnionFind()
    for x, y in never:
        uf.forbid(x, y)
    for x, y in must:
        uf.union(x, y)
    degree: dict[int, int] = {}
    for x, y in links:
        if uf.union(x, y):
            degree[x] = degree.get(x, 0) + 1
            degree[y] = degree.get(y, 0) + 1
    clusters = group(previous, uf.find)
    _honour_vetoes(conn, entity, scorer, clusters, degree, must, never, previous, dirty)
    del uf, degree, links  # a record's worth of bookkeeping each: freed before the refs are read
    # outside a closure every golden record is one cluster, as the last run left it
    result.golden = len(clusters) + (0 if local is None else local.golden_outside(conn, entity, previous, touched))

    affected: list[list[int]] = []
    for members in clusters.values():
        first = previous[members[0]]
        same = (first is not None and first not in touched and members_of.get(first) == len(members)
                and all(previous[x] == first for x in members) and not any(x in dirty for x in members))
        if not same:
            affected.append(members)
    if not affected and not touched:
        return

    ref_of: dict[int, str] = {}
    wanted = [x for members in affected for x in members]
    for part in chunks(wanted):
        ref_of.update((x.rid, ref_text(x.source_system, x.source_object, x.source_id)) for x in conn.execute(
            sa.select(m.c.rid, m.c.source_system, m.c.source_object, m.c.source_id).where(m.c.rid.in_(part))))
    ref_lists = [sorted(ref_of[x] for x in members) for members in affected]
    prev_by_ref = {ref_of[x]: previous[x] for x in wanted if previous[x] is not None}  # new records: none

    # the ids assign_ids may ask about: the members' old ids, the ids that lost members, and each
    # member's own derived id (what a new or split-off cluster is named after)
    existing = _Goldens(conn, entity, None if local is None else (
        {g for g in prev_by_ref.values() if g} | touched | {derived_id(rules.id_prefix, r) for r in ref_of.values()}))
    assignment = assign_ids(
        ref_lists, prev_by_ref, age=lambda g: str(existing[g][0]) if g in existing else "~",
        prefix=rules.id_prefix, in_use=lambda g: g in existing and existing[g][1] is None, touched=touched)

    stamp = now()
    audits: list[AuditEntry] = []
    obj = f"golden_{entity}"
    order = sorted(range(len(affected)), key=lambda i: ref_lists[i][0])
    for batch in chunks(order, 1000):
        rids = [x for i in batch for x in affected[i]]
        data_of: dict[str, Any] = {}
        for part in chunks(rids):
            found = conn.execute(sa.select(m.c.rid, staging.c.data).select_from(
                m.join(staging, _same_ref(m, staging))).where(m.c.rid.in_(part)))
            data_of.update((ref_of[x.rid], x.data) for x in found)
        inserts, updates, xwalk = [], [], []
        for i in batch:
            gid, refs = assignment.ids[i], ref_lists[i]
            golden_members = [Member(ref, parse_ref(ref)[0], data_of[ref]) for ref in refs]
            fields, lineage = survive(golden_members, rules.survivorship)
            sources = [dict(zip(("system", "object", "id"), parse_ref(ref), strict=True)) for ref in refs]
            data = to_json({**fields, "sources": sources, "lineage": lineage})
            if gid in existing:
                updates.append({"b_gid": gid, "b_data": data})
            else:
                inserts.append({"golden_id": gid, "data": data})
            for n, ref in enumerate(refs):
                system, source_object, source_id = parse_ref(ref)
                xwalk.append((system, source_object, source_id, gid,
                              xw.Status.LOADED if n == 0 else xw.Status.MERGED))
        # a first run writes a golden record per cluster: straight to the driver, JSON by orjson
        insert_many(conn, golden, inserts, {"entity": entity, "merged_into": None, "run_id": run_id,
                                            "created_at": stamp, "updated_at": stamp})
        if updates:
            conn.execute(golden.update().where(golden.c.golden_id == sa.bindparam("b_gid")).values(
                data=sa.bindparam("b_data"), merged_into=None, run_id=run_id, updated_at=stamp), updates)
        xw.link(conn, xwalk, run_id=run_id, at=stamp)
    result.clusters_written = len(affected)

    for old, keep in sorted(assignment.merged.items()):
        conn.execute(golden.update().where(golden.c.golden_id == old).values(
            merged_into=keep, run_id=run_id, updated_at=stamp))
        audits.append(AuditEntry("merge", "crm2", obj, old, "merged_into", None, keep))
    for old in sorted(assignment.retired - set(assignment.ids)):
        if old in existing:
            conn.execute(golden.delete().where(golden.c.golden_id == old))
            audits.append(AuditEntry("retire", "crm2", obj, old, None, {"golden_id": old}, None))
    result.merges = len(assignment.merged)
    result.retired = len(assignment.retired - set(assignment.ids))
    store.audit(conn, audits, run_id)


class _Goldens:
    """An entity's golden records by id, as (created_at, merged_into): every one read at once on
    the full path (``ids`` None); on a closure the ids named up front, any other when asked."""

    def __init__(self, conn: Connection, entity: str, ids: Iterable[str] | None) -> None:
        self._conn, self._entity = conn, entity
        self._rows: dict[str, tuple[Any, str | None]] = {}
        self._asked: set[str] | None = None
        if ids is None:
            self._read(None)
        else:
            self._asked = set(ids)
            for part in chunks(sorted(self._asked)):
                self._read(part)

    def _read(self, ids: Sequence[str] | None) -> None:
        g = golden
        query = sa.select(g.c.golden_id, g.c.entity, g.c.created_at, g.c.merged_into)
        # by id alone, the entity checked here: with both, SQLite may walk the entity index,
        # every golden record of the entity per look-up
        query = query.where(g.c.entity == self._entity) if ids is None else query.where(g.c.golden_id.in_(ids))
        self._rows.update((x.golden_id, (x.created_at, x.merged_into)) for x in self._conn.execute(query)
                          if x.entity == self._entity)

    def __contains__(self, gid: object) -> bool:
        if self._asked is not None and isinstance(gid, str) and gid not in self._asked:
            self._asked.add(gid)  # a fallback id (a hash of all members): rare, one look-up
            self._read([gid])
        return gid in self._rows

    def __getitem__(self, gid: str) -> tuple[Any, str | None]:
        return self._rows[gid]


STAGE_MARK = "resolve"
"""Bookmark of the whole resolve stage: what it resolved and the store's marks after it."""


def resolve_all(store: Store, config: MatchConfig, run_id: str | None = None,
                entities: Iterable[str] | None = None, *, engine: str | None = None) -> list[ResolveResult]:
    """Resolve every entity the match rules cover (or the ones named).

    When no record, link or decision changed since the last complete run with the same rules
    (:mod:`sync.store.marks`), nothing is read: the golden records are already up to date. The
    marks are kept for the whole stage, not per entity, because resolving one entity writes the
    crosswalk another reads (a contact's employer).
    """
    names = list(entities or config.entities)
    digest = _stage_digest(config, names)
    with store.engine.connect() as conn:
        # taken before anything is read: a steward's decision or an erasure made while this run
        # reads moves these, and the next run sees it
        before = [*source_mark(conn), *decisions_mark(conn)]
    saved = store.get_bookmark(STAGE_MARK) or {}
    if saved.get("rules") == digest and saved.get("mark") == before:
        return [ResolveResult(entity, records=saved["sizes"][entity][0], golden=saved["sizes"][entity][1])
                for entity in names]
    results = []
    for entity in names:
        results.append(resolve(store, config, entity, run_id, engine=engine))
        mid_stage("resolve")  # one entity resolved and committed (crash tests kill here)
    with store.begin() as conn:
        # staging and crosswalk after this run's own writes: under the run lock nobody else
        # stages or links meanwhile (erasure, which may, moves its own entry, taken before)
        staged, linked, *_ = source_mark(conn)
        store.set_bookmark(conn, STAGE_MARK, {
            "rules": digest, "mark": [staged, linked, *before[2:]],
            "sizes": {r.entity: [r.records, r.golden] for r in results}}, run_id)
    return results


def _stage_digest(config: MatchConfig, entities: Sequence[str]) -> str:
    """Everything of the rules a resolve reads (survivorship included), for the named entities."""
    rules = {entity: config.rules_for(entity).model_dump(mode="json") for entity in entities}
    text = json.dumps({"form": PREPARED_FORM, "rules": rules}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
