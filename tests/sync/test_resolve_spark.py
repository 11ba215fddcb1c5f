"""Spark equals DuckDB: on the same staged data, local Spark finds and scores the same pairs and
resolves the same golden records (the machine's Java 17; .ci/run installs a JRE where missing)."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import synthetic
from sync.mapping import Deleted, Mapped, load_mapping
from sync.mapping.staging import staged_record
from sync.resolve import load_match_config, prepare, resolve
from sync.resolve.scoring import Scorer
from sync.shipped import MAPPINGS
from sync.store.schema import match_keys, match_records
from sync.store.store import StagedRecord, Store

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    if os.environ.get("CI"):
        pytest.fail("java not found: .ci/run installs a JRE for the Spark engine", pytrace=False)
    pytest.skip("java not found (the Spark engine needs Java 17+)", allow_module_level=True)

from test_resolve_duckdb import CONFIG, _golden, _pairs, _resolved

OBJECTS = {"salesforce": ("Account", "Contact"), "finance": ("customers",), "sales": ("accounts",)}


@pytest.fixture(scope="module")
def spark_session():
    """One small local Spark session for the module (local[2], 2 shuffle partitions, no UI)."""
    from sync.resolve import spark

    yield spark.session()
    spark.stop()


@pytest.fixture(scope="module")
def records():
    mappings = {system: load_mapping(MAPPINGS / f"{system}.yml") for system in OBJECTS}
    out = []
    for system, obj, record in synthetic.generate(120, 5, objects={"Account", "Contact", "customers", "accounts"}):
        for plan in mappings[system].plans_for(obj):
            result = mappings[system].apply(plan.name, record)
            if isinstance(result, Mapped | Deleted):
                out.append(staged_record(result, plan.entity.entity))
    return out


def _prepared(store: Store) -> tuple[dict[str, tuple], set[tuple[str, str]]]:
    """Each record's rid, content hash and prepared values as the JSON text the store holds, and
    every (record, blocking key): what preparation wrote, byte for byte."""
    m, k = match_records, match_keys
    with store.engine.connect() as conn:
        records = {f"{r.source_system}/{r.source_object}/{r.source_id}": (r.rid, r.entity, r.content_hash, r.text)
                   for r in conn.execute(sa.select(m, sa.cast(m.c.features, sa.Text).label("text")))}
        ref = {rid: name for name, (rid, *_) in records.items()}
        keys = {(ref[r.rid], f"{r.entity}:{r.key}") for r in conn.execute(sa.select(k))}
    return records, keys


def _changed(records: list[StagedRecord]) -> list[StagedRecord]:
    """An incremental batch: a customer renamed to another's name and tax id, a contact moved to
    another employer under another surname, and a new customer record."""
    customers = [r for r in records if r.entity == "customer" and r.source_object == "Account"]
    contact = next(r for r in records if r.entity == "contact" and r.data.get("customer"))
    other = next(r for r in customers if r.source_id != contact.data["customer"])
    first, second = customers[0], customers[-1]
    return [
        dataclasses.replace(first, data={**first.data, "name": second.data["name"], "tax_id": second.data["tax_id"]}),
        dataclasses.replace(contact, data={**contact.data, "customer": other.source_id, "last_name": "Quist"}),
        dataclasses.replace(second, source_id=f"{second.source_id}-new"),
    ]


def _same(duck: Store, spark: Store) -> None:
    expected_records, expected_keys = _prepared(duck)
    assert len(expected_records) > 200 and len(expected_keys) > 1000
    records, keys = _prepared(spark)
    assert records == expected_records  # the same rids, hashes and prepared values, byte for byte
    assert keys == expected_keys
    for entity in ("customer", "contact"):
        expected = _pairs(duck, entity)
        assert len(expected) > 30
        assert _pairs(spark, entity) == expected
    assert _golden(spark) == _golden(duck)


def test_spark_prepares_and_resolves_as_duckdb_first_and_incrementally(spark_session, records,
                                                                       tmp_path: Path) -> None:
    """Preparation runs on the executors (mapInArrow) and scoring on Spark: the prepared values,
    keys, pairs (levels, weights, decisions) and golden ids equal DuckDB's, on a first run and on
    an incremental run with changed and new records. The driver never prepares: its own
    preparation functions are made to fail while Spark resolves (the Python workers import theirs)."""
    from sync.resolve import spark as engine

    def on_the_driver(*args: Any) -> None:
        raise AssertionError("preparation ran on the driver")

    def executors_only(mp: pytest.MonkeyPatch) -> None:
        mp.setattr(Scorer, "features_many", on_the_driver)
        mp.setattr(prepare, "keys_for_many", on_the_driver)

    exchange = tmp_path / "exchange"
    engine.session(exchange=exchange)  # the Parquet hand-over happens here, and is cleared after each entity
    duck = _resolved(tmp_path / "duck.sqlite", records, "duckdb")
    with pytest.MonkeyPatch.context() as mp:
        executors_only(mp)
        spark = _resolved(tmp_path / "spark.sqlite", records, "spark")
    assert exchange.is_dir() and not any(exchange.iterdir())
    _same(duck, spark)

    config = load_match_config(CONFIG)
    changed: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in ("duckdb", "spark")}
    for name, store in (("duckdb", duck), ("spark", spark)):
        with store.begin() as conn:
            store.stage(conn, _changed(records), None)
        with pytest.MonkeyPatch.context() as mp:
            if name == "spark":
                executors_only(mp)
            for entity in ("customer", "contact"):
                changed[name][entity] = resolve(store, config, entity, engine=name).as_dict()
    assert changed["spark"] == changed["duckdb"]
    assert changed["spark"]["customer"]["changed"] == 2 and changed["spark"]["contact"]["changed"] >= 1
    assert not any(exchange.iterdir())
    _same(duck, spark)
    duck.engine.dispose()
    spark.engine.dispose()


def test_spark_link_only_scores_the_same_pairs_as_duckdb_and_none_within_a_source(spark_session,
                                                                                    tmp_path: Path) -> None:
    """examples/people's two registers with link-only rules (a declared entity): the candidates
    are filtered by source on Spark as on DuckDB."""
    from test_resolve_declared import LINK_RULES, engine_pairs

    from sync.resolve import load_match_config

    found = engine_pairs(tmp_path, load_match_config(LINK_RULES), ("duckdb", "spark"))
    assert len(found["duckdb"]) >= 150 and found["spark"] == found["duckdb"]
    assert not [p for p in found["spark"] if p[0].split("/")[0] == p[1].split("/")[0]]
