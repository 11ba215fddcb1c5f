"""What crm2 prints when nobody is watching: only JSON lines on a non-terminal stderr, and a quiet
stop when the reader of its output goes away (`crm2 runs --json | head`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sync.store import Store
from tests.sync.test_run_stages import stage_two_sources, write_config


def test_sync_logs_only_json_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    stage_two_sources(db)
    result = subprocess.run([sys.executable, "-m", "sync", "sync", "--config", str(write_config(tmp_path, db))],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]  # every line parses
    ended = {e["stage"]: e["status"] for e in entries if "status" in e and "stage" in e}
    assert ended == {"checks": "ok", "resolve": "ok", "enrich": "ok", "writeback": "skipped"}
    took = {e["stage"]: e.get("seconds") for e in entries if "status" in e and "stage" in e}
    assert all(took[s] >= 0 for s in ("checks", "resolve", "enrich")) and took["writeback"] is None
    assert any(e.get("status") == "ok" and e.get("run_id") for e in entries), "the run's outcome is logged"


def test_a_reader_that_stops_early_ends_crm2_quietly(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    with Store.open(db) as store:
        for _ in range(800):  # far more JSON than a pipe holds, so crm2 is still writing when the reader leaves
            store.finish_run(store.start_run("sync", "a.yml"), status="ok", exit_code=0,
                             counts={"staged": {"finance/customers": 5}})
    proc = subprocess.Popen([sys.executable, "-m", "sync", "runs", "--store", str(db), "--json", "--limit", "800"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `head -1` exiting
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert err == "", err
