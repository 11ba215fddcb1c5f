"""`crm2 sync` runs checks, resolve and enrich on what the store holds, in that order, and records
what each did; a bad rule file stops it before anything runs; a failing `fail` check stops it
before golden records change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from sync.store import Store
from sync.store.schema import check_results, golden, runs
from sync.store.store import StagedRecord


def crm2(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", *args], capture_output=True, text=True, timeout=300)


def stage_two_sources(db: Path) -> None:
    """One company known to Salesforce and finance, another only to sales, with revenue."""
    records = [
        StagedRecord("salesforce", "Account", "001A", "customer",
                     {"name": "Acme Trading", "tax_id": "91310000MA1FL8XQ3B", "phone": "+862162881234",
                      "country": "CN", "created_at": "2023-01-15T00:00:00Z"}),
        StagedRecord("finance", "customers", "C1", "customer",
                     {"name": "ACME Trading Co., Ltd.", "tax_id": "91310000MA1FL8XQ3B", "phone": "+862162881234",
                      "country": "CN", "created_at": "2022-06-01T00:00:00Z"}),
        StagedRecord("sales", "accounts", "ACC-2", "customer",
                     {"name": "Globex", "country": "DE", "created_at": "2024-02-01T00:00:00Z"}),
        StagedRecord("finance", "invoices", "INV-1", "invoice",
                     {"customer": "C1", "issued_on": "2026-08-01", "due_on": "2026-08-31", "amount": "900.00",
                      "currency": "EUR", "status": "paid"}),
        StagedRecord("sales", "orders", "SO-1", "order",
                     {"customer": "ACC-2", "ordered_at": "2026-09-01T10:00:00Z", "total": "100.00",
                      "currency": "EUR"}),
    ]
    with Store.open(db) as store, store.begin() as conn:
        store.stage(conn, records, None)


def write_config(tmp_path: Path, db: Path, extra: str = "") -> Path:
    path = tmp_path / "pipeline.yml"
    path.write_text(f"version: 1\nstore: {{url: {db}}}\nenrich: {{as_of: 2026-11-01}}\n{extra}")
    return path


def test_sync_runs_checks_resolve_enrich_and_records_them(tmp_path):
    db = tmp_path / "s.sqlite"
    stage_two_sources(db)
    result = crm2("--no-json-logs", "sync", "--config", str(write_config(tmp_path, db)))
    assert result.returncode == 0, result.stderr
    for stage in ("checks", "resolve", "enrich"):
        assert f"{stage}" in result.stderr
    with Store.open(db) as store, store.engine.connect() as conn:
        live = conn.execute(sa.select(golden.c.data).where(golden.c.entity == "customer",
                                                          golden.c.merged_into.is_(None))).scalars().all()
        counts = conn.execute(sa.select(runs.c.counts)).scalar_one()
        assert conn.execute(sa.select(sa.func.count()).select_from(check_results)).scalar_one() > 0
    assert len(live) == 2  # Acme's two records became one golden customer
    assert {d["tier"] for d in live} <= {"A", "B", "C"} and all(d.get("tier") for d in live)
    stages = counts["stages"]
    assert [stages[s]["status"] for s in ("checks", "resolve", "enrich")] == ["ok", "ok", "ok"]
    assert stages["resolve"]["customer_golden"] == 2 and stages["enrich"]["customers"] == 2
    assert stages["writeback"]["status"] in ("skipped", "unavailable")
    ran = [name for name, stage in stages.items() if stage["status"] in ("ok", "partial")]
    assert all(stages[name]["seconds"] >= 0 for name in ran) and "checks" in ran  # the Runs page shows them
    assert all("seconds" not in stage for stage in stages.values() if stage["status"] == "skipped")

    again = crm2("--no-json-logs", "sync", "--config", str(write_config(tmp_path, db)))
    assert again.returncode == 0, again.stderr
    with Store.open(db) as store:
        latest = store.runs(1)[0].counts["stages"]
    assert latest["resolve"]["customer_changed"] == 0 and latest["enrich"]["updated"] == 0


def test_bad_rule_file_exits_2_before_any_run(tmp_path):
    db = tmp_path / "s.sqlite"
    rules = tmp_path / "scoring.yml"
    rules.write_text("version: 1\ntier:\n  measure: revenu\n")
    config = write_config(tmp_path, db, f"checks: {{enabled: false}}\nresolve: {{enabled: false}}\n"
                                        f"enrich: {{rules: {rules}}}\n").read_text().replace(
        "enrich: {as_of: 2026-11-01}\n", "")
    (tmp_path / "pipeline.yml").write_text(config)
    result = crm2("sync", "--config", str(tmp_path / "pipeline.yml"))
    assert result.returncode == 2, result.stderr
    assert f"{rules}:3:" in result.stderr and "Traceback" not in result.stderr
    with Store.open(db) as store:
        assert store.runs() == []


def test_failing_check_stops_the_run_before_golden_records_change(tmp_path):
    db = tmp_path / "s.sqlite"
    stage_two_sources(db)
    checks = tmp_path / "checks.yml"
    checks.write_text("version: 1\nchecks:\n  - {name: tax_id_everywhere, entity: customer, type: required,"
                      " fields: [tax_id], severity: fail}\n")
    config = write_config(tmp_path, db, f"checks: {{rules: {checks}}}\n")
    result = crm2("--no-json-logs", "sync", "--config", str(config))
    assert result.returncode == 1, result.stderr
    assert "tax_id_everywhere" in result.stderr
    with Store.open(db) as store, store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(golden)).scalar_one() == 0
        stages = json.loads(json.dumps(store.runs(1)[0].counts))["stages"]
    assert stages["checks"]["status"] == "failed"
    assert stages["resolve"]["status"] == stages["enrich"]["status"] == "skipped"


def test_validate_checks_the_rule_files_too(tmp_path):
    db = tmp_path / "s.sqlite"
    checks = tmp_path / "checks.yml"
    checks.write_text("version: 1\nchecks:\n  - {name: x, entity: customer, type: requird, fields: [name]}\n")
    config = write_config(tmp_path, db, f"checks: {{rules: {checks}}}\n")
    result = crm2("validate", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{checks}:3:") and "Traceback" not in result.stderr
    checks.write_text("version: 1\nchecks: []\n")
    ok = crm2("validate", "--config", str(config))
    assert ok.returncode == 0 and "checks, resolve, enrich" in ok.stdout


def test_validate_checks_the_writeback_mapping_when_writeback_is_on(tmp_path):
    db = tmp_path / "s.sqlite"
    mapping = tmp_path / "writeback.yml"
    mapping.write_text("version: 1\nobjects:\n  Account:\n    strem: customer_scores\n")
    config = write_config(tmp_path, db, f"writeback: {{enabled: true, mapping: {mapping}}}\n")
    result = crm2("validate", "--config", str(config))
    assert result.returncode == 2
    assert f"{mapping}:4:5: unknown key 'strem' (did you mean 'stream'?)" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    off = write_config(tmp_path, db, f"writeback: {{enabled: false, mapping: {mapping}}}\n")
    assert crm2("validate", "--config", str(off)).returncode == 0
