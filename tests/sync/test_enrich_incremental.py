"""Incremental enrichment: an unchanged re-run re-scores nobody and leaves every score as it was;
a changed input re-scores its customer alone; rules, the as-of date or moved population cut-offs
re-score everyone; and the result is always what a full re-scoring would write."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sync.enrich import ScoringRules
from sync.enrich.rules import ThresholdSpec, TierSpec
from sync.enrich.store_io import enrich_store
from sync.store.schema import crosswalk, golden, staging
from sync.store.store import Store

AS_OF = date(2026, 11, 1)
STAMP = datetime(2026, 10, 1, tzinfo=UTC)


def stage(conn: sa.Connection, system: str, obj: str, sid: str, entity: str, data: dict[str, Any],
          golden_id: str | None = None, at: datetime | None = None) -> None:
    # the store stamps every write with its time (sync/store/marks.py relies on it): so do these
    at = at or datetime.now(UTC)
    ref = {"source_system": system, "source_object": obj, "source_id": sid}
    conn.execute(staging.insert().values(**ref, entity=entity, data=data, content_hash=f"h-{sid}", updated_at=at))
    conn.execute(crosswalk.insert().values(**ref, entity=entity, golden_id=golden_id, content_hash=f"h-{sid}",
                                           updated_at=at))


def restage(conn: sa.Connection, sid: str, data: dict[str, Any], content_hash: str) -> None:
    conn.execute(staging.update().where(staging.c.source_id == sid).values(data=data, content_hash=content_hash,
                                                                           updated_at=datetime.now(UTC)))


def order(customer: str, total: str) -> dict[str, Any]:
    return {"customer": customer, "ordered_at": "2026-09-01T10:00:00Z", "total": total, "currency": "EUR"}


def case(customer: str) -> dict[str, Any]:
    return {"customer": customer, "opened_at": "2026-10-20T08:00:00Z", "complaint": True, "priority": "high"}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "crm2.sqlite")
    with s.begin() as conn:
        for i in range(1, 7):
            conn.execute(golden.insert().values(golden_id=f"G{i}", entity="customer", data={"name": f"C {i}"},
                                                created_at=STAMP, updated_at=STAMP))
            stage(conn, "sales", "accounts", f"ACC-{i}", "customer",
                  {"name": f"C {i}", "created_at": "2023-01-15T00:00:00Z"}, golden_id=f"G{i}", at=STAMP)
            stage(conn, "sales", "orders", f"SO-{i}", "order", order(f"ACC-{i}", f"{i * 100}.00"), at=STAMP)
    return s


def golden_rows(store: Store) -> dict[str, tuple[Any, Any, Any]]:
    with store.engine.connect() as conn:
        return {r.golden_id: (r.data, r.run_id, r.updated_at) for r in conn.execute(sa.select(golden))}


def test_unchanged_rerun_rescores_nobody_and_changes_nothing(store: Store) -> None:
    first = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r1")
    assert (first.customers, first.rescored, first.why) == (6, 6, "first scoring")
    before = golden_rows(store)
    again = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r2")
    assert (again.customers, again.rescored, again.not_rescored) == (6, 0, 6)
    assert again.why == "nothing changed since the last scoring"
    assert (again.tiers, again.stages, again.forecast_total) == (first.tiers, first.stages, first.forecast_total)
    assert (again.written.updated, again.written.unchanged) == (0, 6)
    assert golden_rows(store) == before


def test_a_changed_input_rescores_its_customer_alone(store: Store) -> None:
    enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r1")
    with store.begin() as conn:  # a complaint for customer 2: its churn risk moves, nobody's revenue does
        stage(conn, "sales", "cases", "CS-1", "service_case", case("ACC-2"))
    run = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r2")
    assert (run.customers, run.rescored, run.why) == (6, 1, "inputs changed")
    rows = golden_rows(store)
    assert {gid for gid, (_, run_id, _) in rows.items() if run_id == "r2"} == {"G2"}
    # exactly what scoring everyone from scratch writes
    full = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r3", incremental=False)
    assert full.rescored == 6 and full.written.updated == 0
    assert (full.tiers, full.forecast_total) == (run.tiers, run.forecast_total)


def test_a_changed_activity_row_and_a_deleted_customer_follow(store: Store) -> None:
    enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r1")
    with store.begin() as conn:  # the order moves to another customer: both are affected
        restage(conn, "SO-6", order("ACC-5", "600.00"), "h-SO-6-moved")
    run = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r2")
    # revenue moved between customers, so the tier cut-offs may move: then everyone is re-scored
    assert run.rescored in (2, 6) and run.why in ("inputs changed", "population cut-offs moved")
    assert enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r3", incremental=False).written.updated == 0
    with store.begin() as conn:
        conn.execute(golden.update().where(golden.c.golden_id == "G1").values(merged_into="G2",
                                                                             updated_at=datetime.now(UTC)))
    run = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r4")
    assert run.customers == 5 and run.rescored >= 1  # G2 now holds G1's customer record
    assert enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r5").rescored == 0


def test_rules_as_of_date_and_population_rescore_everyone(store: Store) -> None:
    enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r1")
    thresholds = ScoringRules(tier=TierSpec(method="thresholds", thresholds=ThresholdSpec(A=Decimal(500),
                                                                                          B=Decimal(200))))
    run = enrich_store(store.engine, thresholds, AS_OF, run_id="r2")
    assert (run.rescored, run.why) == (6, "rules, scoring code or as-of date changed")
    assert run.tiers == {"A": 2, "B": 3, "C": 1}
    run = enrich_store(store.engine, thresholds, date(2026, 11, 2), run_id="r3")
    assert (run.rescored, run.why) == (6, "rules, scoring code or as-of date changed")
    with store.begin() as conn:  # customer 1's revenue grows past everyone's: the Pareto cut-offs move
        restage(conn, "SO-1", order("ACC-1", "90000.00"), "h-SO-1-big")
    enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r4")
    with store.begin() as conn:
        restage(conn, "SO-1", order("ACC-1", "100.00"), "h-SO-1-small")
    run = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r5")
    assert (run.rescored, run.why) == (6, "population cut-offs moved")


def test_an_unchanged_rerun_reads_no_record(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.enrich.store_io import StoreActivity

    enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r1")

    def refused(self: StoreActivity) -> dict[str, str]:
        raise AssertionError("the store's change mark did not move: no record needs reading")

    first = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r2")  # saves the totals
    monkeypatch.setattr(StoreActivity, "digests", refused)
    # not each customer's kept state either: the summary's totals are kept with the run's marks
    monkeypatch.setattr("sync.enrich.store_io._load_kept", lambda engine: refused(None))  # type: ignore[arg-type]
    again = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r3")
    assert (again.customers, again.rescored, again.why) == (6, 0, "nothing changed since the last scoring")
    assert (again.tiers, again.stages, again.forecast_total) == (first.tiers, first.stages, first.forecast_total)


def test_an_erasure_that_keeps_the_change_times_is_still_seen(store: Store) -> None:
    from sync.store.schema import audit_log

    enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r1")
    with store.begin() as conn:  # erasure rewrites a row in place, leaving updated_at, and audits it
        conn.execute(staging.update().where(staging.c.source_id == "SO-3").values(
            data=order("ACC-3", "0.00"), content_hash="h-SO-3-erased"))
        conn.execute(audit_log.insert().values(at=datetime.now(UTC), action="erase", system="sales",
                                               object="orders", record_id="SO-3", field=None))
    run = enrich_store(store.engine, ScoringRules(), AS_OF, run_id="r2")
    assert run.rescored >= 1 and "G3" in {gid for gid, (_, run_id, _) in golden_rows(store).items()
                                          if run_id == "r2"}
