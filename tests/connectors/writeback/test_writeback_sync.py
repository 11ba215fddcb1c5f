"""``crm2 sync`` runs the writeback stage: a dry run by default (lists, writes nothing), then for
real once ``dry_run: false``; a rerun writes nothing; the run record carries the stage's counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from writeback_support import (
    CUSTOMERS,
    SECRET_ENV,
    Org,
    assert_accounts_match,
    customer_records,
    scoring_rules,
    stage,
    start_org,
)

from sync.store import Store


def crm2(*args: str) -> subprocess.CompletedProcess[str]:
    # JSON log lines (stderr is not a terminal): one line per message, never wrapped
    return subprocess.run([sys.executable, "-m", "sync", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def pipeline(tmp: Path, db: Path, org: Org, *, dry_run: bool) -> Path:
    writeback = {"enabled": True, "dry_run": dry_run,
                 "config": {"instance_url": org.sf.url, "ca_bundle": str(org.sf.ca_path),
                            "client_id": org.sf.credentials["client_id"], "client_secret_env": SECRET_ENV,
                            "retry_initial_wait": 0.01, "bulk_poll_initial": 0.05}}
    path = tmp / "pipeline.yml"
    path.write_text(f"version: 1\nstore: {{url: {db}}}\n"
                    f"enrich: {{as_of: 2026-11-01, rules: {scoring_rules(tmp)}}}\n"
                    f"writeback: {json.dumps(writeback)}\n")
    return path


def test_crm2_sync_writes_back_after_a_dry_run(tmp_path):
    db = tmp_path / "store.sqlite"
    with Store.open(db) as store:
        stage(store, [r for i in range(CUSTOMERS) for r in customer_records(i)])
    org = start_org(tmp_path, CUSTOMERS)
    try:
        dry = crm2("sync", "--config", str(pipeline(tmp_path, db, org, dry_run=True)))
        assert dry.returncode == 0, dry.stderr
        assert f"dry run: {CUSTOMERS} records would change" in dry.stderr
        assert "CRM2_Tier__c: null -> " in dry.stderr
        assert org.writes() == 0

        real = crm2("sync", "--config", str(pipeline(tmp_path, db, org, dry_run=False)))
        assert real.returncode == 0, real.stderr
        assert_accounts_match(db, org)
        with Store.open(db) as store:
            stages = store.runs(1)[0].counts["stages"]
        assert stages["writeback"]["status"] == "ok" and stages["writeback"]["written"] == CUSTOMERS

        again = crm2("sync", "--config", str(pipeline(tmp_path, db, org, dry_run=False)))
        assert again.returncode == 0, again.stderr
        assert org.writes() == 1
        with Store.open(db) as store:
            assert store.runs(1)[0].counts["stages"]["writeback"]["written"] == 0
    finally:
        org.sf.stop()
