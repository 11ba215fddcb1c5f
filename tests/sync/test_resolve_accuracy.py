"""Accuracy floors: a matching regression fails `make test`, not only the benchmark.

About 2,000 synthetic customers (seeds 42 and 7) are generated, mapped by the shipped mappings,
staged and resolved with config/match.yml; pairwise precision, recall and F1 of customers and
contacts are checked against the generator's ground truth, exactly as bench/bench_resolve.py
scores them (records the mappings quarantine are in neither side). The floors sit a little
below what was measured at this size (docs/resolve.md, "Accuracy floors").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
import sqlalchemy as sa

import synthetic
from sync.mapping import Deleted, Mapped, load_mapping
from sync.mapping.staging import staged_record
from sync.resolve import load_match_config, resolve
from sync.shipped import MAPPINGS
from sync.store.schema import crosswalk
from sync.store.store import Store

CONFIG = Path(__file__).resolve().parents[2] / "config" / "match.yml"
CUSTOMERS = 2000
OBJECTS = {"links", "Account", "Contact", "customers", "accounts"}
SOURCES = ("salesforce", "finance", "sales")

# measured at 2,000 customers (precision, recall, F1); floors a little below
FLOORS = {
    (42, "customer"): (0.994, 0.992, 0.993),  # measured 0.9956 / 0.9932 / 0.9944
    (7, "customer"): (0.996, 0.993, 0.995),  # measured 0.9978 / 0.9945 / 0.9962
    (42, "contact"): (0.998, 0.975, 0.985),  # measured 1.0 / 0.9802 / 0.9900
    (7, "contact"): (0.997, 0.980, 0.988),  # measured 0.9991 / 0.9860 / 0.9925
}


def _pairs(counts: Iterable[int]) -> int:
    return sum(n * (n - 1) // 2 for n in counts)


def pairwise(predicted: dict[str, str], truth: dict[str, str]) -> tuple[float, float, float]:
    """Pairwise precision, recall, F1 of a clustering against the true entities (common records only)."""
    keys = predicted.keys() & truth.keys()
    tp = _pairs(Counter((predicted[k], truth[k]) for k in keys).values())
    pp = _pairs(Counter(predicted[k] for k in keys).values())
    tt = _pairs(Counter(truth[k] for k in keys).values())
    precision, recall = tp / pp, tp / tt
    return precision, recall, 2 * precision * recall / (precision + recall)


def staged_with_truth(store: Store, seed: int) -> dict[str, dict[str, str]]:
    """Stage the generator's records through the shipped mappings; the ground truth per entity."""
    mappings = {system: load_mapping(MAPPINGS / f"{system}.yml") for system in SOURCES}
    truth: dict[str, dict[str, str]] = {"customer": {}, "contact": {}}
    batch = []
    for system, obj, record in synthetic.generate(CUSTOMERS, seed, objects=OBJECTS):
        if system == "truth":
            if record.get("entity") in truth and not record.get("broken"):
                ref = f"{record['system']}/{record['object']}/{record['source_id']}"
                truth[record["entity"]][ref] = str(record["real_id"])
            continue
        for plan in mappings[system].plans_for(obj) if system in mappings else ():
            result = mappings[system].apply(plan.name, record)
            if isinstance(result, Mapped | Deleted):
                batch.append(staged_record(result, plan.entity.entity))
    with store.begin() as conn:
        store.stage(conn, batch, None)
    return truth


def predicted(store: Store, entity: str) -> dict[str, str]:
    c = crosswalk
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(c.c.source_system, c.c.source_object, c.c.source_id, c.c.golden_id).where(
            c.c.entity == entity, c.c.status.in_(("loaded", "merged")), c.c.golden_id.is_not(None)))
        return {f"{r[0]}/{r[1]}/{r[2]}": r[3] for r in rows}


@pytest.fixture(scope="module", params=[42, 7], ids=["seed42", "seed7"])
def resolved(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    seed = request.param
    store = Store.open(str(tmp_path_factory.mktemp(f"accuracy{seed}") / "crm2.sqlite"))
    truth = staged_with_truth(store, seed)
    config = load_match_config(CONFIG)
    scores = {}
    for entity in ("customer", "contact"):
        resolve(store, config, entity)
        scores[entity] = pairwise(predicted(store, entity), truth[entity])
    store.engine.dispose()
    return seed, scores


@pytest.mark.parametrize("entity", ["customer", "contact"])
def test_matching_stays_above_its_accuracy_floor(resolved, entity: str) -> None:
    seed, scores = resolved
    precision, recall, f1 = scores[entity]
    floor_p, floor_r, floor_f1 = FLOORS[(seed, entity)]
    measured = f"seed {seed} {entity}: P {precision:.4f} R {recall:.4f} F1 {f1:.4f}"
    assert precision >= floor_p, measured
    assert recall >= floor_r, measured
    assert f1 >= floor_f1, measured
