"""The writeback on a bad day: rows that fail to lock, the daily API limit or our budget running out
mid-run, sessions expiring in the middle of a Bulk job, and the target killed (SIGKILL) at
several points. Whatever happens, a rerun leaves every Account with the right values and the
stand-in applies each record's change exactly once.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from writeback_support import (
    CUSTOMERS,
    account_id,
    assert_accounts_match,
    audit_rows,
    fill_store,
    queue_rows,
    run_pipe,
    start_org,
    target_config,
)

from connectors.salesforce.standin import Faults
from connectors.salesforce.standin.bulk import IngestJob
from sync.store import Store
from sync.store.schema import writeback_batches

EXIT_REJECTED = 3
EXIT_STOPPED_EARLY = 75


@pytest.fixture
def setup(tmp_path: Path):
    db = tmp_path / "store.sqlite"
    fill_store(db, tmp_path, CUSTOMERS)
    org = start_org(tmp_path, CUSTOMERS)
    yield db, tmp_path, org
    org.sf.stop()


def pending_batches(db: Path) -> int:
    import sqlalchemy as sa

    with Store.open(db) as store, store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(writeback_batches)).scalar_one())


def assert_done_once(db: Path, org) -> None:
    """Every Account right, each changed exactly once, one audit row per field, nothing left over."""
    assert_accounts_match(db, org)
    assert sorted(org.watch.applied.values()) == [1] * CUSTOMERS
    audits = audit_rows(db)
    assert len(audits) == CUSTOMERS * 8
    assert len({(a["record_id"], a["field"]) for a in audits}) == CUSTOMERS * 8
    assert queue_rows(db) == [] and pending_batches(db) == 0


def test_lock_errors_are_recorded_and_only_those_rows_are_retried(setup):
    db, tmp, org = setup
    org.sf.set_faults(Faults(lock_row_fraction=0.4, seed=3))
    first = run_pipe(db, tmp, target_config(org, db, tmp))
    assert first.target_exit == EXIT_REJECTED, first.stderr
    rejected = first.counts["rejected"]
    assert 0 < rejected < CUSTOMERS and first.counts["written"] == CUSTOMERS - rejected
    assert first.counts["collections_calls"] == 1  # one bad row never aborts the batch
    with (tmp / "out" / "errors.csv").open() as f:
        errors = list(csv.DictReader(f))
    assert len(errors) == rejected and {e["error_code"] for e in errors} == {"UNABLE_TO_LOCK_ROW"}
    queued = queue_rows(db)
    assert sorted(q["key_value"] for q in queued) == sorted(e["record_id"] for e in errors)
    assert {(q["reason"], q["attempts"]) for q in queued} == {("rejected", 1)}
    accounts = org.accounts()
    assert {sid for sid, a in accounts.items() if a["CRM2_Tier__c"] is None} == {e["record_id"] for e in errors}

    org.sf.set_faults(None)
    writes = org.writes()
    second = run_pipe(db, tmp, target_config(org, db, tmp))  # the tap has nothing new: only the queue
    assert second.target_exit == 0, second.stderr
    assert second.counts["records"] == 0 and second.counts["retried"] == rejected
    assert second.counts["written"] == rejected and org.writes() == writes + 1
    assert_done_once(db, org)


def test_daily_limit_exhausted_mid_run_stops_cleanly_and_a_rerun_completes(setup):
    db, tmp, org = setup
    cfg = target_config(org, db, tmp, collection_size=4)  # three calls for twelve records
    # the token request and the first write get through; the second write meets 403
    org.sf.set_faults(Faults(limit_exhausted_after=org.sf.api_calls_total() + 2))
    first = run_pipe(db, tmp, cfg)
    assert first.target_exit == EXIT_STOPPED_EARLY, first.stderr
    assert "REQUEST_LIMIT_EXCEEDED" in first.stderr
    assert first.counts["written"] == 4 and first.counts["deferred"] == 8
    assert len(queue_rows(db)) == 8 and pending_batches(db) == 0
    assert sum(1 for a in org.accounts().values() if a["CRM2_Tier__c"]) == 4

    org.sf.set_faults(None)
    second = run_pipe(db, tmp, cfg)
    assert second.target_exit == 0, second.stderr
    assert second.counts["written"] == 8
    assert_done_once(db, org)


def test_api_budget_cap_stops_before_the_org_limit(setup):
    db, tmp, org = setup
    org.sf.meter.daily_limit = 4  # each write reports usage n/4; the cap is half of it
    cfg = target_config(org, db, tmp, collection_size=4, api_budget_pct=50)
    first = run_pipe(db, tmp, cfg)
    assert first.target_exit == EXIT_STOPPED_EARLY, first.stderr
    assert "budget" in first.stderr.lower()
    assert first.counts["written"] == 8 and first.counts["deferred"] == 4
    assert first.summary["api_calls"] == 2  # the third call was never made

    org.sf.meter.daily_limit = 100_000
    second = run_pipe(db, tmp, cfg)
    assert second.target_exit == 0, second.stderr
    assert_done_once(db, org)


def test_session_expiry_in_the_middle_of_a_bulk_job_keeps_polling_the_same_job(setup):
    db, tmp, org = setup
    org.sf.set_faults(Faults(session_expiry_every=2))
    run = run_pipe(db, tmp, target_config(org, db, tmp, bulk_threshold=1))
    assert run.target_exit == 0, run.stderr
    assert run.counts["bulk_jobs"] == 1 and run.summary["auth_calls"] >= 3
    assert len(org.sf.bulk.list_jobs(IngestJob)["records"]) == 1  # re-authenticated, never re-created
    assert_done_once(db, org)


def test_a_write_whose_answer_is_lost_is_read_back_not_blindly_resent(setup):
    db, tmp, org = setup
    # requests: token, write 1, write 2 (dropped), read-back, write 2 again, write 3 (dropped), ...
    org.sf.set_faults(Faults(drop_connection_every=3))
    run = run_pipe(db, tmp, target_config(org, db, tmp, collection_size=4))
    assert run.target_exit == 0, run.stderr
    assert "reading them back" in run.stderr
    assert run.counts["collections_calls"] == 5 and run.counts["written"] == CUSTOMERS
    assert_done_once(db, org)


KILL_POINTS = [
    # (target settings, where to die, records the rerun finds already applied by the dead run's batch)
    pytest.param({}, "before_send:2", 0, id="collections-before-send"),
    pytest.param({}, "after_send:2", 4, id="collections-after-send"),
    pytest.param({}, "after_commit:1", 0, id="collections-after-commit"),
    pytest.param({"bulk_threshold": 1}, "bulk_closed:1", CUSTOMERS, id="bulk-after-upload-complete"),
    pytest.param({"bulk_threshold": 1}, "after_send:1", CUSTOMERS, id="bulk-finished-not-recorded"),
]


@pytest.mark.parametrize(("extra", "crash_at", "landed"), KILL_POINTS)
def test_killed_writeback_reruns_to_the_right_values_with_nothing_applied_twice(setup, extra, crash_at, landed):
    db, tmp, org = setup
    cfg = target_config(org, db, tmp, collection_size=4, **extra)
    killed = run_pipe(db, tmp, cfg, env={"CRM2_WRITEBACK_CRASH_AT": crash_at})
    assert killed.target_exit == -9, killed.stderr
    if crash_at != "after_commit:1":
        assert pending_batches(db) == 1  # the batch whose fate the process took with it

    rerun = run_pipe(db, tmp, cfg)
    assert rerun.target_exit == 0, rerun.stderr
    assert rerun.counts["recovered"] == landed
    assert_done_once(db, org)
    assert len({a["run_id"] for a in audit_rows(db)}) <= 2


def test_killed_twice_then_finished(setup):
    db, tmp, org = setup
    cfg = target_config(org, db, tmp, collection_size=4)
    assert run_pipe(db, tmp, cfg, env={"CRM2_WRITEBACK_CRASH_AT": "after_send:1"}).target_exit == -9
    # the second run settles the first one's batch, then dies after sending its own first batch
    assert run_pipe(db, tmp, cfg, env={"CRM2_WRITEBACK_CRASH_AT": "after_send:1"}).target_exit == -9
    final = run_pipe(db, tmp, cfg)
    assert final.target_exit == 0, final.stderr
    assert final.counts["recovered"] == 4
    assert_done_once(db, org)
    assert org.accounts()[account_id(0)]["CRM2_Tier__c"] is not None


def test_refused_credentials_fail_the_run_and_lose_nothing(setup):
    db, tmp, org = setup
    cfg = target_config(org, db, tmp, client_secret_env="CRM2_WBTEST_WRONG_SECRET")
    refused = run_pipe(db, tmp, cfg, env={"CRM2_WBTEST_WRONG_SECRET": "not-the-secret"})
    assert refused.target_exit == 1, refused.stderr
    assert "not-the-secret" not in refused.stderr
    assert org.writes() == 0 and {q["reason"] for q in queue_rows(db)} == {"deferred"}

    again = run_pipe(db, tmp, target_config(org, db, tmp))
    assert again.target_exit == 0, again.stderr
    assert_done_once(db, org)
