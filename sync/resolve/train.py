"""Weights from data: m and u of every comparison level estimated from the store (``crm2 match train``).

Splink's way, on the same DuckDB plan the engine scores with (sync/resolve/duck.py):

- **u** (how often two unrelated records land in a level) from random pairs of records: nearly
  all of them are non-matches;
- **m** (how often a true match lands there) by expectation maximisation over the blocked
  candidate pairs, with u held fixed, the comparisons taken as independent given match status,
  and ``null``/``incomparable`` levels left out (they carry their own fixed weights).

EM runs on the counts of each distinct combination of levels (a few hundred rows), not on pairs.
The estimates are written back into the rules file as each level's ``m``/``u``, with its
comments kept; a level given a direct ``weight`` is hand-set and left alone. Thresholds are not
moved: after training, check the review queue and the accuracy figures before adopting a file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from sync.resolve import duck
from sync.resolve.spec import INCOMPARABLE, EntityRules
from sync.store.store import Store

SKIPPED = ("null", INCOMPARABLE, "else")
FLOOR = 1e-6
"""No probability is estimated below this: a level never seen among random pairs is rare, not impossible."""


@dataclass
class Trained:
    entity: str
    prior: float  # share of blocked candidate pairs that match (EM's lambda)
    levels: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)  # comparison -> level -> (m, u)
    random_pairs: int = 0
    candidate_pairs: int = 0
    iterations: int = 0


def _levels(d: Any, rules: EntityRules) -> list[tuple[tuple[str, ...], int]]:
    """Counts of each combination of levels over the pairs in ``cand``."""
    n = len(rules.comparisons)
    cols = ", ".join(f"lv{i}" for i in range(n))
    rows = d.execute(f"SELECT {cols}, count(*) FROM ({duck.scoring_sql(rules)}) GROUP BY ALL").fetchall()
    return [(tuple(r[:n]), int(r[n])) for r in rows]


def estimate(store: Store, rules: EntityRules, entity: str, *, random_pairs: int = 200_000, iterations: int = 30,
             seed: int = 42) -> Trained:
    """Estimate m and u of every level of ``entity``'s comparisons from the records in the store."""
    d = duck.connect()
    try:
        with store.engine.connect() as conn:
            d.register("features_json", duck.read_features(conn, entity, [], True))
            d.execute(f"CREATE TEMP TABLE rec AS {duck.prepared_sql(rules)}").fetchall()
            rids = [r for (r,) in d.execute("SELECT rid FROM rec ORDER BY rid").fetchall()]
            if len(rids) < 2:
                raise ValueError(f"too few {entity} records in the store to train on")
            # link-only rules never compare two records of one source: neither do u and m
            cand = "cand_any" if rules.link_only else "cand"
            if rules.link_only:
                d.register("sources", pa.Table.from_batches(
                    list(duck.source_batches(conn, entity, [], True)), duck.SOURCES))
            # u: random pairs
            rng = random.Random(seed)
            pairs = {tuple(sorted(rng.sample(rids, 2))) for _ in range(random_pairs)}
            d.register(cand, pa.table({"l": [p[0] for p in pairs], "r": [p[1] for p in pairs]}))
            if rules.link_only:
                d.execute(f"CREATE TEMP TABLE cand AS {duck.LINK_ONLY_SQL}").fetchall()
                pairs = set(d.execute("SELECT l, r FROM cand").fetchall())
                d.unregister(cand)
            u_counts = _levels(d, rules)
            if rules.link_only:
                d.execute("DROP TABLE cand").fetchall()
            else:
                d.unregister("cand")
            if not pairs:
                raise ValueError(f"no two {entity} records of different sources to train link-only rules on")
            # m: EM over the blocked candidates
            d.register("keys", duck.read_keys(conn, entity, [], set(), True))
            d.register("dirty", pa.table({"rid": pa.array(rids, pa.int64())}))
            d.execute(f"CREATE TEMP TABLE {cand} AS {duck.candidates_sql(rules)}").fetchall()
            if rules.link_only:
                d.execute(f"CREATE TEMP TABLE cand AS {duck.LINK_ONLY_SQL}").fetchall()
            patterns = _levels(d, rules)
    finally:
        d.close()

    names = [c.name for c in rules.comparisons]
    labels = [[lv.label for lv in c.levels] for c in rules.comparisons]
    u: list[dict[str, float]] = []
    for i in range(len(names)):
        seen = {lab: sum(n for p, n in u_counts if p[i] == lab) for lab in labels[i]}
        total: float = sum(seen.values()) or 1
        u.append({lab: max(seen[lab] / total, FLOOR) for lab in labels[i]})
    m: list[dict[str, float]] = []
    for comp in rules.comparisons:  # start from the rules' own m where given, else uniform
        given = {lv.label: lv.m for lv in comp.levels if lv.m is not None}
        start = {lv.label: given.get(lv.label, 1 / len(comp.levels)) for lv in comp.levels}
        total = sum(start.values())
        m.append({k: v / total for k, v in start.items()})
    prior = 0.1
    done = 0
    for step in range(1, iterations + 1):
        done = step
        weight_m = [dict.fromkeys(labels[i], 0.0) for i in range(len(names))]
        matched = total_pairs = 0.0
        for pattern, count in patterns:
            pm, pu = prior, 1 - prior
            for i, lab in enumerate(pattern):
                if lab in SKIPPED:
                    continue
                pm *= m[i][lab]
                pu *= u[i][lab]
            p = pm / (pm + pu) if pm + pu > 0 else 0.0
            matched += p * count
            total_pairs += count
            for i, lab in enumerate(pattern):
                if lab not in SKIPPED:
                    weight_m[i][lab] += p * count
        new_prior = matched / total_pairs if total_pairs else prior
        change = abs(new_prior - prior)
        prior = min(max(new_prior, FLOOR), 1 - FLOOR)
        for i in range(len(names)):
            total = sum(weight_m[i].values())
            if total > 0:
                new = {lab: max(weight_m[i][lab] / total, FLOOR) for lab in labels[i]}
                change = max(change, *(abs(new[k] - m[i][k]) for k in new))
                m[i] = new
        if change < 1e-6:
            break
    return Trained(entity, prior, {names[i]: {lab: (m[i][lab], u[i][lab]) for lab in labels[i]}
                                   for i in range(len(names))},
                   random_pairs=len(pairs), candidate_pairs=sum(n for _, n in patterns), iterations=done)


def write_rules(source: Path, out: Path, trained: Trained) -> int:
    """Copy the rules file to ``out`` with trained m/u for the entity's levels; returns levels updated.

    Comments and layout are kept (ruamel round trip); levels with a hand-set ``weight`` are not touched.
    """
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    tree = yaml.load(source.read_text(encoding="utf-8"))
    updated = 0
    for comp in tree["entities"][trained.entity]["comparisons"]:
        estimates = trained.levels.get(comp["name"], {})
        for i, level in enumerate(comp["levels"]):
            label = level.get("name") or (f">={level['at_least']:g}" if level.get("at_least") is not None else "else")
            if "weight" in level or label not in estimates:
                continue
            m, u = estimates[label]
            level["m"] = float(f"{m:.6g}")
            level["u"] = float(f"{u:.6g}")
            comp["levels"][i] = level
            updated += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        yaml.dump(tree, fh)
    return updated
