"""The DuckDB engine finds and scores exactly what the Python engine does, and resolves the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import synthetic
from sync.mapping import Deleted, Mapped, load_mapping
from sync.mapping.staging import staged_record
from sync.resolve import load_match_config, resolve
from sync.shipped import MAPPINGS
from sync.store.schema import crosswalk, golden, match_pairs, match_records
from sync.store.store import StagedRecord, Store

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "match.yml"
OBJECTS = {"salesforce": ("Account", "Contact"), "finance": ("customers",), "sales": ("accounts",)}
CUSTOMERS = 400


@pytest.fixture(scope="module")
def records() -> list[StagedRecord]:
    """400 synthetic customers' records (customers and contacts) through the shipped mappings."""
    mappings = {system: load_mapping(MAPPINGS / f"{system}.yml") for system in OBJECTS}
    out = []
    for system, obj, record in synthetic.generate(CUSTOMERS, 11, objects={"Account", "Contact", "customers",
                                                                            "accounts"}):
        for plan in mappings[system].plans_for(obj):
            result = mappings[system].apply(plan.name, record)
            if isinstance(result, Mapped | Deleted):
                out.append(staged_record(result, plan.entity.entity))
    return out


def _resolved(path: Path, records: list[StagedRecord], engine: str, batches: int = 1) -> Store:
    store = Store.open(str(path))
    config = load_match_config(CONFIG)
    for n in range(batches):
        with store.begin() as conn:
            store.stage(conn, records[n::batches], None)
        for entity in ("customer", "contact"):
            resolve(store, config, entity, engine=engine)
    return store


def _pairs(store: Store, entity: str) -> dict[tuple[str, str], tuple]:
    m = match_records
    with store.engine.connect() as conn:
        ref = {r.rid: f"{r.source_system}/{r.source_object}/{r.source_id}" for r in conn.execute(sa.select(m))}
        return {tuple(sorted((ref[p.left_rid], ref[p.right_rid]))): (round(p.weight, 9), p.decision, p.rule,
                                                                      p.details["levels"])
                for p in conn.execute(sa.select(match_pairs).where(match_pairs.c.entity == entity))}


def _golden(store: Store) -> tuple[dict[str, str | None], dict[str, object]]:
    with store.engine.connect() as conn:
        members = {f"{r.source_system}/{r.source_object}/{r.source_id}": r.golden_id
                   for r in conn.execute(sa.select(crosswalk))}
        data = {r.golden_id: (r.data, r.merged_into) for r in conn.execute(sa.select(golden))}
    return members, data


@pytest.fixture(scope="module")
def python_store(records, tmp_path_factory: pytest.TempPathFactory) -> Store:
    return _resolved(tmp_path_factory.mktemp("py") / "crm2.sqlite", records, "python")


@pytest.fixture(scope="module")
def duckdb_store(records, tmp_path_factory: pytest.TempPathFactory) -> Store:
    return _resolved(tmp_path_factory.mktemp("duck") / "crm2.sqlite", records, "duckdb")


@pytest.mark.parametrize("entity", ["customer", "contact"])
def test_duckdb_keeps_the_same_pairs_levels_weights_and_decisions(python_store, duckdb_store, entity) -> None:
    expected = _pairs(python_store, entity)
    assert len(expected) > 100  # enough real pairs for the comparison to mean something
    assert _pairs(duckdb_store, entity) == expected


def test_duckdb_gives_the_same_golden_records_and_ids(python_store, duckdb_store) -> None:
    assert _golden(duckdb_store) == _golden(python_store)


def test_incremental_in_three_batches_equals_one_batch(records, duckdb_store, tmp_path: Path) -> None:
    batched = _resolved(tmp_path / "crm2.sqlite", records, "duckdb", batches=3)
    once_members, _ = _golden(duckdb_store)
    members, _ = _golden(batched)
    # the same records end up together (ids may differ: an id is kept from the batch a record came in)
    def clusters(m: dict[str, str | None]) -> set[frozenset[str]]:
        out: dict[str | None, set[str]] = {}
        for ref, gid in m.items():
            out.setdefault(gid, set()).add(ref)
        return {frozenset(v) for v in out.values()}
    assert clusters(members) == clusters(once_members)
    for entity in ("customer", "contact"):
        assert _pairs(batched, entity) == _pairs(duckdb_store, entity)
    batched.engine.dispose()


def test_an_unchanged_rerun_scores_nothing(duckdb_store) -> None:
    config = load_match_config(CONFIG)
    again = resolve(duckdb_store, config, "customer", engine="duckdb")
    assert (again.changed, again.pairs_scored, again.clusters_written) == (0, 0, 0)


def test_an_unknown_engine_is_refused(duckdb_store) -> None:
    with pytest.raises(ValueError, match="unknown resolve engine 'spork'"):
        resolve(duckdb_store, load_match_config(CONFIG), "customer", engine="spork")


def test_the_pipeline_config_names_the_engine() -> None:
    from pydantic import ValidationError

    from sync.orchestrate.config import PipelineConfig

    assert PipelineConfig().resolve.engine == "duckdb"
    assert PipelineConfig.model_validate({"resolve": {"engine": "python"}}).resolve.engine == "python"
    with pytest.raises(ValidationError):
        PipelineConfig.model_validate({"resolve": {"engine": "spork"}})


def test_crm2_links_exports_a_runs_pairs_with_levels_and_weights(records, tmp_path: Path) -> None:
    import csv

    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from sync.cli import cli

    path = tmp_path / "crm2.sqlite"
    store = Store.open(str(path))
    with store.begin() as conn:
        store.stage(conn, records[:300], None)
    config = load_match_config(CONFIG)
    kept = resolve(store, config, "customer", run_id="run-1")
    store.engine.dispose()
    runner = CliRunner()
    out = tmp_path / "links.csv"
    done = runner.invoke(cli, ["links", "--run", "run-1", "--out", str(out), "--store", str(path)])
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == kept.matches + kept.reviews > 0
    assert {"left_ref", "right_ref", "weight", "decision", "rule", "name_level", "name_weight"} <= rows[0].keys()
    assert out.stat().st_mode & 0o077 == 0  # private
    parquet = tmp_path / "links.parquet"
    done = runner.invoke(cli, ["links", "--run", "run-1", "--format", "parquet", "--out", str(parquet),
                               "--store", str(path)])
    assert done.exit_code == 0, done.output
    assert pq.read_table(parquet).num_rows == len(rows)
    unknown = runner.invoke(cli, ["links", "--run", "nope", "--out", str(out), "--store", str(path)])
    assert unknown.exit_code == 2


def test_crm2_match_train_writes_estimated_m_and_u_into_a_copy_of_the_rules(duckdb_store, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sync.cli import cli

    out = tmp_path / "match.trained.yml"
    url = str(duckdb_store.engine.url).removeprefix("sqlite:///")
    done = CliRunner().invoke(cli, ["match", "train", "--rules", str(CONFIG), "--entity", "customer",
                                    "--out", str(out), "--random-pairs", "20000", "--store", url])
    assert done.exit_code == 0, done.output
    trained = load_match_config(out).rules_for("customer")
    original = load_match_config(CONFIG).rules_for("customer")
    assert trained.comparisons != original.comparisons  # the weights moved
    phone = trained.comparison("phone")
    same, different = phone.levels[0], phone.levels[-1]
    assert same.match_weight > 5 > 0 > different.match_weight  # the same number is strong evidence
    assert abs(sum(lv.m for lv in phone.levels) - 1) < 1e-3  # m of a comparison's levels adds up to one
    assert "# Match rules: how crm2 decides" in out.read_text(encoding="utf-8")  # comments kept
    assert trained.comparison("name").levels[0].m != original.comparison("name").levels[0].m
