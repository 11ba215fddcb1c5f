"""The match rules compiled to SQL score exactly what the engine scores: the road to Spark."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

import synthetic
from sync.mapping import Deleted, Mapped, load_mapping
from sync.mapping.staging import staged_record
from sync.resolve import load_match_config, resolve
from sync.resolve.engine import rules_fingerprint
from sync.resolve.sql import scoring_sql, similarity_udf
from sync.shipped import MAPPINGS
from sync.store.schema import match_pairs
from sync.store.store import Store

CONFIG = Path(__file__).resolve().parents[2] / "config" / "match.yml"
OBJECTS = {"salesforce": ("Account", "Contact"), "finance": ("customers",), "sales": ("accounts",)}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 synthetic customers' records staged through the shipped mappings and resolved."""
    path = tmp_path_factory.mktemp("sql") / "crm2.sqlite"
    store = Store.open(str(path))
    mappings = {system: load_mapping(MAPPINGS / f"{system}.yml") for system in OBJECTS}
    batch = []
    for system, obj, record in synthetic.generate(300, 11, objects={"Account", "Contact", "customers", "accounts"}):
        for plan in mappings[system].plans_for(obj):
            result = mappings[system].apply(plan.name, record)
            if isinstance(result, Mapped | Deleted):
                batch.append(staged_record(result, plan.entity.entity))
    with store.begin() as conn:
        store.stage(conn, batch, None)
    config = load_match_config(CONFIG)
    for entity in ("customer", "contact"):
        resolve(store, config, entity)
    store.engine.dispose()
    return path


@pytest.mark.parametrize("entity", ["customer", "contact"])
def test_compiled_sql_gives_the_engines_pairs_weights_and_decisions(store_path: Path, entity: str) -> None:
    rules = load_match_config(CONFIG).rules_for(entity)
    engine = sa.create_engine(f"sqlite:///{store_path}")
    with engine.connect() as conn:
        stored = {(r.left_rid, r.right_rid): (round(r.weight, 6), r.decision, r.rule) for r in conn.execute(
            sa.select(match_pairs).where(match_pairs.c.entity == entity,
                                         match_pairs.c.decision.in_(("match", "review"))))}
    engine.dispose()
    connection = sqlite3.connect(store_path)
    connection.create_function("crm2_similarity", 3, similarity_udf, deterministic=True)
    rows = connection.execute(scoring_sql(rules, entity)).fetchall()
    connection.close()
    compiled = {(row[0], row[1]): (round(row[2], 6), row[3], row[4]) for row in rows}
    assert len(stored) > 50  # enough real pairs for the comparison to mean something
    assert compiled == stored


def test_the_spark_dialect_reads_prepared_columns_and_the_same_function() -> None:
    rules = load_match_config(CONFIG).rules_for("customer")
    sql = scoring_sql(rules, "customer", "spark")
    assert "crm2_similarity('company_name', L.f0, R.f0)" in sql
    assert "->" not in sql and "match_records" not in sql
    assert f"WHEN weight >= {rules.threshold!r} THEN 'match'" in sql


def test_the_function_says_null_for_empty_and_incomparable_values() -> None:
    assert similarity_udf("phone", None, '["861062881234", true]') is None
    assert similarity_udf("phone", "null", '["861062881234", true]') is None
    name = '["北京华腾科技", "beijinghuatengkeji", true]'
    translated = '["beijing huateng technology", "beijinghuatengtechnology", false]'
    assert similarity_udf("company_name", name, translated) is None
    assert similarity_udf("phone", '["861062881234", true]', '["1062881234", false]') == 0.95


def test_rules_fingerprint_ignores_survivorship_only() -> None:
    rules = load_match_config(CONFIG).rules_for("customer")
    same = rules.model_copy(update={"id_prefix": "X-", "survivorship": rules.survivorship.model_copy()})
    assert rules_fingerprint(same) == rules_fingerprint(rules)
    assert rules_fingerprint(rules.model_copy(update={"threshold": 15.0})) != rules_fingerprint(rules)
