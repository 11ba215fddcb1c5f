"""`crm2 checks` alerts (exit 3) on checks that set records aside or stop runs, not on warnings;
a freshness check over no records passes instead of failing "1 of 0"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sync.store import Store
from sync.store.store import StagedRecord
from tests.sync.test_run_stages import write_config


def _stage(db: Path, customers: list[dict[str, str]]) -> None:
    records = [StagedRecord("finance", "customers", f"C{i}", "customer", data) for i, data in enumerate(customers)]
    with Store.open(db) as store, store.begin() as conn:
        store.stage(conn, records, None)


def _checks(db: Path) -> tuple[int, dict[str, dict[str, object]]]:
    result = subprocess.run([sys.executable, "-m", "sync", "checks", "--store", str(db), "--json"],
                            capture_output=True, text=True, timeout=120)
    return result.returncode, {r["check"]: r for r in json.loads(result.stdout)}


def _sync(tmp_path: Path, db: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "sync", "sync", "--config", str(write_config(tmp_path, db))],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 3), result.stderr


def test_only_warnings_failing_exits_0_and_no_invoices_is_not_stale(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    _stage(db, [{"name": "Acme", "email": "not-an-address", "country": "DE"}])
    _sync(tmp_path, db)
    code, results = _checks(db)
    assert results["customer_email_format"]["passed"] is False  # a warning
    assert results["invoices_fresh"]["passed"] is True, results["invoices_fresh"]
    assert (results["invoices_fresh"]["failing"], results["invoices_fresh"]["total"]) == (0, 0)
    assert code == 0


def test_a_failing_quarantine_check_exits_3(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    _stage(db, [{"name": "Acme", "country": "DE"}, {"name": "", "country": "DE"}])
    _sync(tmp_path, db)
    code, results = _checks(db)
    assert results["customer_name_required"]["passed"] is False
    assert code == 3
