"""tap-crm2 as a real process: one record per live golden customer with its scores and Salesforce
Ids; incremental on (updated_at, golden_id) so ties cut by a run are neither lost nor repeated;
full_refresh reads everything again."""

from __future__ import annotations

from decimal import Decimal

from tap_crm2_store import add_customer, run_tap, scores, touch, ts

from sync.store import Store


def test_records_carry_scores_account_ids_and_skip_merged_customers(tmp_path):
    db = tmp_path / "store.sqlite"
    with Store.open(db) as store:
        add_customer(store, "CUS-A", ts(1), accounts=("001AAA000000000001", "001AAA000000000002"),
                     data=scores("A", 81.5, 12.25))
        add_customer(store, "CUS-B", ts(2))
        add_customer(store, "CUS-GONE", ts(3), merged_into="CUS-A")
    records, state = run_tap(tmp_path, db)
    assert [r["golden_id"] for r in records] == ["CUS-A", "CUS-B"]
    a = records[0]
    assert a["salesforce_account_ids"] == ["001AAA000000000001", "001AAA000000000002"]
    assert (a["tier"], a["health_score"], a["churn_risk"]) == ("A", 81.5, 12.25)
    assert a["satisfaction_score"] is None and a["satisfaction_band"] == "no_data"  # "n/a" is no number
    assert a["churn_reasons"] == "long_silence 12.25"
    assert a["scored_at"].startswith("2026-11-01T00:00:00")
    # money arrives digit for digit, never through a float
    assert Decimal(str(a["clv"])) == Decimal("12345678901234.56")
    assert records[1]["salesforce_account_ids"] == []
    assert state is not None and state["bookmarks"]["customer_scores"]["replication_key_last_key"] == "CUS-B"


def test_incremental_runs_lose_nothing_and_repeat_nothing_at_timestamp_ties(tmp_path):
    db = tmp_path / "store.sqlite"
    with Store.open(db) as store:
        for gid in ("CUS-1", "CUS-2", "CUS-3"):
            add_customer(store, gid, ts(5))  # one enrich batch: one shared updated_at
    first, state = run_tap(tmp_path, db)
    assert [r["golden_id"] for r in first] == ["CUS-1", "CUS-2", "CUS-3"]

    # a bookmark cut in the middle of the tie (as a run stopped after CUS-2 would leave it)
    cut = {"bookmarks": {"customer_scores": {"replication_key": "updated_at",
                                             "replication_key_value": first[1]["updated_at"],
                                             "replication_key_last_key": "CUS-2"}}}
    rest, _ = run_tap(tmp_path, db, cut)
    assert [r["golden_id"] for r in rest] == ["CUS-3"]

    again, state2 = run_tap(tmp_path, db, state)
    assert again == []
    with Store.open(db) as store:
        touch(store, "CUS-1", ts(6), scores("A", 90.0, 1.0))  # a changed customer moves to the end
        add_customer(store, "CUS-4", ts(5, 1))  # one microsecond after the tie
    later, _ = run_tap(tmp_path, db, state2)
    assert [r["golden_id"] for r in later] == ["CUS-4", "CUS-1"]
    assert later[1]["tier"] == "A"


def test_full_refresh_ignores_the_bookmark(tmp_path):
    db = tmp_path / "store.sqlite"
    with Store.open(db) as store:
        add_customer(store, "CUS-1", ts(1))
        add_customer(store, "CUS-2", ts(2))
    _, state = run_tap(tmp_path, db)
    assert run_tap(tmp_path, db, state)[0] == []
    records, _ = run_tap(tmp_path, db, state, full_refresh=True)
    assert [r["golden_id"] for r in records] == ["CUS-1", "CUS-2"]
