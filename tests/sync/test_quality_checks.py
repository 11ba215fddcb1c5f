"""Quality checks: each severity does what it says, and no failing check loses a record."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sync.quality import latest_results, load_checks, run_checks
from sync.quality.spec import ChecksConfig
from sync.resolve import load_match_config, resolve
from sync.store.schema import crosswalk, golden, quarantine, staging
from sync.store.store import StagedRecord, Store
from sync.yamlconf import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def checks(*items: dict[str, Any]) -> ChecksConfig:
    return ChecksConfig.model_validate({"version": 1, "checks": list(items)})


def customer(source_id: str, **data: Any) -> StagedRecord:
    return StagedRecord("finance", "customers", source_id, "customer", data)


def invoice(source_id: str, **data: Any) -> StagedRecord:
    return StagedRecord("finance", "invoices", source_id, "invoice", data)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "s.sqlite")
    with s.begin() as conn:
        s.stage(conn, [customer("C1", name="Acme", email="ap@acme.com", tax_id="91350100M000100Y43"),
                       customer("C2", name="", email="not-an-email", tax_id="91350100M000100Y44"),
                       customer("C3", name="Globex", email="ap@globex.com", tax_id="91350100M000100Y43"),
                       invoice("I1", customer="C1", amount="100.00", updated_at="2026-10-30T00:00:00Z"),
                       invoice("I2", customer="C404", amount="-5.00", updated_at="2026-10-01T00:00:00Z")], None)
    return s


def statuses(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return {r.source_id: r.status for r in conn.execute(sa.select(crosswalk.c.source_id, crosswalk.c.status))}


def staged_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(staging)).scalar_one()


def test_warn_records_the_result_and_changes_nothing(store: Store) -> None:
    run = run_checks(store, "r1", checks(
        {"name": "email", "entity": "customer", "type": "format", "field": "email", "format": "email"},
        {"name": "uscc", "entity": "customer", "type": "format", "field": "tax_id", "format": "uscc"},
        {"name": "tax_unique", "entity": "customer", "type": "unique", "field": "tax_id"}))
    by_name = {r.check: r for r in run.results}
    assert (by_name["email"].failing, by_name["email"].total) == (1, 3)
    assert by_name["email"].details["sample"] == ["finance/customers/C2"]
    assert by_name["uscc"].failing == 1
    assert by_name["tax_unique"].failing == 2  # C1 and C3 share a code
    assert not run.failed and run.quarantined == 0
    assert set(statuses(store).values()) == {"loaded"}
    assert [r.check for r in latest_results(store)] == ["email", "uscc", "tax_unique"]


def test_quarantine_sets_records_aside_with_a_reason_and_releases_them(store: Store) -> None:
    config = checks({"name": "name_required", "entity": "customer", "type": "required", "fields": ["name"],
                     "severity": "quarantine"},
                    {"name": "invoice_customer", "entity": "invoice", "type": "relationship", "field": "customer",
                     "to": "customer", "severity": "quarantine"})
    run = run_checks(store, "r1", config)
    assert run.quarantined == 2 and not run.failed
    assert statuses(store)["C2"] == statuses(store)["I2"] == "quarantined"
    assert staged_count(store) == 5  # nothing lost
    with store.engine.connect() as conn:
        reasons = {r.source_id: r.reason for r in conn.execute(sa.select(quarantine))}
    assert reasons == {"C2": "name_required: missing name",
                       "I2": "invoice_customer: customer refers to a missing customer"}
    # resolution leaves the quarantined record out of golden records
    resolve(store, load_match_config(ROOT / "config" / "match.yml"), "customer")
    assert statuses(store)["C2"] == "quarantined"
    with store.engine.connect() as conn:
        sources = [s["id"] for d in conn.execute(sa.select(golden.c.data)).scalars() for s in d["sources"]]
    assert "C2" not in sources and {"C1", "C3"} <= set(sources)
    # running again does not quarantine twice; fixing the record releases it
    assert run_checks(store, "r2", config).quarantined == 0
    with store.begin() as conn:
        store.stage(conn, [customer("C2", name="Initech", email="not-an-email")], None)
    again = run_checks(store, "r3", config)
    assert again.released == 1 and statuses(store)["C2"] == "loaded"
    resolve(store, load_match_config(ROOT / "config" / "match.yml"), "customer")
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(crosswalk).where(crosswalk.c.source_id == "C2")).one()
    assert row.golden_id is not None


def test_fail_stops_before_anything_changes(store: Store) -> None:
    config = checks({"name": "name_required", "entity": "customer", "type": "required", "fields": ["name"],
                     "severity": "fail"},
                    {"name": "invoice_customer", "entity": "invoice", "type": "relationship", "field": "customer",
                     "to": "customer", "severity": "quarantine"})
    run = run_checks(store, "r1", config)
    assert run.failed
    # a failed run quarantines nothing either: the run stops as a whole
    assert set(statuses(store).values()) == {"loaded"} and staged_count(store) == 5
    assert {r.check: r.passed for r in latest_results(store, "r1")} == {"name_required": False,
                                                                        "invoice_customer": False}


def test_range_accepted_values_and_regex(store: Store) -> None:
    run = run_checks(store, "r1", checks(
        {"name": "amount", "entity": "invoice", "type": "range", "field": "amount", "min": 0},
        {"name": "names", "entity": "customer", "type": "accepted_values", "field": "name", "values": ["Acme"]},
        {"name": "ids", "entity": "customer", "type": "regex", "field": "tax_id", "pattern": "^91"}))
    assert [(r.check, r.failing) for r in run.results] == [("amount", 1), ("names", 1), ("ids", 0)]


def test_freshness_and_row_count_change(store: Store) -> None:
    config = checks({"name": "fresh", "entity": "invoice", "type": "freshness", "field": "updated_at",
                     "max_age_hours": 72},
                    {"name": "rows", "entity": "customer", "type": "row_count_change", "max_change_pct": 20})
    at = datetime(2026, 11, 1, tzinfo=UTC)
    first = {r.check: r for r in run_checks(store, "r1", config, at=at).results}
    assert first["fresh"].passed and first["fresh"].details["age_hours"] == 48
    assert first["rows"].passed and first["rows"].total == 3
    with store.begin() as conn:
        store.stage(conn, [customer(f"N{i}", name=f"New {i}") for i in range(3)], None)
    later = {r.check: r for r in run_checks(store, "r2", config, at=datetime(2026, 11, 9, tzinfo=UTC)).results}
    assert not later["fresh"].passed
    assert not later["rows"].passed and later["rows"].details["change_pct"] == 100.0


def test_shipped_checks_file_loads_and_bad_severity_is_pointed_at(tmp_path: Path) -> None:
    assert load_checks(ROOT / "config" / "checks.yml").checks
    path = tmp_path / "checks.yml"
    path.write_text("version: 1\nchecks:\n  - name: fresh\n    entity: invoice\n    type: freshness\n"
                    "    max_age_hours: 1\n    severity: quarantine\n")
    with pytest.raises(ConfigError, match=r"checks.yml:7:15: a freshness check cannot quarantine"):
        load_checks(path)
