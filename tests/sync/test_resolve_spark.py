"""Spark equals DuckDB: on the same staged data, local Spark finds and scores the same pairs and
resolves the same golden records (the machine's Java 17; .ci/run installs a JRE where missing)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import synthetic
from sync.mapping import Deleted, Mapped, load_mapping
from sync.mapping.staging import staged_record
from sync.shipped import MAPPINGS

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    if os.environ.get("CI"):
        pytest.fail("java not found: .ci/run installs a JRE for the Spark engine", pytrace=False)
    pytest.skip("java not found (the Spark engine needs Java 17+)", allow_module_level=True)

from test_resolve_duckdb import _golden, _pairs, _resolved

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


def test_spark_gives_the_same_pairs_levels_weights_decisions_and_golden_ids(spark_session, records,
                                                                            tmp_path: Path) -> None:
    from sync.resolve import spark as engine

    exchange = tmp_path / "exchange"
    engine.session(exchange=exchange)  # the Parquet hand-over happens here, and is cleared after each entity
    duck = _resolved(tmp_path / "duck.sqlite", records, "duckdb")
    spark = _resolved(tmp_path / "spark.sqlite", records, "spark")
    assert exchange.is_dir() and not any(exchange.iterdir())
    for entity in ("customer", "contact"):
        expected = _pairs(duck, entity)
        assert len(expected) > 30
        assert _pairs(spark, entity) == expected
    assert _golden(spark) == _golden(duck)
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
