"""The match rules compiled to one SQL statement: the road to Spark without rewriting the YAML.

crm2 scores pairs in Python, but nothing in the rules is Python: blocking keys are values
shared by two records, a comparison is a similarity bucketed into levels, a level is a
constant weight, a rule is a condition on levels, and the decision is a threshold. This module
writes exactly that as SQL over two tables — each record's prepared values and its blocking
keys — with one user-defined function, ``crm2_similarity(comparator, a, b)``, wrapping the
same comparators crm2 uses. Preparing values and keys stays per-record Python
(``Scorer.features``, ``keys_for``): embarrassingly parallel, a ``mapInPandas`` on Spark.

Two dialects:

- ``sqlite`` runs against crm2's own store tables (``match_records.features`` holds the
  prepared values as a JSON array, ``match_keys`` the keys). The tests run it there and get
  the very pairs, weights and decisions the engine stored — the proof that the SQL is the rules.
- ``spark`` expects the prepared values as columns ``f0, f1, …`` (JSON text) of a ``records``
  view and ``keys(rid, key)``; register the function with
  ``spark.udf.register("crm2_similarity", similarity_udf, "double")``.

Clustering the kept pairs is connected components (GraphFrames on Spark), with people's
must-not-link decisions applied first, as ``sync.resolve.cluster`` does.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Literal

from sync.resolve.comparators import COMPARATORS
from sync.resolve.spec import INCOMPARABLE, EntityRules

Dialect = Literal["sqlite", "spark"]


def similarity_udf(comparator: str, a: str | None, b: str | None) -> float | None:
    """The comparator's similarity of two prepared values given as JSON text; NULL when either
    side is empty or the values cannot be compared (the ``incomparable`` level)."""
    if a is None or b is None:
        return None
    va, vb = json.loads(a), json.loads(b)
    if va is None or vb is None:
        return None
    return COMPARATORS[comparator].similarity(va, vb)


def register_sqlite(connection: sqlite3.Connection) -> None:
    """Make ``crm2_similarity`` available to SQL on a sqlite3 connection."""
    connection.create_function("crm2_similarity", 3, similarity_udf, deterministic=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _feature(alias: str, index: int, dialect: Dialect) -> str:
    return f"{alias}.features -> '$[{index}]'" if dialect == "sqlite" else f"{alias}.f{index}"


def scoring_sql(rules: EntityRules, entity: str, dialect: Dialect = "sqlite") -> str:
    """One statement returning ``l, r, weight, decision, rule`` and a ``<comparison>_level``
    column per comparison, for every candidate pair scored match or review."""
    records, keys = ("match_records", "match_keys") if dialect == "sqlite" else ("records", "keys")
    def of_entity(alias: str) -> str:
        return f"{alias}entity = {_quote(entity)}" if dialect == "sqlite" else "TRUE"
    limits = " ".join(f"WHEN {_quote(b.name)} THEN {rules.block_limit(b.name)}" for b in rules.blocking)
    rule_of_key = "substr(key, 1, instr(key, ':') - 1)"

    sims, level_cols, weight_terms = [], [], []
    for i, comp in enumerate(rules.comparisons):
        left, right = _feature("L", i, dialect), _feature("R", i, dialect)
        sims.append(f"{left} AS l{i}, {right} AS r{i}, "
                    f"crm2_similarity({_quote(comp.comparator)}, {left}, {right}) AS s{i}")
        empty = f"(l{i} IS NULL OR r{i} IS NULL OR l{i} = 'null' OR r{i} = 'null')"
        whens = [f"WHEN {empty} THEN 'null'", f"WHEN s{i} IS NULL THEN {_quote(INCOMPARABLE)}"]
        weights = [f"WHEN {empty} THEN {comp.null_weight!r}", f"WHEN s{i} IS NULL THEN {comp.incomparable_weight!r}"]
        for level in comp.levels:
            cond = "ELSE" if level.at_least is None else f"WHEN s{i} >= {level.at_least!r} THEN"
            whens.append(f"{cond} {_quote(level.label)}")
            weights.append(f"{cond} {level.match_weight!r}")
        if comp.levels[-1].at_least is not None:  # no catch-all level: below every cut
            whens.append("ELSE 'else'")
            weights.append("ELSE 0.0")
        level_cols.append(f"CASE {' '.join(whens)} END AS {comp.name}_level")
        weight_terms.append(f"CASE {' '.join(weights)} END")

    rule_whens = []
    for rule in rules.rules:
        conds = " AND ".join(f"{c}_level IN ({', '.join(_quote(x) for x in rule.levels_for(c))})" for c in rule.when)
        rule_whens.append((f"WHEN {conds} THEN {_quote(rule.decision)}", f"WHEN {conds} THEN {_quote(rule.name)}"))
    review = (f"WHEN weight >= {rules.review_threshold!r} THEN 'review' "
              if rules.review_threshold is not None else "")
    by_score = f"WHEN weight >= {rules.threshold!r} THEN 'match' {review}ELSE 'no_match'"
    decision = " ".join(["CASE", *(d for d, _ in rule_whens), by_score, "END"])
    rule_col = " ".join(["CASE", *(n for _, n in rule_whens), "ELSE 'score' END"]) if rule_whens else "'score'"
    names = ", ".join(f"{c.name}_level" for c in rules.comparisons)
    return f"""
WITH usable AS (
  SELECT key FROM {keys} WHERE {of_entity("")} GROUP BY key
  HAVING COUNT(*) <= CASE {rule_of_key} {limits} ELSE {rules.max_block_size} END
),
candidates AS (
  SELECT DISTINCT a.rid AS l, b.rid AS r
  FROM {keys} a JOIN usable u ON u.key = a.key JOIN {keys} b ON b.key = a.key AND a.rid < b.rid
  WHERE {of_entity("a.")} AND {of_entity("b.")}
),
sims AS (
  SELECT c.l, c.r, {", ".join(sims)}
  FROM candidates c JOIN {records} L ON L.rid = c.l JOIN {records} R ON R.rid = c.r
),
levels AS (
  SELECT l, r, {", ".join(level_cols)}, {" + ".join(weight_terms)} AS weight FROM sims
),
decided AS (
  SELECT l, r, weight, {decision} AS decision, {rule_col} AS rule, {names} FROM levels
)
SELECT * FROM decided WHERE decision IN ('match', 'review') ORDER BY l, r
""".strip()


def run_sqlite(connection: sqlite3.Connection, rules: EntityRules, entity: str) -> list[dict[str, Any]]:
    """Score every candidate pair of ``entity`` in a crm2 SQLite store with the compiled SQL."""
    register_sqlite(connection)
    cursor = connection.execute(scoring_sql(rules, entity, "sqlite"))
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor]
