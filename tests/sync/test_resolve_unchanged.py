"""An unchanged resolve stage reads nothing; any record, link or decision that moved makes it work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_resolve_golden import CONFIG, HUAWEI, stage

from sync.resolve import load_match_config, resolve_all, unmerge
from sync.resolve.spec import MatchConfig
from sync.store.schema import crosswalk
from sync.store.store import Store


@pytest.fixture(scope="module")
def config() -> MatchConfig:
    return load_match_config(CONFIG)


def golden_of(store: Store, ref: str) -> str | None:
    system, obj, source_id = ref.split("/")
    with store.engine.connect() as conn:
        return conn.execute(sa.select(crosswalk.c.golden_id).where(
            crosswalk.c.source_system == system, crosswalk.c.source_object == obj,
            crosswalk.c.source_id == source_id)).scalar()


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store runs inside the block."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)
    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)


def test_unchanged_rerun_reads_no_record_and_reports_the_same_sizes(tmp_path: Path, config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    stage(store, HUAWEI)
    first = resolve_all(store, config, "run-1")
    with statements(store) as seen:
        again = resolve_all(store, config, "run-2")
    assert [(r.entity, r.records, r.golden) for r in again] == [(r.entity, r.records, r.golden) for r in first]
    assert all(r.changed == 0 and r.pairs_scored == 0 for r in again)
    assert not [s for s in seen if "match_records" in s or "match_pairs" in s or "FROM staging " in s]


def test_a_new_record_a_decision_or_new_rules_are_each_resolved(tmp_path: Path, config: MatchConfig) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    stage(store, HUAWEI[:2])
    resolve_all(store, config, "run-1")
    huawei = golden_of(store, "finance/customers/C001")

    stage(store, HUAWEI[2:])  # staged after the last resolve: the next one links it
    [result, *_] = resolve_all(store, config, "run-2")
    assert result.changed == 1 and golden_of(store, "sales/accounts/ACC-1") == huawei

    unmerge(store, "sales/accounts/ACC-1", reason="another branch")  # a steward, outside any run
    resolve_all(store, config, "run-3")
    assert golden_of(store, "sales/accounts/ACC-1") not in (None, huawei)

    edited = config.model_copy(deep=True)
    edited.rules_for("customer").survivorship.ignore.append("website")
    with statements(store) as seen:
        resolve_all(store, edited, "run-4")
    assert any("match_records" in s for s in seen)  # same records, new rules: not skipped


def test_an_unchanged_rerun_on_spark_starts_no_session(tmp_path: Path, config: MatchConfig) -> None:
    from sync.orchestrate.config import ResolveToggle
    from sync.orchestrate.stages import resolve as resolve_stage
    from sync.resolve import spark

    store = Store.open(tmp_path / "s.sqlite")
    stage(store, HUAWEI)
    resolve_all(store, config, "run-1")
    assert spark._session is None
    report = resolve_stage(store, config, "run-2", ResolveToggle(engine="spark"))
    assert report.counts["customer_golden"] == 1 and report.counts["customer_changed"] == 0
    assert spark._session is None  # nothing to score: no JVM was started
