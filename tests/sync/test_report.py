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


def _seed_views(store: Store) -> None:
    """Customers with stored churn factors, a Chinese name and personal data, and a quarantined record."""
    from datetime import UTC, datetime

    from sync.store.schema import quarantine

    now = datetime(2026, 11, 1, tzinfo=UTC)
    churn = {"name": "churn_risk", "value": 75.0, "reasons": [
        {"factor": "falling_revenue", "value": -1.0, "contribution": 30.0, "note": "revenue_change_6m = -1.0; 0 at 0"},
        {"factor": "long_silence", "value": 244.0, "contribution": 25.0, "note": "days_since_last_activity = 244.0"}]}
    with store.begin() as conn:
        conn.execute(golden.insert(), [
            {"golden_id": "G-B", "entity": "customer", "created_at": now, "updated_at": now,
             "data": {"name": "德伦印刷有限公司", "email": "boss@example.com", "tier": "B", "scores": {
                 "churn_risk": churn, "tier": {"reasons": [{"factor": "revenue_12m", "value": "1234.5"}]}}}},
            {"golden_id": "G-C", "entity": "customer", "created_at": now, "updated_at": now,
             "data": {"name": "Small Shop", "tier": "C"}}])
        conn.execute(quarantine.insert().values(stream="Contact", source_system="salesforce", source_object="Contact",
                                                source_id="003X", reason="email: not a valid email address",
                                                record={"email": "x@example.com"}, created_at=now))


def test_report_shows_the_console_views_with_masked_personal_data(tmp_path):
    from sync import report

    with Store.open(tmp_path / "s.sqlite") as store:
        _seed_views(store)
        page = report.render(report.collect(store))
    assert "revenue down 100% in 6 months; no contact for 244 days" in page  # plain words, not rule text
    assert "revenue_change_6m" not in page
    assert "德伦印刷有限公司" in page and "Noto Sans CJK SC" in page
    for section in ("Key accounts", "Data quality", "Quarantine by reason and source", "Runs", "Writeback",
                    "Migration"):
        assert f"<h2>{section}" in page or f"<h3>{section}" in page
    assert "email: not a valid email address" in page
    assert "boss@example.com" not in page and "x@example.com" not in page


def test_report_summarises_each_migration_step(tmp_path):
    from console_seed import seed_migration

    from sync import report

    with Store.open(tmp_path / "s.sqlite") as store:
        seed_migration(store)
        page = report.render(report.collect(store))
    assert "1,780 source records in 1 objects" in page and "1 files, 1,780 rows" in page
    assert "intact" in page and "1 problem(s)" in page


def test_series_keep_their_colour_whichever_tiers_exist(tmp_path):
    from sync import report

    with Store.open(tmp_path / "s.sqlite") as store:
        _seed_views(store)  # tiers B and C only: B must not take A's colour
        page = report.render(report.collect(store))
    tiers = re.search(r'<figure id="tiers".*?</figure>', page).group(0)
    fills = re.findall(r'fill="(#[0-9a-f]{6})" data-value', tiers)
    assert fills == [report.SERIES["B"], report.SERIES["C"]]
    assert report.colour("some new series") == report.colour("some new series")


def test_report_fits_a_phone(tmp_path):
    """At 390 px (Playwright sets the viewport; Chromium's own window has a larger minimum width)."""
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("/usr/bin/chromium is missing")
    sync_api = pytest.importorskip("playwright.sync_api")
    db = tmp_path / "s.sqlite"
    with Store.open(db) as store:
        _seed(store)
        _seed_views(store)
        from sync import report

        page_file = tmp_path / "report.html"
        page_file.write_text(report.render(report.collect(store)), encoding="utf-8")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(page_file.as_uri())
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            rights = page.eval_on_selector_all("figure.chart svg",
                                               "svgs => svgs.map(s => s.getBoundingClientRect().right)")
            assert rights and max(rights) <= 390
        finally:
            browser.close()
