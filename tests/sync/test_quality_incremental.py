"""Incremental checks: a re-run judges only records whose staged content changed, carries the
other verdicts over, follows cross-record effects (unique, relationship), and re-checks
everything when a check's rule changed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sync.quality import latest_results, run_checks
from sync.quality.runner import CheckRun
from sync.quality.spec import ChecksConfig
from sync.store.schema import crosswalk, incremental_state
from sync.store.store import StagedRecord, Store

CHECKS: list[dict[str, Any]] = [
    {"name": "email", "entity": "customer", "type": "format", "field": "email", "format": "email"},
    {"name": "name_required", "entity": "customer", "type": "required", "fields": ["name"],
     "severity": "quarantine"},
    {"name": "tax_unique", "entity": "customer", "type": "unique", "field": "tax_id"},
    {"name": "invoice_customer", "entity": "invoice", "type": "relationship", "field": "customer", "to": "customer",
     "severity": "quarantine"},
    {"name": "fresh", "entity": "invoice", "type": "freshness", "field": "updated_at", "max_age_hours": 100000},
    {"name": "rows", "entity": "customer", "type": "row_count_change", "max_change_pct": 90},
]


def checks(items: list[dict[str, Any]] = CHECKS) -> ChecksConfig:
    return ChecksConfig.model_validate({"version": 1, "checks": items})


def customer(source_id: str, **data: Any) -> StagedRecord:
    return StagedRecord("finance", "customers", source_id, "customer", data)


def invoice(source_id: str, **data: Any) -> StagedRecord:
    return StagedRecord("finance", "invoices", source_id, "invoice", data)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "s.sqlite")
    records = [customer(f"C{i}", name=f"Customer {i}", email=f"ap@c{i}.com", tax_id=f"T{i}") for i in range(20)]
    records += [customer("C20", name="", email="broken", tax_id="T1"),
                invoice("I1", customer="C1", amount="100.00", updated_at="2026-10-30T00:00:00Z"),
                invoice("I2", customer="C404", amount="5.00", updated_at="2026-10-01T00:00:00Z")]
    with s.begin() as conn:
        s.stage(conn, records, None)
    return s


def stage(store: Store, *records: StagedRecord) -> None:
    with store.begin() as conn:
        store.stage(conn, list(records), None)


def verdicts(run: CheckRun) -> dict[str, tuple[bool, int, int, dict[str, Any]]]:
    """What a run concluded, per check, without how much work it took (a row count's details
    name the previous run's count, which differs from run to run by design)."""
    return {r.check: (r.passed, r.failing, r.total, {} if r.check == "rows" else r.details) for r in run.results}


def evaluated(run: CheckRun) -> dict[str, int]:
    return {r.check: r.evaluated for r in run.results}


def statuses(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return {r.source_id: r.status for r in conn.execute(sa.select(crosswalk.c.source_id, crosswalk.c.status))}


def test_unchanged_rerun_judges_nothing_and_concludes_the_same(store: Store) -> None:
    first = run_checks(store, "r1", checks())
    assert evaluated(first) == {"email": 21, "name_required": 21, "tax_unique": 21, "invoice_customer": 2,
                                "fresh": 2, "rows": 0}
    assert first.quarantined == 2  # C20 (no name) and I2 (unknown customer)
    again = run_checks(store, "r2", checks())
    assert again.evaluated == 0 and again.carried_over == sum(r.total for r in again.results if r.check != "rows")
    assert verdicts(again) == verdicts(first)
    assert again.quarantined == again.released == 0
    assert statuses(store)["C20"] == statuses(store)["I2"] == "quarantined"


def test_a_changed_record_is_judged_alone_and_its_effects_follow(store: Store) -> None:
    run_checks(store, "r1", checks())
    # C20 gets a name, a valid email and its own tax id: C1 is no longer a duplicate either
    stage(store, customer("C20", name="Fixed", email="ap@fixed.com", tax_id="T20"))
    run = run_checks(store, "r2", checks())
    assert evaluated(run) == {"email": 1, "name_required": 1, "tax_unique": 1, "invoice_customer": 0,
                              "fresh": 0, "rows": 0}
    by = {r.check: r for r in run.results}
    assert by["email"].passed and by["name_required"].passed and by["tax_unique"].passed
    assert run.released == 1 and statuses(store)["C20"] == "loaded"
    # a new customer C404 makes invoice I2's reference valid without judging the invoice again
    stage(store, customer("C404", name="Late", email="ap@late.com", tax_id="T404"))
    run = run_checks(store, "r3", checks())
    assert evaluated(run)["invoice_customer"] == 0 and evaluated(run)["email"] == 1
    assert {r.check: r.passed for r in run.results}["invoice_customer"]
    assert run.released == 1 and statuses(store)["I2"] == "loaded"


def test_results_match_a_full_recheck_after_changes_and_deletes(store: Store, tmp_path: Path) -> None:
    run_checks(store, "r1", checks())
    stage(store, customer("C3", name="", email="x", tax_id="T4"),
          StagedRecord("finance", "customers", "C1", "customer", {}, deleted=True))
    incremental = run_checks(store, "r2", checks())
    assert evaluated(incremental)["email"] == 1  # only C3: the deleted C1 just leaves the population
    with store.begin() as conn:  # forget everything: the next run judges every record from scratch
        conn.execute(incremental_state.delete())
    full = run_checks(store, "r3", checks())
    assert full.evaluated > incremental.evaluated
    assert verdicts(full) == verdicts(incremental)
    by = {r.check: r for r in incremental.results}
    assert by["tax_unique"].failing == 2 and by["invoice_customer"].failing == 2  # C3/C4 share T4; I1 lost C1


def test_a_changed_rule_rechecks_everything(store: Store) -> None:
    run_checks(store, "r1", checks())
    changed = [dict(c) for c in CHECKS]
    changed[0] = {**changed[0], "field": "name", "format": "country"}  # the email check now looks elsewhere
    changed[1] = {**changed[1], "severity": "warn"}  # severity alone does not change a verdict
    run = run_checks(store, "r2", checks(changed))
    assert evaluated(run) == {"email": 21, "name_required": 0, "tax_unique": 0, "invoice_customer": 0,
                              "fresh": 0, "rows": 0}
    assert {r.check: r.failing for r in run.results}["email"] == 20  # "Customer 3" is no country code


def records_read(statements: list[str]) -> list[str]:
    """Statements that read staged records (their data or content hashes), not just the mark."""
    return [s for s in statements if "staging.data" in s or "staging.content_hash" in s]


def test_nothing_staged_since_reads_no_record_but_the_clock_still_judges_freshness(store: Store) -> None:
    fresh_for_a_day = [*CHECKS[:4], {**CHECKS[4], "max_age_hours": 24}, CHECKS[5]]
    first = run_checks(store, "r1", checks(fresh_for_a_day), at=datetime(2026, 10, 30, 12, tzinfo=UTC))
    seen: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda _c, _k, statement, *_: seen.append(statement))
    later = run_checks(store, "r2", checks(fresh_for_a_day), at=datetime(2026, 11, 2, tzinfo=UTC))
    assert not records_read(seen)  # the staged mark did not move: no record read
    by = {r.check: r for r in later.results}
    assert {r.check: r.passed for r in first.results}["fresh"] and not by["fresh"].passed
    assert by["fresh"].details["age_hours"] == 72.0
    assert {k: v for k, v in verdicts(later).items() if k != "fresh"} == \
        {k: v for k, v in verdicts(first).items() if k != "fresh"}
    assert later.evaluated == 0 and by["rows"].details["previous"] == by["rows"].total == 21
    assert [r.check for r in latest_results(store, "r2")] == [r.check for r in first.results]


def test_links_written_by_resolve_do_not_make_checks_read_again(store: Store) -> None:
    run_checks(store, "r1", checks())
    with store.engine.begin() as conn:  # what resolve does to the crosswalk: golden ids, merged rows
        conn.execute(crosswalk.update().where(crosswalk.c.status == "loaded")
                     .values(golden_id="G-1", updated_at=datetime.now(UTC)))
    seen: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda _c, _k, statement, *_: seen.append(statement))
    run_checks(store, "r2", checks())
    assert not records_read(seen)
    stage(store, customer("C21", name="New", email="ap@new.com", tax_id="T21"))  # staged: judged again
    run = run_checks(store, "r3", checks())
    assert evaluated(run)["email"] == 1 and records_read(seen)
