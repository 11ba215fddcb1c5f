"""`crm2 init` writes a starter project from a real tap's catalog that validates and syncs as is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sync.orchestrate import standins
from sync.store import Store

CRM2 = [sys.executable, "-m", "sync"]


def crm2(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CRM2, *args], capture_output=True, text=True, timeout=600)


def test_init_from_the_finance_taps_catalog_gives_a_working_project(tmp_path: Path) -> None:
    handle = standins.start("finance", tmp_path / "ledger", customers=20, seed=3)
    tap_config = tmp_path / "tap.json"
    tap_config.write_text(json.dumps({**handle.tap_config, "password": "Sup3rSecretPw"}))
    project = tmp_path / "proj"
    made = crm2("init", "ledger", "--tap", "tap-crm2-finance", "--tap-config", str(tap_config), "--dir", str(project))
    assert made.returncode == 0, made.stdout + made.stderr
    assert "customers" in made.stdout and "streams mapped" in made.stdout
    for name in ("crm2.yml", "mappings/ledger.yml", "config/checks.yml", "config/match.yml", "config/scoring.yml"):
        assert (project / name).is_file(), name
    assert "Sup3rSecretPw" not in (project / "crm2.yml").read_text() + made.stdout + made.stderr

    checked = crm2("validate", "--config", str(project / "crm2.yml"))
    assert checked.returncode == 0, checked.stderr
    synced = crm2("sync", "--config", str(project / "crm2.yml"), "--select", "ledger,checks,resolve")
    assert synced.returncode in (0, 3), synced.stderr
    with Store.open(project / ".crm2" / "crm2.sqlite") as store:
        [last] = store.runs(1)
    assert last.counts["staged"].get("ledger/customers") == handle.counts["customers"] > 0

    again = crm2("init", "ledger", "--tap", "tap-crm2-finance", "--tap-config", str(tap_config), "--dir", str(project))
    assert again.returncode == 0 and "kept" in again.stdout, "existing files are kept without --force"
