"""`crm2 sync --select/--exclude/--full-refresh/--dry-run/--env`, and progress bars on a terminal,
against the real finance tap reading a stand-in ledger into a SQLite store."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from sync.orchestrate import standins
from sync.shipped import MAPPINGS
from sync.store import Store

CRM2 = [sys.executable, "-m", "sync"]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> str:
    handle = standins.start("finance", tmp_path_factory.mktemp("ledger"), customers=30, seed=7)
    return str(handle.tap_config["url"])


def _config(tmp_path: Path, ledger: str) -> Path:
    path = tmp_path / "pipeline.yml"
    path.write_text(f"""version: 1
store: {{url: dev.sqlite}}
extractors:
  - name: finance
    tap: tap-crm2-finance
    mapping: {MAPPINGS / "finance.yml"}
    config: {{url: "{ledger}"}}
enrich: {{as_of: 2026-11-01}}
environments:
  prod:
    store: {{url: prod.sqlite}}
    extractors:
      finance: {{config: {{url: "{ledger}"}}}}
""")
    return path


def _sync(config: Path, *args: str) -> tuple[int, dict[str, dict[str, object]], str]:
    result = subprocess.run([*CRM2, "sync", "--config", str(config), *args], capture_output=True, text=True,
                            timeout=300)
    ended: dict[str, dict[str, object]] = {}
    for line in result.stderr.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if "stage" in entry and "status" in entry:
                ended[str(entry["stage"])] = entry
    return result.returncode, ended, result.stdout + result.stderr


def _runs(db: Path) -> int:
    with Store.open(db) as store:
        return len(store.runs(1000))


def test_select_exclude_full_refresh_and_dry_run(tmp_path: Path, ledger: str) -> None:
    config = _config(tmp_path, ledger)
    code, ended, out = _sync(config, "--select", "finance")
    assert code in (0, 3), out
    assert ended["extract:finance"]["status"] == "ok"
    assert {ended[s]["status"] for s in ("checks", "resolve", "enrich")} == {"skipped"}
    full = ended["extract:finance"]["counts"]["received"]  # type: ignore[index]
    assert full > 0

    code, ended, out = _sync(config, "--select", "checks,resolve", "--exclude", "resolve")
    assert ended["extract:finance"]["status"] == "skipped" and ended["checks"]["status"] == "ok", out
    assert ended["resolve"]["status"] == "skipped"

    runs_before = _runs(tmp_path / "dev.sqlite")
    code, _, out = _sync(config, "--dry-run")
    assert code == 0, out
    assert "extract:finance" in out and "from its bookmark" in out and "nothing was run" in out
    code, _, out = _sync(config, "--dry-run", "--full-refresh", "finance", "--exclude", "writeback")
    assert "from the start (full refresh)" in out
    assert _runs(tmp_path / "dev.sqlite") == runs_before, "a dry run records no run"

    code, ended, out = _sync(config, "--select", "extract")
    again = ended["extract:finance"]["counts"].get("received", 0)  # type: ignore[union-attr]
    code, ended, out = _sync(config, "--select", "finance", "--full-refresh", "finance")
    assert ended["extract:finance"]["counts"]["received"] == full > again, out  # type: ignore[index]


def test_unknown_names_are_usage_errors(tmp_path: Path, ledger: str) -> None:
    config = _config(tmp_path, ledger)
    code, _, out = _sync(config, "--select", "finanse")
    assert code == 2 and "--select 'finanse'" in out and "did you mean 'finance'?" in out
    code, _, out = _sync(config, "--full-refresh", "resolve")
    assert code == 2 and "--full-refresh source 'resolve'" in out


def test_environments_override_the_config(tmp_path: Path, ledger: str) -> None:
    config = _config(tmp_path, ledger)
    code, _, out = _sync(config, "--env", "prod", "--select", "finance")
    assert code in (0, 3), out
    assert (tmp_path / "prod.sqlite").is_file() and not (tmp_path / "dev.sqlite").exists()
    code, _, out = _sync(config, "--env", "prd")
    assert code == 2 and f"{config}:9:1: no environment 'prd' (did you mean 'prod'?)" in out


def test_progress_bars_on_a_terminal(tmp_path: Path, ledger: str) -> None:
    config = _config(tmp_path, ledger)
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*CRM2, "sync", "--config", str(config), "--select", "finance,checks"],
                            stdout=subprocess.DEVNULL, stderr=follower, env={**os.environ, "TERM": "xterm",
                                                                             "COLUMNS": "160"})
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when crm2 ends
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(timeout=300) in (0, 3)
    text = seen.decode(errors="replace")
    assert "extract:finance" in text and "records" in text and "checks" in text
    assert '{"ts"' not in text, "a person at a terminal gets bars, not JSON"
