"""The writeback end to end: ``tap-crm2 | target-crm2-salesforce`` as real processes against the
Salesforce stand-in over HTTPS, on a store filled by staging, resolve and enrich.

First run writes tiers and scores; a rerun makes no write call; a changed invoice changes only
that customer's Account, in one call; a dry run lists before -> after and writes nothing;
update-only never creates, upsert does (once); matching by external id; every write audited.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from writeback_support import (
    CUSTOMERS,
    account_id,
    assert_accounts_match,
    audit_rows,
    customer_records,
    fill_store,
    golden_ids,
    golden_scores,
    invoice,
    queue_rows,
    resolve_and_enrich,
    run_pipe,
    stage,
    start_org,
    state_rows,
    target_config,
)

from sync.store import StagedRecord, Store


@pytest.fixture
def setup(tmp_path: Path):
    db = tmp_path / "store.sqlite"
    fill_store(db, tmp_path, CUSTOMERS)
    org = start_org(tmp_path, CUSTOMERS)
    yield db, tmp_path, org
    org.sf.stop()


def test_first_run_writes_scores_and_a_rerun_makes_no_write_call(setup):
    db, tmp, org = setup
    cfg = target_config(org, db, tmp, run_id="run-1")
    first = run_pipe(db, tmp, cfg)
    assert (first.tap_exit, first.target_exit) == (0, 0), first.stderr
    assert_accounts_match(db, org)
    assert first.counts["written"] == CUSTOMERS and first.counts["collections_calls"] == 1
    assert org.writes() == 1
    assert sorted(org.watch.applied.values()) == [1] * CUSTOMERS

    # every write audited: one row per record and field, old -> new, with the run id
    audits = audit_rows(db)
    assert {a["run_id"] for a in audits} == {"run-1"}
    assert len(audits) == CUSTOMERS * 8
    tier = next(a for a in audits if a["record_id"] == account_id(0) and a["field"] == "CRM2_Tier__c")
    assert tier["old"] is None and tier["new"] == org.accounts()[account_id(0)]["CRM2_Tier__c"]

    # incremental rerun: the tap has nothing new
    again = run_pipe(db, tmp, target_config(org, db, tmp, run_id="run-2"))
    assert again.target_exit == 0, again.stderr
    assert org.writes() == 1 and again.summary["api_calls"] == 0

    # full re-read: every record arrives again, the diff finds nothing to send, not even a read
    full = run_pipe(db, tmp, target_config(org, db, tmp, run_id="run-3"), full=True)
    assert full.target_exit == 0, full.stderr
    assert full.counts["records"] == CUSTOMERS and full.counts["unchanged"] == CUSTOMERS
    assert org.writes() == 1 and full.summary["api_calls"] == 0 and full.summary["auth_calls"] == 0
    assert len(audit_rows(db)) == CUSTOMERS * 8


def test_a_changed_invoice_changes_only_that_account_in_one_call(setup):
    db, tmp, org = setup
    cfg = target_config(org, db, tmp)
    assert run_pipe(db, tmp, cfg).target_exit == 0
    before = org.accounts()
    writes = org.writes()

    with Store.open(db) as store:  # customer 3's newest invoice is now long overdue
        stage(store, [invoice(3, 0, amount=customer_records(3)[2].data["amount"], overdue=True)])
        resolve_and_enrich(store, tmp)
    run = run_pipe(db, tmp, cfg)
    assert run.target_exit == 0, run.stderr
    after = org.accounts()
    assert org.writes() == writes + 1
    changed = {sid for sid in after if after[sid]["SystemModstamp"] != before[sid]["SystemModstamp"]}
    assert changed == {account_id(3)}
    assert after[account_id(3)]["CRM2_Churn_Risk__c"] > before[account_id(3)]["CRM2_Churn_Risk__c"]
    assert "overdue_invoices" in after[account_id(3)]["CRM2_Churn_Reasons__c"]
    assert_accounts_match(db, org)
    # an update sends only the fields that changed
    assert run.counts["changed"] == 1
    fields = {a["field"] for a in audit_rows(db) if a["record_id"] == account_id(3) and a["old"] is not None}
    assert "CRM2_Churn_Risk__c" in fields and "CRM2_Tier__c" not in fields


def test_dry_run_lists_before_and_after_and_changes_nothing(setup):
    db, tmp, org = setup
    assert run_pipe(db, tmp, target_config(org, db, tmp)).target_exit == 0
    with Store.open(db) as store:
        stage(store, [invoice(5, 0, amount=customer_records(5)[2].data["amount"], overdue=True)])
        resolve_and_enrich(store, tmp)
        bookmark = store.get_bookmark("writeback")
    state, writes, calls = state_rows(db), org.writes(), org.sf.api_calls()
    old = org.accounts()[account_id(5)]["CRM2_Churn_Risk__c"]

    dry = run_pipe(db, tmp, target_config(org, db, tmp), args=("--dry-run",))
    assert dry.target_exit == 0, dry.stderr
    new = golden_scores(db)[account_id(5)]["scores"]["churn_risk"]["value"]
    assert f"Account {account_id(5)} CRM2_Churn_Risk__c: {old} -> {new}" in dry.stderr
    assert "nothing was written" in dry.stderr
    assert org.writes() == writes
    assert org.sf.api_calls()["rest"] == calls["rest"] + 1  # one query for the current values
    assert state_rows(db) == state and queue_rows(db) == []
    with Store.open(db) as store:
        assert store.get_bookmark("writeback") == bookmark
    assert f"Account,{account_id(5)},CRM2_Churn_Risk__c,{old},{new}" in (tmp / "out" / "changes.csv").read_text()

    real = run_pipe(db, tmp, target_config(org, db, tmp))  # the dry run left the change to send
    assert real.target_exit == 0 and real.counts["written"] == 1
    assert org.accounts()[account_id(5)]["CRM2_Churn_Risk__c"] == new


def _finance_only_customer(db: Path, tmp: Path) -> None:
    with Store.open(db) as store:
        stage(store, [StagedRecord("finance", "customers", "C-NEW", "customer",
                                   {"name": "Qwertzuiop Maschinen AG", "tax_id": "CHE109322551", "country": "CH",
                                    "created_at": "2023-05-01T00:00:00Z"}),
                      StagedRecord("finance", "invoices", "INV-NEW", "invoice",
                                   {"customer": "C-NEW", "issued_on": "2026-10-01", "due_on": "2026-10-15",
                                    "paid_on": "2026-10-10", "amount": "4200.00", "currency": "EUR",
                                    "status": "paid"})])
        resolve_and_enrich(store, tmp)


def test_update_only_never_creates_and_upsert_creates_once(setup):
    db, tmp, org = setup
    _finance_only_customer(db, tmp)
    update_only = run_pipe(db, tmp, target_config(org, db, tmp, mode="update_only"))
    assert update_only.target_exit == 0, update_only.stderr
    assert update_only.counts["no_match"] == 1 and update_only.counts["created"] == 0
    assert len(org.accounts()) == CUSTOMERS

    cfg = target_config(org, db, tmp, mode="upsert")
    upsert = run_pipe(db, tmp, cfg, full=True)
    assert upsert.target_exit == 0, upsert.stderr
    assert upsert.counts["created"] == 1 and upsert.counts["written"] == 1
    created = [a for a in org.accounts().values() if a["CRM2_Golden_Id__c"]]
    assert len(created) == 1 and created[0]["CRM2_Tier__c"] in ("A", "B", "C")
    assert created[0]["CRM2_Scored_At__c"].startswith("2026-11-01")  # upsert sends every mapped field

    again = run_pipe(db, tmp, cfg, full=True)
    assert again.target_exit == 0 and again.counts["written"] == 0
    assert len(org.accounts()) == CUSTOMERS + 1


def test_match_by_external_id(tmp_path):
    db = tmp_path / "store.sqlite"
    fill_store(db, tmp_path, CUSTOMERS)
    # the org already carries crm2's golden ids (e.g. from a migration): match on them
    org = start_org(tmp_path, CUSTOMERS, golden_ids=golden_ids(db))
    try:
        cfg = target_config(org, db, tmp_path, match="external_id", mode="update_only")
        first = run_pipe(db, tmp_path, cfg)
        assert first.target_exit == 0, first.stderr
        assert first.counts["written"] == CUSTOMERS
        # one query found the Ids by external id, one Collections call wrote them
        assert first.summary["api_calls"] == 2
        assert_accounts_match(db, org)
        assert {r["key_field"] for r in state_rows(db).values()} == {"CRM2_Golden_Id__c"}

        upsert = run_pipe(db, tmp_path, target_config(org, db, tmp_path, match="external_id", mode="upsert"),
                          full=True)
        assert upsert.target_exit == 0 and upsert.counts["written"] == 0 and upsert.summary["api_calls"] == 0
        assert sorted(org.watch.applied.values()) == [1] * CUSTOMERS
    finally:
        org.sf.stop()


def test_bulk_api_for_a_large_change_set(setup):
    db, tmp, org = setup
    run = run_pipe(db, tmp, target_config(org, db, tmp, bulk_threshold=5))
    assert run.target_exit == 0, run.stderr
    assert run.counts["bulk_jobs"] == 1 and run.counts["collections_calls"] == 0
    assert run.summary["api_calls"] <= 5  # create, upload, UploadComplete, poll(s)
    assert_accounts_match(db, org)
    assert len(audit_rows(db)) == CUSTOMERS * 8
    assert sorted(org.watch.applied.values()) == [1] * CUSTOMERS


@pytest.mark.postgres
def test_on_a_postgresql_store(tmp_path, fresh_postgres_db):
    db = fresh_postgres_db
    fill_store(db, tmp_path, CUSTOMERS)
    org = start_org(tmp_path, CUSTOMERS)
    try:
        first = run_pipe(db, tmp_path, target_config(org, db, tmp_path))
        assert first.target_exit == 0, first.stderr
        assert_accounts_match(db, org)
        again = run_pipe(db, tmp_path, target_config(org, db, tmp_path), full=True)
        assert again.target_exit == 0 and again.counts["unchanged"] == CUSTOMERS and org.writes() == 1
        assert len(audit_rows(db)) == CUSTOMERS * 8
    finally:
        org.sf.stop()
