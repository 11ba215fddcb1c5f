"""Blocking and pair scoring as set-based SQL on DuckDB, in-process (``resolve.engine: duckdb``).

The Python engine (``sync.resolve.engine._score``) finds candidates with two indexed look-ups
per page of changed records and calls ``Scorer.score`` once per pair. Here the same work is
one plan over three tables handed to DuckDB as Arrow:

- ``keys(rid, key)`` — the blocking keys of the changed records and of every record sharing one
  of them (the whole entity on a first run), read from ``match_keys``;
- ``dirty(rid)`` — the records this run prepared;
- ``rec`` — each candidate's prepared values (``match_records.features``, JSON), unpacked by
  DuckDB's JSON functions into one typed column per part (a phone's digits and its
  "international" flag, an e-mail's local part and domain ...).

Candidates are a self-join of ``keys`` over keys within their rule's ``max_block_size``; every
comparator is a SQL expression over the prepared columns — DuckDB's own ``jaro_winkler_similarity``
and ``levenshtein``, equality, suffix and prefix tests, ``CASE`` — bucketed into the rules'
levels, weights summed, rules and thresholds applied as ``CASE``. Three similarities DuckDB does
not have (rapidfuzz's token-set, token-sort and Indel ratios, which the company and person name
comparators are defined by) are vectorised functions: DuckDB hands them 2,048 pairs at a time as
Arrow arrays and rapidfuzz's ``cpdist`` scores them in C++ — no Python call per pair.

Preparation (normalisation, pinyin, tax ids, phones) stays per record in Python, in pages, as
``_refresh`` does it: its values are the ones stored and compared. The result is exactly the
Python engine's pairs, weights, levels, rules and decisions (tests/sync/test_resolve_duckdb.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy import Connection

from sync.resolve.comparators import SUBSCRIBER_DIGITS, TRANSLITERATED
from sync.resolve.spec import INCOMPARABLE, Comparison, EntityRules
from sync.store.schema import match_keys, match_records

PARAMS = 500  # bound parameters per IN list, as the Python engine uses
NAME_TOKENS_DIFFER = 0.98
"""The Python comparator scales the token-set ratio of two different Latin company names by 0.98
when their word lists differ; prepared canonical names are single-spaced, so two different ones
always have different word lists and the factor is a constant here."""


def _d(value: float) -> str:
    """A DOUBLE literal: DuckDB reads ``0.92`` as a DECIMAL; repr round-trips the exact float."""
    return f"CAST({float(value)!r} AS DOUBLE)"


ONE, ZERO = _d(1.0), _d(0.0)


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- SQL dialects -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dialect:
    """The few functions DuckDB and Spark SQL spell differently; everything else is shared SQL."""

    name: str
    json_string: str  # {f} features text, {p} JSON path: the part as text, NULL for JSON null
    null_part: str  # true when the prepared value at {p} (item {i}) is empty (JSON null)
    jaro_winkler: str  # {x}, {y}
    ends_with: str  # {x} ends with {y}
    starts_with: str
    all_digits: str  # {x} is digits only
    split_part: str  # {x} before the first ':'


DUCKDB = Dialect(
    "duckdb", "json_extract_string({f}, '{p}')", "coalesce(json_type({f}, '{p}'), 'NULL') = 'NULL'",
    "jaro_winkler_similarity({x}, {y})", "suffix({x}, {y})", "starts_with({x}, {y})",
    "regexp_full_match({x}, '[0-9]+')", "split_part({x}, ':', 1)")
SPARK = Dialect(
    # Spark has no Jaro-Winkler: the same rapidfuzz scorer as a vectorised (Arrow) pandas UDF
    # get_json_object gives JSON null as the text 'null'; parsed as an array of strings it is NULL
    "spark", "get_json_object({f}, '{p}')", "get(from_json({f}, 'array<string>'), {i}) IS NULL",
    "crm2_jaro_winkler({x}, {y})", "endswith({x}, {y})", "startswith({x}, {y})",
    "({x} RLIKE '^[0-9]+$')", "split_part({x}, ':', 1)")

Side = Callable[[str], str]


# -- prepared columns ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """How a comparator's prepared value becomes columns, and its similarity as SQL."""

    parts: tuple[tuple[str, str], ...]  # (suffix, SQL over the part: {s0} text of item 0, {b1} item 1 as boolean)
    similarity: Callable[[Side, Side, Dialect], str]
    """Given column accessors for the left and right record, the 0..1 similarity (NULL: incomparable)."""


SCALAR = (("", "{s}"),)


def _eq(a: Side, b: Side, d: Dialect) -> str:
    return f"CASE WHEN {a('')} = {b('')} THEN {ONE} ELSE {ZERO} END"


def _lev(x: str, y: str) -> str:
    # rapidfuzz's normalised Levenshtein similarity: 1 - distance / longer length (characters)
    return f"({ONE} - levenshtein({x}, {y}) / greatest(length({x}), length({y})))"


def _date(a: Side, b: Side, d: Dialect) -> str:
    x, y = a(""), b("")
    swapped = (f"length({x}) = 8 AND length({y}) = 8 AND substr({x}, 1, 4) = substr({y}, 1, 4) "
               f"AND substr({x}, 5, 2) = substr({y}, 7, 2) AND substr({x}, 7, 2) = substr({y}, 5, 2)")
    return f"CASE WHEN {x} = {y} THEN {ONE} WHEN {swapped} THEN {_d(0.9)} ELSE {_lev(x, y)} END"


def _name_part(a: Side, b: Side, d: Dialect) -> str:
    # sync.resolve.comparators._name_part_similarity: direct, or the weaker crosswise similarity
    ta, oa, tb, ob = a("_t"), a("_o"), b("_t"), b("_o")
    direct = d.jaro_winkler.format(x=ta, y=tb)
    crosswise = f"least({d.jaro_winkler.format(x=ta, y=ob)}, {d.jaro_winkler.format(x=oa, y=tb)})"
    return f"CASE WHEN {oa} = '' OR {ob} = '' THEN {direct} ELSE greatest({direct}, {crosswise}) END"


def _company(a: Side, b: Side, d: Dialect) -> str:
    ca, la, ja, cb, lb, jb = a("_c"), a("_l"), a("_j"), b("_c"), b("_l"), b("_j")
    jw = d.jaro_winkler.format(x=la, y=lb)
    across = f"greatest({jw}, crm2_ratio({la}, {lb}) / 100)"
    return (f"CASE WHEN {ca} = {cb} THEN {ONE} "
            f"WHEN {ja} AND {jb} THEN crm2_indel({ca}, {cb}) "
            f"WHEN {ja} <> {jb} THEN CASE WHEN {across} >= {_d(TRANSLITERATED)} THEN {across} ELSE NULL END "
            f"ELSE greatest(crm2_token_set({ca}, {cb}) / 100 * {_d(NAME_TOKENS_DIFFER)}, {jw}) END")


def _person(a: Side, b: Side, d: Dialect) -> str:
    x, y = a(""), b("")
    return (f"CASE WHEN {x} = {y} THEN {ONE} ELSE greatest(crm2_token_sort({x}, {y}) / 100, "
            f"crm2_ratio(replace({x}, ' ', ''), replace({y}, ' ', '')) / 100) END")


def _phone(a: Side, b: Side, d: Dialect) -> str:
    da, ia, db, ib = a("_d"), a("_i"), b("_d"), b("_i")

    def tail(short: str, long: str) -> str:
        close = f"CASE WHEN length({short}) >= {SUBSCRIBER_DIGITS + 2} THEN {_d(0.95)} ELSE {_d(0.9)} END"
        within = f"length({short}) >= {SUBSCRIBER_DIGITS} AND {d.ends_with.format(x=long, y=short)}"
        return f"CASE WHEN {within} THEN {close} ELSE {ZERO} END"
    return (f"CASE WHEN {da} = {db} THEN {ONE} WHEN {ia} AND {ib} THEN {ZERO} "
            f"WHEN length({da}) <= length({db}) THEN {tail(da, db)} ELSE {tail(db, da)} END")


def _email(a: Side, b: Side, d: Dialect) -> str:
    return (f"CASE WHEN {a('_e')} = {b('_e')} THEN {ONE} "
            f"WHEN {a('_h')} = {b('_h')} AND NOT {a('_f')} THEN {_d(0.3)} "
            f"WHEN {a('_u')} = {b('_u')} AND ({a('_f')} OR {b('_f')}) AND NOT ({a('_r')} OR {b('_r')}) THEN {_d(0.7)} "
            f"ELSE {ZERO} END")


def _tax(a: Side, b: Side, d: Dialect) -> str:
    # sync.resolve.tax_ids.similarity, clause by clause
    ca, ka, na, va, ra, ga = (a(x) for x in ("_c", "_k", "_n", "_v", "_r", "_g"))
    cb, kb, nb, vb, rb, gb = (b(x) for x in ("_c", "_k", "_n", "_v", "_r", "_g"))
    return (f"CASE WHEN {ca} = {cb} OR {na} = {nb} THEN CASE WHEN {va} OR {vb} THEN {ONE} ELSE {_d(0.9)} END "
            f"WHEN {ka} <> {kb} AND (({va} AND {vb}) OR ({ra} AND {rb})) THEN NULL "
            f"WHEN {va} AND {vb} THEN {ZERO} "
            f"WHEN levenshtein({na}, {nb}) <= 1 THEN {_d(0.5)} "
            f"WHEN {ka} = {kb} OR (length({na}) = length({nb}) AND {ga} = {gb}) THEN {_d(0.1)} "
            f"ELSE NULL END")


SHAPES: dict[str, Shape] = {
    "exact": Shape(SCALAR, _eq),
    "normalized_exact": Shape(SCALAR, _eq),
    "domain": Shape(SCALAR, _eq),
    "jaro_winkler": Shape(SCALAR, lambda a, b, d: d.jaro_winkler.format(x=a(""), y=b(""))),
    "levenshtein": Shape(SCALAR, lambda a, b, d: _lev(a(""), b(""))),
    "token_set": Shape(SCALAR, lambda a, b, d: f"crm2_token_set({a('')}, {b('')}) / 100"),
    "address": Shape(SCALAR, lambda a, b, d: f"crm2_token_set({a('')}, {b('')}) / 100"),
    "date": Shape(SCALAR, _date),
    "person_name": Shape(SCALAR, _person),
    "name_part": Shape((("_t", "{s0}"), ("_o", "{s1}")), _name_part),
    "company_name": Shape((("_c", "{s0}"), ("_l", "{s1}"), ("_j", "{b2}")), _company),
    "phone": Shape((("_d", "{s0}"), ("_i", "{b1}")), _phone),
    "email": Shape((("_e", "{s0}"), ("_u", "regexp_extract({s0}, '^(.*)@', 1)"),
                    ("_h", "regexp_extract({s0}, '([^@]*)$', 1)"), ("_r", "{b1}"), ("_f", "{b2}")), _email),
    "tax_id": Shape((("_c", "{s0}"), ("_k", "{s1}"), ("_n", "{s2}"), ("_v", "{b3}"),
                     ("_r", "NOT ({kind_digits} OR {kind_alnum})"), ("_g", "{s2_digits}")), _tax),
}
"""Every comparator of sync.resolve.comparators, as columns and SQL (a new comparator needs one here)."""


def _columns(i: int, comp: Comparison, d: Dialect) -> list[str]:
    shape = SHAPES[comp.comparator]
    path = f"$[{i}]"

    def text(p: str) -> str:
        return d.json_string.format(f="features", p=p)
    fill = {"s": text(path), **{f"s{k}": text(f"{path}[{k}]") for k in range(6)},
            **{f"b{k}": f"({text(f'{path}[{k}]')} = 'true')" for k in range(6)},
            "kind_digits": d.starts_with.format(x=text(f"{path}[1]"), y="'digits-'"),
            "kind_alnum": d.starts_with.format(x=text(f"{path}[1]"), y="'alnum-'"),
            "s2_digits": d.all_digits.format(x=text(f"{path}[2]"))}
    out = [f"{d.null_part.format(f='features', p=path, i=i)} AS n{i}"]
    out += [f"{sql.format(**fill)} AS v{i}{suffix}" for suffix, sql in shape.parts]
    return out


def prepared_sql(rules: EntityRules, d: Dialect = DUCKDB) -> str:
    """``rec``: one row per record, its prepared values unpacked into typed columns."""
    cols = [c for i, comp in enumerate(rules.comparisons) for c in _columns(i, comp, d)]
    return f"SELECT rid, {', '.join(cols)} FROM features_json"


def candidates_sql(rules: EntityRules, d: Dialect = DUCKDB) -> str:
    """Pairs of a changed record and any record sharing a key within its rule's block cap."""
    limits = " ".join(f"WHEN {_q(b.name)} THEN {rules.block_limit(b.name)}" for b in rules.blocking)
    return f"""
WITH usable AS (
  SELECT key FROM keys GROUP BY key
  HAVING count(*) <= CASE {d.split_part.format(x="key")} {limits} ELSE {rules.max_block_size} END
)
SELECT DISTINCT least(a.rid, b.rid) AS l, greatest(a.rid, b.rid) AS r
FROM keys a JOIN dirty d ON d.rid = a.rid JOIN usable u ON u.key = a.key JOIN keys b ON b.key = a.key
WHERE a.rid <> b.rid""".strip()


LINK_ONLY_SQL = """
SELECT c.l, c.r FROM cand_any c JOIN sources a ON a.rid = c.l JOIN sources b ON b.rid = c.r
WHERE a.src <> b.src""".strip()
"""``link_only: true``: of the candidates (``cand_any``), the pairs of records from two sources (a
source is one stream of one system: ``sources(rid, src)``); a pair within one file is never scored."""


def scoring_sql(rules: EntityRules, d: Dialect = DUCKDB) -> str:
    """Every candidate pair's levels, level weights, total weight, rule and decision."""
    sims, levels, weights = [], [], []
    for i, comp in enumerate(rules.comparisons):
        shape = SHAPES[comp.comparator]

        def side(alias: str, i: int = i) -> Callable[[str], str]:
            return lambda suffix: f"{alias}.v{i}{suffix}"
        similarity = shape.similarity(side("L"), side("R"), d)
        sims.append(f"L.n{i} OR R.n{i} AS e{i}, CASE WHEN L.n{i} OR R.n{i} THEN NULL ELSE {similarity} END AS s{i}")
        lv = [f"WHEN e{i} THEN 'null'", f"WHEN s{i} IS NULL THEN {_q(INCOMPARABLE)}"]
        wt = [f"WHEN e{i} THEN {_d(comp.null_weight)}", f"WHEN s{i} IS NULL THEN {_d(comp.incomparable_weight)}"]
        for level in comp.levels:
            cond = "ELSE" if level.at_least is None else f"WHEN s{i} >= {_d(level.at_least)} THEN"
            lv.append(f"{cond} {_q(level.label)}")
            wt.append(f"{cond} {_d(level.match_weight)}")
        if comp.levels[-1].at_least is not None:
            lv.append("ELSE 'else'")
            wt.append(f"ELSE {ZERO}")
        levels.append(f"CASE {' '.join(lv)} END AS lv{i}")
        weights.append(f"CASE {' '.join(wt)} END AS w{i}")
    index = {c.name: i for i, c in enumerate(rules.comparisons)}
    decided, named = [], []
    for rule in rules.rules:
        cond = " AND ".join(f"lv{index[c]} IN ({', '.join(_q(x) for x in rule.levels_for(c))})" for c in rule.when)
        decided.append(f"WHEN {cond} THEN {_q(rule.decision)}")
        named.append(f"WHEN {cond} THEN {_q(rule.name)}")
    review = f"WHEN weight >= {_d(rules.review_threshold)} THEN 'review' " if rules.review_threshold is not None else ""
    decision = " ".join(["CASE", *decided, f"WHEN weight >= {_d(rules.threshold)} THEN 'match' {review}ELSE 'no_match'",
                         "END"])
    rule_col = " ".join(["CASE", *named, "ELSE 'score' END"]) if named else "'score'"
    n = len(rules.comparisons)
    # the weights are added in the comparisons' order, from 0.0, as Scorer.score adds them: same sums
    total = " + ".join([ZERO, *(f"w{i}" for i in range(n))])
    out_cols = ", ".join(f"lv{i}, w{i}" for i in range(n))
    return f"""
WITH sims AS (
  SELECT c.l, c.r, {", ".join(sims)} FROM cand c JOIN rec L ON L.rid = c.l JOIN rec R ON R.rid = c.r
),
levels AS (SELECT l, r, {", ".join(levels)}, {", ".join(weights)} FROM sims),
weighed AS (SELECT *, {total} AS weight FROM levels)
SELECT l, r, weight, {decision} AS decision, {rule_col} AS rule, {out_cols} FROM weighed""".strip()


# -- vectorised string similarities DuckDB lacks ---------------------------------------------------
def _register_similarities(duck: Any) -> None:
    from duckdb.sqltypes import DOUBLE, VARCHAR
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Indel
    from rapidfuzz.process import cpdist

    def vectorised(scorer: Callable[..., float]) -> Callable[[pa.Array, pa.Array], pa.Array]:
        def run(a: pa.Array, b: pa.Array) -> pa.Array:
            valid = pc.and_(pc.is_valid(a), pc.is_valid(b))
            left = pc.fill_null(a, "").to_numpy(zero_copy_only=False)
            right = pc.fill_null(b, "").to_numpy(zero_copy_only=False)
            scores = cpdist(left, right, scorer=scorer, dtype=np.float64, workers=1)
            return pa.array(scores, pa.float64(), mask=pc.invert(valid).to_numpy(zero_copy_only=False))
        return run

    for name, scorer in (("crm2_ratio", fuzz.ratio), ("crm2_token_set", fuzz.token_set_ratio),
                         ("crm2_token_sort", fuzz.token_sort_ratio), ("crm2_indel", Indel.normalized_similarity)):
        duck.create_function(name, vectorised(scorer), [VARCHAR, VARCHAR], DOUBLE, type="arrow",
                             side_effects=False)


def connect(threads: int | None = None) -> Any:
    """An in-memory DuckDB connection with crm2's similarity functions."""
    import duckdb

    duck = duckdb.connect(":memory:")
    if threads:
        duck.execute(f"SET threads = {int(threads)}").fetchall()
    duck.execute("SET preserve_insertion_order = false").fetchall()
    _register_similarities(duck)
    return duck


# -- reading the store's match state ---------------------------------------------------------------
def _chunks(items: Sequence[Any], size: int = PARAMS) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


KEYS = pa.schema([("rid", pa.int64()), ("key", pa.string())])
FEATURES = pa.schema([("rid", pa.int64()), ("features", pa.string())])
PAGE = 50_000


def _batch(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.RecordBatch:
    # one page at a time: a page of Python tuples, never the whole entity, is alive at once
    return pa.RecordBatch.from_arrays([pa.array([r[0] for r in rows], schema.field(0).type),
                                       pa.array([r[1] for r in rows], schema.field(1).type)], schema=schema)


def read_keys(conn: Connection, entity: str, dirty: Sequence[int], big: set[str], whole: bool) -> pa.Table:
    """Blocking keys as Arrow: the whole entity's, or those of the changed records and every holder."""
    return pa.Table.from_batches(list(key_batches(conn, entity, dirty, big, whole)), KEYS)


def key_batches(conn: Connection, entity: str, dirty: Sequence[int], big: set[str],
                whole: bool) -> Iterator[pa.RecordBatch]:
    """:func:`read_keys` a page at a time (Spark's Parquet hand-over writes them as they come)."""
    k = match_keys
    if whole and conn.dialect.name == "sqlite":
        # a first run on SQLite: about ten keys a record, read by the driver's cursor as tuples
        # (SQLAlchemy's row objects for a million keys cost more than reading them)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(f"SELECT rid, key FROM {k.name} WHERE entity = ?", (entity,))
            while rows := cursor.fetchmany(PAGE):
                yield _batch(rows, KEYS)
        finally:
            cursor.close()
        return
    if whole:  # a first run (or new rules): every key of the entity, read once
        for part in conn.execute(sa.select(k.c.rid, k.c.key).where(k.c.entity == entity),
                                 execution_options={"yield_per": PAGE}).partitions():
            yield _batch(part, KEYS)
        return
    # a few changed records: their keys, then everyone holding one of them (indexed look-ups)
    wanted: set[str] = set()
    for part in _chunks(sorted(dirty)):
        wanted.update(key for (key,) in conn.execute(sa.select(k.c.key).where(k.c.rid.in_(part))))
    for part in _chunks(sorted(wanted - big)):
        rows = conn.execute(sa.select(k.c.rid, k.c.key).where(k.c.entity == entity, k.c.key.in_(part))).all()
        if rows:
            yield _batch(rows, KEYS)


def read_features(conn: Connection, entity: str, rids: list[int], whole: bool) -> pa.Table:
    """Prepared values (JSON text) as Arrow: the whole entity's, or these records'."""
    return pa.Table.from_batches(list(feature_batches(conn, entity, rids, whole)), FEATURES)


def feature_batches(conn: Connection, entity: str, rids: list[int], whole: bool) -> Iterator[pa.RecordBatch]:
    """:func:`read_features` a page at a time."""
    m = match_records
    text = sa.cast(m.c.features, sa.Text)
    queries = ([sa.select(m.c.rid, text).where(m.c.entity == entity)] if whole else
               [sa.select(m.c.rid, text).where(m.c.rid.in_(part)) for part in _chunks(rids)])
    for query in queries:
        for part in conn.execute(query, execution_options={"yield_per": PAGE}).partitions():
            yield _batch(part, FEATURES)


SOURCES = pa.schema([("rid", pa.int64()), ("src", pa.string())])


def source_batches(conn: Connection, entity: str, rids: list[int], whole: bool) -> Iterator[pa.RecordBatch]:
    """Each record's source (``system/object``), for link-only rules: the whole entity's or these records'."""
    m = match_records
    src = m.c.source_system + "/" + m.c.source_object
    queries = ([sa.select(m.c.rid, src).where(m.c.entity == entity)] if whole else
               [sa.select(m.c.rid, src).where(m.c.rid.in_(part)) for part in _chunks(rids)])
    for query in queries:
        for part in conn.execute(query, execution_options={"yield_per": PAGE}).partitions():
            yield _batch(part, SOURCES)


def kept_rows(rows: Iterable[Sequence[Any]], names: list[str]) -> list[dict[str, Any]]:
    """Rows of the scoring SQL as match_pairs rows, with the levels as ``Scorer.details`` stores them."""
    n = len(names)
    return [{"left_rid": row[0], "right_rid": row[1], "weight": row[2], "decision": row[3], "rule": row[4],
             "details": {"levels": [[names[i], row[5 + 2 * i], round(row[6 + 2 * i], 3)] for i in range(n)]}}
            for row in rows]


@dataclass
class Scored:
    pairs: int = 0  # candidate pairs scored
    matches: int = 0
    reviews: int = 0

    def take(self, rows: list[dict[str, Any]], sink: Callable[[list[dict[str, Any]]], None]) -> None:
        self.matches += sum(1 for x in rows if x["decision"] == "match")
        self.reviews += sum(1 for x in rows if x["decision"] == "review")
        sink(rows)


Sink = Callable[[list[dict[str, Any]]], None]
"""Receives kept pairs (match_pairs rows without entity and run id) a page at a time."""


def score(conn: Connection, entity: str, rules: EntityRules, dirty: Sequence[int], big: set[str],
          whole: bool, sink: Sink, threads: int | None = None) -> Scored:
    """Score the changed records against everyone sharing a key, on DuckDB; the pairs to keep."""
    duck = connect(threads)
    try:
        duck.register("keys", read_keys(conn, entity, dirty, big, whole))
        duck.register("dirty", pa.table({"rid": pa.array(sorted(set(dirty)), pa.int64())}))
        if rules.link_only:  # candidates as usual, then only the pairs across two sources
            duck.execute(f"CREATE TEMP TABLE cand_any AS {candidates_sql(rules)}").fetchall()
            duck.register("sources", pa.Table.from_batches(list(source_batches(
                conn, entity, [] if whole else _rids(duck, "cand_any"), whole)), SOURCES))
            duck.execute(f"CREATE TEMP TABLE cand AS {LINK_ONLY_SQL}").fetchall()
        else:
            duck.execute(f"CREATE TEMP TABLE cand AS {candidates_sql(rules)}").fetchall()
        pairs = duck.execute("SELECT count(*) FROM cand").fetchall()[0][0]
        if not pairs:
            return Scored()
        need = [] if whole else _rids(duck, "cand")
        duck.register("features_json", read_features(conn, entity, need, whole))
        duck.execute(f"CREATE TEMP TABLE rec AS {prepared_sql(rules)}").fetchall()
        names = [c.name for c in rules.comparisons]
        cursor = duck.execute(f"SELECT * FROM ({scoring_sql(rules)}) WHERE decision IN ('match', 'review') "
                              "ORDER BY l, r")
        scored = Scored(int(pairs))
        while rows := cursor.fetchmany(10_000):  # written a page at a time: memory stays flat
            scored.take(kept_rows(rows, names), sink)
        return scored
    finally:
        duck.close()


def _rids(duck: Any, table: str) -> list[int]:
    return [r for (r,) in duck.execute(f"SELECT l FROM {table} UNION SELECT r FROM {table} ORDER BY 1").fetchall()]
