"""The console in-process (Starlette's TestClient): sign-in, roles, CSRF, session expiry, escaping,
masking, CSV export, languages. The browser test (test_console_browser.py) drives the real thing."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from console_seed import LEFT, PASSWORDS, RIGHT, XSS, seed
from starlette.testclient import TestClient

from sync.access import Role
from sync.console import i18n
from sync.console.app import create_app
from sync.console.plain import plain_reasons
from sync.console.users import UserError, add_user, verify
from sync.store import Store
from sync.store.schema import audit_log, match_constraints, match_pairs

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "console.sqlite") as st:
        seed(st)
        yield st


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def client(store, clock):
    app = create_app(store, secret="k" * 40, session_seconds=600, clock=clock)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def token(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def sign_in(client, name: str) -> None:
    r = client.post("/login", data={"csrf": token(client.get("/login").text), "name": name,
                                    "password": PASSWORDS[name]}, follow_redirects=False)
    assert r.status_code == 303, r.text


def state(store) -> tuple:
    with store.engine.connect() as conn:
        return (conn.execute(sa.select(match_pairs.c.decision)).scalars().all(),
                conn.execute(sa.select(sa.func.count()).select_from(match_constraints)).scalar(),
                conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar())


def test_users_hash_passwords_and_check_them(store):
    with store.engine.connect() as conn:
        hashes = conn.execute(sa.text("select password_hash from console_users")).scalars().all()
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert PASSWORDS["stew"] not in " ".join(hashes)
    assert verify(store, "stew", PASSWORDS["stew"]) is Role.STEWARD
    assert verify(store, "stew", "wrong-password-1") is None
    assert verify(store, "nobody", PASSWORDS["stew"]) is None
    with pytest.raises(UserError):
        add_user(store, "short", "tiny", Role.VIEWER)


def test_users_add_reads_the_password_from_stdin_never_an_argument(tmp_path):
    db = tmp_path / "u.sqlite"
    r = subprocess.run([sys.executable, "-m", "sync", "users", "add", "ann", "--role", "operator", "--store", str(db)],
                       input="operator-password-1\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "operator-password-1" not in r.stdout + r.stderr
    with Store.open(db) as st:
        assert verify(st, "ann", "operator-password-1") is Role.OPERATOR
    r = subprocess.run([sys.executable, "-m", "sync", "users", "add", "bob", "--role", "boss", "--store", str(db)],
                       input="operator-password-1\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "unknown role" in r.stderr


def test_sign_in_is_required_and_wrong_passwords_are_refused(client):
    r = client.get("/accounts", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = client.post("/login", data={"csrf": token(client.get("/login").text), "name": "stew", "password": "nope"})
    assert r.status_code == 401 and "Wrong name or password" in r.text
    sign_in(client, "stew")
    assert client.get("/accounts").status_code == 200


def test_forms_without_the_csrf_token_are_refused(client, store):
    r = client.post("/login", data={"name": "stew", "password": PASSWORDS["stew"]})
    assert r.status_code == 403
    sign_in(client, "stew")
    before = state(store)
    r = client.post("/review/decide", data={"left": LEFT, "right": RIGHT, "action": "confirm", "csrf": "forged"})
    assert r.status_code == 403
    assert state(store) == before


def test_a_viewer_may_look_but_not_decide(client, store):
    sign_in(client, "vic")
    page = client.get("/review").text
    assert "Confirm (same)" not in page  # no buttons for a role that may not use them
    before = state(store)
    r = client.post("/review/decide", data={"left": LEFT, "right": RIGHT, "action": "confirm", "csrf": token(page)})
    assert r.status_code == 403
    assert state(store) == before
    r = client.post("/customers/G-A1/unmerge", data={"ref": LEFT, "csrf": token(page)})
    assert r.status_code == 403
    assert state(store) == before


def test_a_steward_confirms_through_the_review_code_and_the_audit_shows_it(client, store):
    sign_in(client, "stew")
    page = client.get("/review").text
    assert 'class="differs"' in page  # differing fields highlighted
    r = client.post("/review/decide", data={"left": LEFT, "right": RIGHT, "action": "confirm",
                                            "csrf": token(page)}, follow_redirects=True)
    assert r.status_code == 200 and "Decision recorded" in r.text
    decisions, constraints, _ = state(store)
    assert decisions == ["match"] and constraints == 1
    audit = client.get("/audit?action=review_match").text
    assert f"{LEFT} ~ {RIGHT}" in audit or "review_match" in audit
    with store.engine.connect() as conn:
        cols = {c["name"] for c in sa.inspect(conn).get_columns("audit_log")}
    if "actor" in cols:  # the audit's actor column (issue #15) records who decided
        assert ">stew<" in audit


def test_session_expires_after_a_period_without_use(client, clock):
    sign_in(client, "stew")
    assert client.get("/accounts").status_code == 200
    clock.now += 599  # still within 10 minutes of the last request: the session slides on
    assert client.get("/accounts").status_code == 200
    clock.now += 601
    r = client.get("/accounts", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_source_values_are_text_never_markup(client):
    sign_in(client, "stew")
    for path in ("/accounts", "/customers/G-A1", "/review"):
        page = client.get(path)
        assert XSS not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_personal_data_is_masked_for_a_viewer(client):
    sign_in(client, "vic")
    page = client.get("/customers/G-A1").text
    assert "owner@example.com" not in page and "a@example.com" not in page
    quality = client.get("/quality").text
    assert "+44 20 7946 0958" not in quality and "not-an-email" not in quality
    client.post("/logout", data={"csrf": token(page)})
    sign_in(client, "stew")
    assert "owner@example.com" in client.get("/customers/G-A1").text


def test_key_accounts_filter_sort_and_export(client):
    sign_in(client, "vic")
    page = client.get("/accounts?tier=A&sort=risk").text
    assert page.count('data-tier="A"') == 2 and 'data-tier="C"' not in page
    assert "revenue down 100% in 6 months; no contact for 244 days; invoices 1,036 days overdue" in page
    r = client.get("/accounts.csv?sort=revenue")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:3] == ["golden_id", "name", "tier"]
    assert [row[0] for row in rows[1:]] == ["G-A1", "G-A2", "G-B1", "G-C1"]
    assert rows[3][1].startswith("'=")  # a formula in a name is not run by a spreadsheet


def test_key_accounts_show_margin_and_its_trend_per_customer_and_tier(client):
    sign_in(client, "vic")
    page = client.get("/accounts?tier=A").text
    assert "Margin trend 6m" in page and "-40%" in page
    assert "350,000" in page  # tier A's margin: 225,000 + 125,000
    rows = list(csv.DictReader(io.StringIO(client.get("/accounts.csv").text)))
    assert {r["margin_change_6m"] for r in rows} == {"-0.4"}


def test_runs_page_shows_each_stage_with_its_duration(client):
    sign_in(client, "vic")
    page = client.get("/runs").text
    stages = page[page.index('class="stages"'):]
    assert re.search(r"checks</th><td>ok</td>\s*<td class=\"num\">12\.2", stages)
    assert re.search(r"enrich</th><td>skipped</td>\s*<td class=\"num\">–", stages)  # skipped: no duration
    assert '<meter min="0" max="12.25" value="3.5"' in stages


def test_migration_page_shows_plan_archive_and_its_checks(client):
    sign_in(client, "vic")
    page = client.get("/migration").text
    plan = page[page.index('id="plan"'):page.index("</table>", page.index('id="plan"'))]
    assert re.search(r"Account</th><td class=\"num\">1,780</td><td class=\"num\">12</td>"
                     r"<td class=\"num\">3</td><td class=\"num\">1,765</td>", plan)
    assert "Lead" in plan  # a stream nothing maps is named
    assert "<code>salesforce/Account.jsonl</code></td><td class=\"num\">1,780</td>" in page
    checks = page[page.index('id="archive-checks"'):]
    assert "intact: every file matches" in checks
    assert "SHA-256 does not match the manifest" in checks


def test_language_follows_the_browser_and_the_switch(client):
    page = client.get("/login", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert "登录" in page and 'lang="zh-Hans"' in page
    sign_in(client, "stew")
    client.get("/lang/zh")
    assert "重点客户" in client.get("/accounts").text
    assert "天无联系" in client.get("/accounts").text  # churn reasons in plain Chinese words too
    client.get("/lang/en")
    assert "Key accounts" in client.get("/accounts").text


def test_every_console_message_has_a_chinese_translation():
    from babel.messages.extract import extract_from_dir

    method_map = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
    found = {msg if isinstance(msg, str) else msg[0] for _, _, msg, _, _ in extract_from_dir(
        ROOT / "sync" / "console", method_map=method_map,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}})}
    zh = i18n.translations("zh")
    missing = sorted(m for m in found if zh.gettext(m) == m)
    assert not missing, missing


def test_plain_reasons_read_the_stored_factors():
    from console_seed import churn

    assert plain_reasons(churn(75)) == ["revenue down 100% in 6 months", "no contact for 244 days",
                                        "invoices 1,036 days overdue"]
    assert plain_reasons({"reasons": [{"factor": "odd", "value": 3, "contribution": 1,
                                       "note": "odd_measure = 3; 0 at 0"}]}) == ["odd: 3"]
    assert plain_reasons({"reasons": [{"factor": "silence", "value": None, "contribution": 1,
                                       "note": "no orders for 200 days"}]}) == ["no orders for 200 days"]


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_palette_contrast_meets_wcag_aa():
    css = (ROOT / "sync" / "console" / "static" / "console.css").read_text()
    palette = dict(re.findall(r"--([\w-]+):(#[0-9a-f]{6})", css))
    for name in ("ink", "muted", "link", "risk", "ok", "tier-a", "tier-b", "tier-c"):
        assert contrast(palette[name], "#ffffff") >= 4.5, name  # text on white, and white on tier badges
    assert contrast(palette["ink"], palette["diff"]) >= 4.5


def test_runs_page_shows_the_writeback_dry_run_diff(store, tmp_path, clock):
    run_id = store.runs(1)[0].run_id
    folder = tmp_path / "logs" / f"writeback-{run_id}"
    folder.mkdir(parents=True)
    (folder / "changes.csv").write_text("object,record,field,before,after\n"
                                        "Account,001A,CRM2_Tier__c,B,A\nAccount,001A,CRM2_Churn_Risk__c,,75\n")
    app = create_app(store, secret="k" * 40, clock=clock, logs=tmp_path / "logs")
    with TestClient(app, base_url="http://127.0.0.1") as c:
        sign_in(c, "vic")
        page = c.get("/runs").text
    assert "1 records would change" in page
    assert "<td>CRM2_Tier__c</td><td>B</td><td>A</td>" in page


def test_a_steward_unmerges_from_the_customer_page(client, store):
    sign_in(client, "stew")
    page = client.get("/customers/G-A1").text
    assert "Unmerge this record" not in page  # one source record: nothing to split
    with store.begin() as conn:  # link the second record to the same golden record
        conn.execute(sa.text("update crosswalk set golden_id = 'G-A1'"))
    page = client.get("/customers/G-A1").text
    r = client.post("/customers/G-A1/unmerge", data={"ref": RIGHT, "reason": "different company",
                                                     "csrf": token(page)}, follow_redirects=True)
    assert r.status_code == 200 and "Unmerge recorded" in r.text
    with store.engine.connect() as conn:
        kinds = conn.execute(sa.select(match_constraints.c.kind)).scalars().all()
        actions = conn.execute(sa.select(audit_log.c.action)).scalars().all()
    assert kinds == ["must_not_link"] and "unmerge" in actions


def test_removing_a_user_ends_their_session_and_role_changes_apply_at_once(client, store):
    from sync.console.users import remove_user

    sign_in(client, "stew")
    assert "Confirm (same)" in client.get("/review").text
    add_user(store, "stew", PASSWORDS["stew"], Role.VIEWER)
    assert "Confirm (same)" not in client.get("/review").text
    remove_user(store, "stew")
    assert client.get("/accounts", follow_redirects=False).status_code == 303


@pytest.mark.postgres
def test_every_page_on_postgresql(fresh_postgres_db):
    with Store.open(fresh_postgres_db) as st:
        seed(st)
        with TestClient(create_app(st, secret="k" * 40), base_url="http://127.0.0.1") as c:
            sign_in(c, "stew")
            for path in ("/accounts", "/accounts.csv", "/customers/G-A1", "/review", "/quality", "/runs", "/migration",
                         "/audit"):
                assert c.get(path).status_code == 200, path
            page = c.get("/review").text
            r = c.post("/review/decide", data={"left": LEFT, "right": RIGHT, "action": "reject", "csrf": token(page)})
            assert r.status_code == 200
        assert state(st)[0] == ["rejected"]


def test_key_accounts_follow_changes_to_golden_records(client, store):
    from datetime import UTC, datetime

    from sync.store.schema import golden
    from sync.store.store import AuditEntry

    sign_in(client, "vic")
    assert client.get("/accounts?tier=C").text.count('data-tier="C"') == 1
    with store.begin() as conn:  # a later enrichment moves a customer to tier C
        data = conn.execute(sa.select(golden.c.data).where(golden.c.golden_id == "G-B1")).scalar()
        conn.execute(golden.update().where(golden.c.golden_id == "G-B1").values(
            data={**data, "tier": "C"}, updated_at=datetime.now(UTC)))
    assert client.get("/accounts?tier=C").text.count('data-tier="C"') == 2
    with store.begin() as conn:  # an erasure rewrites a record without updated_at, and audits it
        data = conn.execute(sa.select(golden.c.data).where(golden.c.golden_id == "G-C1")).scalar()
        conn.execute(golden.update().where(golden.c.golden_id == "G-C1").values(data={**data, "name": "erased"}))
        store.audit(conn, [AuditEntry("erase", "crm2", "golden_customer", "G-C1")], None)
    page = client.get("/accounts?tier=C").text
    assert "erased" in page and "Small Shop" not in page


def test_repeated_wrong_passwords_pause_that_name(client, clock):
    for _ in range(5):
        r = client.post("/login", data={"csrf": token(client.get("/login").text), "name": "stew", "password": "x" * 12})
        assert r.status_code == 401
    r = client.post("/login", data={"csrf": token(client.get("/login").text), "name": "stew",
                                    "password": PASSWORDS["stew"]})
    assert r.status_code == 429  # even the right password waits
    clock.now += 301
    sign_in(client, "stew")


def test_an_empty_value_never_shows_the_catalog_header():
    i18n.activate("zh")
    try:
        assert i18n.gettext_("") == ""
    finally:
        i18n.activate("en")
