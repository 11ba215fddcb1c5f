"""Spark's preparation function (Arrow batch in, Arrow batch out) prepares what the driver's pages
prepare, and refuses to run under a crm2 that prepares values differently. Without Spark: the
function is plain Python over Arrow (tests/sync/test_resolve_spark.py runs it on local Spark)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from test_resolve_memo import RECORDS

from sync.resolve import engine, load_match_config
from sync.resolve.prepare import arrow_preparer, prepare, prepared_schema, to_prepare_schema
from sync.resolve.scoring import Scorer
from sync.store.bulk import json_text

ROOT = Path(__file__).resolve().parents[2]


def _batch(records: list[dict[str, Any]], refs: list[dict[str, Any] | None]) -> pa.RecordBatch:
    n = len(records)
    return pa.RecordBatch.from_pydict({
        "seq": list(range(n)), "source_system": ["crm"] * n, "source_object": ["Thing"] * n,
        "source_id": [str(i) for i in range(n)], "content_hash": ["h"] * n,
        "rid": [None if i % 2 else i for i in range(n)],
        "data": [json.dumps(r) for r in records], "refs": [None if r is None else json.dumps(r) for r in refs]},
        schema=to_prepare_schema())


@pytest.mark.parametrize(("rules_file", "entity"), [
    ("match.febrl.yml", "person"), ("match.yml", "customer"), ("match.yml", "contact")])
def test_an_arrow_batch_is_prepared_as_the_driver_prepares_a_page(rules_file: str, entity: str) -> None:
    rules = load_match_config(ROOT / "config" / rules_file).rules_for(entity)
    page = RECORDS * 2
    # a reference's golden id joins the data as the driver's _with_references adds it
    refs: list[dict[str, Any] | None] = [{name: f"G-{i}" if i % 3 else None for name in rules.references}
                                         if rules.references else None for i in range(len(page))]
    [out] = list(arrow_preparer(rules)(iter([_batch(page, refs)])))
    assert out.schema == prepared_schema()
    features, keys = prepare(Scorer(rules), [{**r, **(x or {})} for r, x in zip(page, refs, strict=True)])
    assert out.column("features").to_pylist() == [json_text(f) for f in features]
    assert out.column("keys").to_pylist() == keys
    assert out.column("rid").to_pylist() == [None if i % 2 else i for i in range(len(page))]
    assert out.column("seq").to_pylist() == list(range(len(page)))


def test_an_executor_with_another_preparation_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = load_match_config(ROOT / "config" / "match.yml").rules_for("customer")
    run = arrow_preparer(rules)  # made by the driver, in its form
    monkeypatch.setattr(engine, "PREPARED_FORM", "older")
    with pytest.raises(RuntimeError, match="install the driver's crm2 on the executors"):
        list(run(iter([_batch(RECORDS, [None] * len(RECORDS))])))
