"""The console in a real browser: Playwright drives Debian's Chromium against `crm2 serve` on a demo store.

Sign in, find a tier-A customer, open its 360 page, confirm one review pair as a steward with the
keyboard shortcut and see it in the audit trail; a viewer is refused the same action (403, store
unchanged); a customer named like a script renders as text; no console errors; labels, headings
and text contrast checked on every page; each page screenshotted (desktop and 390 px phone) into
build/test-artefacts/console/ (or $CRM2_TEST_ARTEFACTS).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from sync.store import Store
from sync.store.schema import golden, match_constraints, match_pairs

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
XSS = "<script>alert(1)</script>"
USERS = {"stew": ("steward", "steward-password-1"), "vic": ("viewer", "viewer-password-1")}
PAGES = ["/accounts", "/review", "/quality", "/runs", "/migration", "/audit"]

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (Debian: apt-get install chromium; .ci/run installs it)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

# Run in the page: every form control has a label, headings start at one h1 and skip no level,
# and text has WCAG AA contrast against the background it is drawn on.
AUDIT_JS = """() => {
  const problems = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) problems.push('no label: ' + el.name);
  }
  const heads = [...document.querySelectorAll('h1,h2,h3,h4')].map(h => +h.tagName[1]);
  if (heads.filter(h => h === 1).length !== 1) problems.push('h1 count ' + heads.filter(h => h === 1).length);
  heads.reduce((prev, h) => { if (h > prev + 1) problems.push('heading skips to h' + h); return h; }, 1);
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = c => { const v = c.slice(0, 3).map(x => { x /= 255;
                       return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
                     return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
                       if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c; } return [255, 255, 255]; };
  for (const el of document.querySelectorAll('body, a, th, td, button, label, p, small, h1, h2, .tier, summary')) {
    if (!el.textContent.trim() || !el.getClientRects().length) continue;
    const fg = rgb(getComputedStyle(el).color), back = bg(el);
    const [hi, lo] = [lum(fg), lum(back)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) problems.push('contrast ' + ratio.toFixed(2) + ' on ' + el.tagName + ' '
                                   + el.textContent.trim().slice(0, 30));
  }
  return [...new Set(problems)].slice(0, 20);
}"""


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("console-demo")
    r = subprocess.run([sys.executable, "-m", "sync", "demo", "--customers", "150", "--workdir", str(work / "demo")],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode in (0, 3), r.stderr[-2000:]
    db = work / "demo" / "crm2.sqlite"
    for name, (role, password) in USERS.items():
        r = subprocess.run([sys.executable, "-m", "sync", "users", "add", name, "--role", role, "--store", str(db)],
                           input=password + "\n", capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert r.returncode == 0, r.stderr
    with Store.open(db) as st, st.begin() as conn:
        # a source system that lets anyone type a company name: this one arrives as a tier-A customer
        now = datetime.now(UTC)
        conn.execute(golden.insert().values(golden_id="CUS-XSS", entity="customer", created_at=now, updated_at=now,
                                            data={"name": XSS, "tier": "A", "lifecycle_stage": "stable"}))
    return db


@pytest.fixture(scope="module")
def console(demo_store) -> Iterator[str]:
    env = {**os.environ, "CRM2_CONSOLE_SECRET": "s" * 48}
    proc = subprocess.Popen([sys.executable, "-m", "sync", "serve", "--store", str(demo_store), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()  # the console prints its URL once it is listening
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, f"no URL from crm2 serve: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        yield match.group(0).rstrip("/")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def artefacts() -> Path:
    out = Path(os.environ.get("CRM2_TEST_ARTEFACTS") or ROOT / "build" / "test-artefacts") / "console"
    out.mkdir(parents=True, exist_ok=True)
    return out


class Watched:
    """A browser page whose console errors, page errors and dialogs (an alert would be XSS) are kept."""

    def __init__(self, browser, base: str, *, width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def sign_in(self, name: str) -> None:
        self.go("/accounts")
        assert "/login" in self.page.url
        self.page.get_by_label("Name").fill(name)
        self.page.get_by_label("Password").fill(USERS[name][1])
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(re.compile(r".*/accounts$"))

    def check(self, shot: Path) -> None:
        assert self.page.evaluate(AUDIT_JS) == [], self.page.url
        self.page.screenshot(path=str(shot), full_page=True)

    def close(self) -> None:
        self.context.close()


def _store_state(db: Path) -> tuple:
    with Store.open(db) as st, st.engine.connect() as conn:
        return (sorted(conn.execute(sa.select(match_pairs.c.left_rid, match_pairs.c.right_rid, match_pairs.c.decision))
                       .all()),
                conn.execute(sa.select(sa.func.count()).select_from(match_constraints)).scalar())


def test_steward_journey(browser, console, demo_store, artefacts):
    w = Watched(browser, console)
    try:
        w.sign_in("stew")
        w.check(artefacts / "login-accounts.png")
        w.page.get_by_label("Tier").select_option("A")
        w.page.get_by_role("button", name="Show").click()
        w.page.wait_for_url(re.compile(r"tier=A"))
        tiers = w.page.locator("#accounts tbody tr").evaluate_all("rows => rows.map(r => r.dataset.tier)")
        assert tiers and set(tiers) == {"A"}
        # the script-named customer is listed as text and never runs
        assert w.page.get_by_role("link", name=XSS).count() == 1
        first = w.page.locator("#accounts tbody tr a").filter(has_not_text="<script>").first
        name = first.inner_text()
        first.click()
        w.page.wait_for_url(re.compile(r"/customers/"))
        assert w.page.locator("h1").inner_text() == name
        assert w.page.locator("#fields tbody tr").count() > 0 and w.page.locator("#scores tbody tr").count() > 0
        w.check(artefacts / "customer-360.png")
        for path in PAGES[1:]:
            w.go(path)
            w.check(artefacts / f"{path.strip('/')}.png")
        w.go("/review")
        pair = w.page.locator("section.pair").first
        left, right = pair.get_attribute("data-left"), pair.get_attribute("data-right")
        w.page.keyboard.press("c")  # the keyboard shortcut confirms the current pair
        w.page.wait_for_url(re.compile(r"done=confirm"))
        assert w.page.get_by_role("status").inner_text() == "Decision recorded."
        w.go("/audit?action=review_match")
        assert f"{left} ~ {right}" in w.page.locator("#audit").inner_text()
        w.check(artefacts / "audit-after-confirm.png")
        assert w.errors == [] and w.dialogs == []
    finally:
        w.close()


def test_viewer_is_refused_and_nothing_changes(browser, console, demo_store, artefacts):
    w = Watched(browser, console)
    try:
        w.sign_in("vic")
        w.go("/review")
        assert w.page.get_by_role("button", name="Confirm (same)").count() == 0
        pair = w.page.locator("section.pair").first
        left, right = pair.get_attribute("data-left"), pair.get_attribute("data-right")
        csrf = w.page.locator("input[name=csrf]").first.get_attribute("value")
        before = _store_state(demo_store)
        # the same request the steward's button sends, with this viewer's session and a valid token
        response = w.context.request.post(console + "/review/decide", form={
            "csrf": csrf, "left": left, "right": right, "action": "confirm"}, max_redirects=0)
        assert response.status == 403
        assert _store_state(demo_store) == before
        w.go("/customers/CUS-XSS")
        assert w.page.locator("h1").inner_text() == XSS
        assert w.dialogs == [] and w.errors == []
    finally:
        w.close()


def test_readable_on_a_phone_and_in_chinese(browser, console, artefacts):
    w = Watched(browser, console, width=390)
    try:
        w.sign_in("vic")
        w.page.get_by_role("link", name="中文").click()
        w.page.wait_for_load_state()
        assert w.page.locator("h1").inner_text() == "重点客户"
        for path in ["/accounts", "/runs", "/quality"]:
            w.go(path)
            # nothing wider than the phone: tables scroll inside their own box, not the page
            assert w.page.evaluate("document.documentElement.scrollWidth") <= 390, path
            w.check(artefacts / f"phone-zh-{path.strip('/')}.png")
        assert w.errors == []
    finally:
        w.close()
