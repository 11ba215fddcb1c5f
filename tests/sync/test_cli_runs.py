"""`crm2 runs` shows what the store recorded, and `crm2 demo` records its run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sync.store import Store


def crm2(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


def test_runs_lists_recorded_runs_as_json(tmp_path):
    db = tmp_path / "s.sqlite"
    with Store.open(db) as store:
        first = store.start_run("sync", "a.yml")
        store.finish_run(first, status="ok", exit_code=0, counts={"staged": {"finance/customers": 5}})
        second = store.start_run("sync", "a.yml")
        store.finish_run(second, status="partial", exit_code=3, counts={"quarantined": 2}, api_calls=11)
    result = crm2("runs", "--store", str(db), "--json")
    assert result.returncode == 0, result.stderr
    runs = {r["run_id"]: r for r in json.loads(result.stdout)}
    assert runs[first]["status"] == "ok" and runs[first]["counts"]["staged"] == {"finance/customers": 5}
    assert (runs[second]["exit_code"], runs[second]["api_calls"]) == (3, 11)


def test_runs_table_shows_each_run(tmp_path):
    db = tmp_path / "s.sqlite"
    with Store.open(db) as store:
        run_id = store.start_run("demo")
        store.finish_run(run_id, status="ok", exit_code=0)
    result = crm2("runs", "--store", str(db))
    assert result.returncode == 0
    assert run_id[:8] in result.stdout and "demo" in result.stdout


def test_demo_prints_summary_and_records_its_run(tmp_path):
    workdir = tmp_path / "demo"
    # a relative --workdir, as `make demo` uses: every path the stand-ins hand out must still work
    result = crm2("demo", "--customers", "300", "--workdir", "demo", cwd=tmp_path)
    assert result.returncode in (0, 3), result.stderr
    assert "crm2 demo summary" in result.stdout
    assert "golden customers" in result.stdout
    listed = json.loads(crm2("runs", "--store", str(workdir / "crm2.sqlite"), "--json").stdout)
    assert [r["command"] for r in listed] == ["demo"]
    assert listed[0]["status"] in ("ok", "partial")
    stages = listed[0]["counts"]["stages"]
    assert [s for s, v in stages.items() if v["status"] not in ("ok", "partial")] == []
    # every extraction reports what arrived and what became of it (a record read by two mapping
    # entries has two outcomes); the taps' API calls are summed into the run
    for source in ("salesforce", "finance", "sales"):
        extract = stages[f"extract:{source}"]
        outcomes = sum(extract.get(k, 0) for k in ("inserted", "updated", "unchanged", "deleted", "quarantined"))
        assert extract["received"] > 0 and outcomes >= extract["received"] - extract.get("skipped", 0)
    assert stages["extract:salesforce"]["api_calls"] > 0 and stages["writeback"]["written"] > 0
    assert listed[0]["api_calls"] == stages["extract:salesforce"]["api_calls"] + stages["writeback"]["api_calls"]

    again = crm2("demo", "--customers", "300", "--workdir", str(workdir))
    assert again.returncode in (0, 3), again.stderr
    latest = json.loads(crm2("runs", "--store", str(workdir / "crm2.sqlite"), "--json", "--limit", "1").stdout)[0]
    again_stages = latest["counts"]["stages"]
    assert again_stages["writeback"]["written"] == 0  # nothing changed: nothing written
    assert again_stages["writeback"]["api_calls"] == 0
    # the Accounts our writeback touched come back with a new SystemModstamp only: not news
    assert again_stages["extract:salesforce"]["received"] > 0
    assert again_stages["extract:salesforce"].get("updated", 0) == 0
    assert again_stages["resolve"]["customer_changed"] == 0 and again_stages["enrich"]["updated"] == 0


def test_reading_commands_refuse_a_missing_store_instead_of_creating_one(tmp_path):
    for command in (["runs"], ["checks"], ["report", "--out", "r.html"], ["review", "list"]):
        result = crm2(*command, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "no crm2 store at .crm2/crm2.sqlite" in result.stderr and "--config" in result.stderr
    assert not (tmp_path / ".crm2").exists(), "nothing is created where no store was"


def test_reading_commands_find_the_store_through_the_pipeline_config(tmp_path):
    (tmp_path / "cfg").mkdir()
    db = tmp_path / "cfg" / "data" / "s.sqlite"
    db.parent.mkdir()
    with Store.open(db) as store:
        run_id = store.start_run("sync")
        store.finish_run(run_id, status="ok", exit_code=0)
    (tmp_path / "cfg" / "pipeline.yml").write_text("version: 1\nstore: {url: data/s.sqlite}\n")
    result = crm2("runs", "--config", "cfg/pipeline.yml", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r["run_id"] for r in json.loads(result.stdout)] == [run_id]
