"""A small store for the console tests: customers (one named like an attack), a review pair, checks,
quarantine and a run — written straight into the tables the pipeline fills."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.access import Role
from sync.console.users import add_user
from sync.store import Store
from sync.store.schema import (
    check_results,
    crosswalk,
    golden,
    match_pairs,
    match_records,
    quarantine,
    staging,
)

XSS = "<script>alert(1)</script>"
PASSWORDS = {"stew": "steward-password-1", "vic": "viewer-password-1"}
LEFT, RIGHT = "salesforce/Account/001A", "finance/customers/C1"


def churn(value: float) -> dict:
    return {"name": "churn_risk", "value": value, "band": "high" if value >= 60 else "low", "reasons": [
        {"factor": "falling_revenue", "value": -1.0, "contribution": 30.0,
         "note": "revenue_change_6m = -1.0; 0 at 0, full at -0.6"},
        {"factor": "long_silence", "value": 244.0, "contribution": 25.0,
         "note": "days_since_last_activity = 244.0; 0 at 45, full at 180"},
        {"factor": "overdue_invoices", "value": 1036.0, "contribution": 20.0,
         "note": "overdue_days_max = 1036.0; 0 at 0, full at 90"},
        {"factor": "open_complaints", "value": 0.0, "contribution": 0.0, "note": "open_complaints = 0.0"}]}


def clv(revenue: int) -> dict:
    margin = revenue // 4
    return {"name": "clv", "value": str(margin * 2), "reasons": [
        {"factor": "annual_margin", "value": str(margin), "contribution": float(margin), "note": "margin_12m"},
        {"factor": "margin_trend", "value": -0.4, "contribution": 0.0, "note": "margin_change_6m"}]}


def seed_migration(store: Store) -> None:
    """A plan, an archive and two checks of it, as `crm2 migrate` records them."""
    plan = store.start_run("migrate-plan")
    store.finish_run(plan, status="ok", exit_code=0, counts={"plan": {"salesforce": {
        "objects": {"Account": {"stream": "Account", "records": 1780, "deleted": 12, "without_key": 3,
                                "in_crm2": 1765}},
        "unmapped_streams": ["Lead"], "errors": 0, "warnings": 0}}})
    archive = store.start_run("migrate-archive")
    store.finish_run(archive, status="ok", exit_code=0, counts={"archived": {"salesforce/Account.jsonl": 1780}})
    for problems in ([], ["salesforce/Account.jsonl: SHA-256 does not match the manifest (the file was changed)"]):
        check = store.start_run("migrate-archive-check")
        store.finish_run(check, status="failed" if problems else "ok", exit_code=1 if problems else 0, counts={
            "archive": "/srv/archive/2026-11", "archive_run_id": archive, "files": 1, "rows": 1780,
            "problems": problems, "more_problems": 0})


def seed(store: Store) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    people = [("G-A1", XSS, "A", 900000, 75.0), ("G-A2", "Delun Printing 德伦印刷", "A", 500000, 10.0),
              ("G-B1", "=HYPERLINK(\"http://evil\")", "B", 40000, 30.0), ("G-C1", "Small Shop", "C", 100, 5.0)]
    rows = []
    for gid, name, tier, revenue, risk in people:
        rows.append({"golden_id": gid, "entity": "customer", "created_at": now, "updated_at": now, "data": {
            "name": name, "email": "owner@example.com", "phone": "+8613800138000", "tier": tier,
            "lifecycle_stage": "at_risk" if risk >= 60 else "stable",
            "lineage": {"name": {"source": LEFT, "rule": "source_priority"},
                        "email": {"source": RIGHT, "rule": "most_recent"}},
            "scores": {"tier": {"name": "tier", "value": tier, "reasons": [
                {"factor": "revenue_12m", "value": str(revenue), "contribution": 1.0, "note": "share"}]},
                "churn_risk": churn(risk), "clv": clv(revenue)}}})
    with store.begin() as conn:
        conn.execute(golden.insert(), rows)
        for ref, gid, data in ((LEFT, "G-A1", {"name": XSS, "email": "a@example.com", "country": "CN"}),
                               (RIGHT, "G-A2", {"name": "Delun Printing", "email": "a@example.com", "country": "TW"})):
            system, obj, sid = ref.split("/")
            key = {"source_system": system, "source_object": obj, "source_id": sid}
            conn.execute(staging.insert().values(**key, entity="customer", data=data, content_hash="h",
                                                 updated_at=now))
            conn.execute(crosswalk.insert().values(**key, entity="customer", golden_id=gid, content_hash="h",
                                                   status="loaded", updated_at=now))
            conn.execute(match_records.insert().values(**key, entity="customer", content_hash="h", features={}))
        rids = sorted(conn.execute(match_records.select()).all(), key=lambda r: r.rid)
        conn.execute(match_pairs.insert().values(
            entity="customer", left_rid=rids[0].rid, right_rid=rids[1].rid, weight=7.5, decision="review",
            rule="score", details={"levels": [["name", "similar", 6.2], ["country", "different", -2.1],
                                              ["email", "same", 9.0]]}))
        conn.execute(quarantine.insert().values(stream="Contact", source_system="salesforce", source_object="Contact",
                                                source_id="003X", reason="email: not a valid email address",
                                                record={"email": "not-an-email", "note": "call +44 20 7946 0958"},
                                                created_at=now))
    seed_migration(store)
    run_id = store.start_run("sync")
    store.finish_run(run_id, status="partial", exit_code=3, counts={
        "staged": {"salesforce/Account": 1}, "quarantined": 1,
        "stages": {"checks": {"status": "ok", "checks": 1, "seconds": 12.25},
                   "enrich": {"status": "skipped"},
                   "writeback": {"status": "ok", "written": 0, "seconds": 3.5}}})
    with store.begin() as conn:
        conn.execute(check_results.insert().values(run_id=run_id, check="customer_email_format", entity="customer",
                                                   severity="warn", passed=False, failing=1, total=2, at=now,
                                                   details={"sample": [LEFT], "reasons": {"bad e-mail": 1}}))
    add_user(store, "stew", PASSWORDS["stew"], Role.STEWARD)
    add_user(store, "vic", PASSWORDS["vic"], Role.VIEWER)
