"""`crm2 report` writes one self-contained HTML file whose charts a real browser draws."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from sync.store import Store
from sync.store.schema import check_results, golden

PROBE = """<script>
window.addEventListener('load', () => {
  const charts = {};
  for (const fig of document.querySelectorAll('figure.chart')) {
    const bars = [...fig.querySelectorAll('rect.bar')];
    charts[fig.id] = bars.filter(b => { const r = b.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
                         .length;
  }
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(charts);
  document.body.appendChild(pre);
});
</script>"""


def _seed(store: Store) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    rows = []
    for i, (tier, stage, risk) in enumerate([("A", "stable", 12), ("B", "growth", 40), ("B", "at_risk", 81),
                                             ("C", "churned", 95), ("C", "onboarding", 20)]):
        rows.append({"golden_id": f"G{i}", "entity": "customer", "created_at": now, "updated_at": now,
                     "data": {"name": f"Customer {i}", "tier": tier, "lifecycle_stage": stage,
                              "scores": {"churn_risk": {"name": "churn_risk", "value": risk, "reasons": [
                                  {"factor": "silence", "contribution": risk * 0.6, "note": "no orders for 200 days"},
                                  {"factor": "overdue", "contribution": risk * 0.4, "note": "2 overdue invoices"}]}}}})
    run_ids = []
    for n in (120, 80):
        run_id = store.start_run("sync")
        store.finish_run(run_id, status="partial", exit_code=3,
                         counts={"staged": {"salesforce/Account": n}, "quarantined": 3})
        run_ids.append(run_id)
    with store.begin() as conn:
        conn.execute(golden.insert(), rows)
        conn.execute(check_results.insert(), [
            {"run_id": run_ids[0], "check": "email format", "severity": "warn", "passed": False, "at": now},
            {"run_id": run_ids[0], "check": "tax id", "severity": "quarantine", "passed": True, "at": now}])


def test_report_contents(tmp_path):
    db = tmp_path / "s.sqlite"
    with Store.open(db) as store:
        _seed(store)
    out = tmp_path / "report.html"
    result = subprocess.run([sys.executable, "-m", "sync", "report", "--store", str(db), "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert not re.search(r"""(?:src|href)=["']https?://""", page), "report must be self-contained"
    order = [page.index(name) for name in ("Customer 3", "Customer 2", "Customer 1")]
    assert order == sorted(order), "churn-risk list is ordered by risk"
    assert "no orders for 200 days" in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_charts_are_drawn_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required for the report test in CI")
        pytest.skip("chromium not installed")
    db = tmp_path / "s.sqlite"
    with Store.open(db) as store:
        _seed(store)
        from sync import report

        page = report.render(report.collect(store))
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=2000", "--dump-dom",
         probe_page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert found, dom[-2000:]
    drawn = json.loads(found.group(1))
    # 3 tiers; 5 of 6 lifecycle stages (terminated has none: a zero-width bar is not drawn); 2 runs
    assert drawn["tiers"] == 3
    assert drawn["lifecycle"] == 5
    assert drawn["volumes"] == 2 and drawn["quarantine"] == 2
    assert drawn["quality"] == 1  # only the first run had a failing check


def test_report_with_empty_store_says_no_data(tmp_path):
    from sync import report

    with Store.open(tmp_path / "s.sqlite") as store:
        page = report.render(report.collect(store))
    assert page.count("No data yet.") == 6  # tiers, revenue, lifecycle and three per-run charts
    with Store.open(tmp_path / "s.sqlite") as store, store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(golden)).scalar_one() == 0
