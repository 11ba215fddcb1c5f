"""Real Singer pipes into target-crm2: crm2's finance and sales taps, and a tap from PyPI.

Each tap runs as its own process and writes into an OS pipe that target-crm2 reads, exactly
as ``crm2 sync`` runs them. The store is then read back: staged rows, crosswalk, bookmark.
"""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from target_crm2_support import ROOT, StoreView, pipe, write_config

sys.path.insert(0, str(ROOT / "tests" / "connectors" / "finance"))
sys.path.insert(0, str(ROOT / "tests" / "connectors" / "sales"))

from finance_ledger_data import ledger_records
from sales_api_data import TOKEN_ENV, base_config, sales_records

from connectors.finance import ledger
from connectors.finance.standin import write_ledger
from connectors.sales.standin import RateLimit, SalesStandIn

MAPPINGS = ROOT / "mappings"
THIRDPARTY = ROOT / "tests" / "fixtures" / "thirdparty"


def test_finance_tap_piped_into_target_loads_every_table(tmp_path):
    ledger_path = tmp_path / "finance.sqlite"
    write_ledger(ledger_path, ledger_records())
    store = tmp_path / "store.sqlite"
    config = write_config(tmp_path, store_url=store, mapping=MAPPINGS / "finance.yml", run_id="run-1")
    tap_exit, run = pipe("tap-crm2-finance", {"url": f"sqlite:///{ledger_path}"}, config, tmp_path)
    assert (tap_exit, run.exit_code) == (0, 0), run.stderr[-2000:]

    view = StoreView(store)
    invoices = view.staged("invoices")
    assert set(invoices) == {"INV-0001", "INV-0002", "INV-0003", "INV-0004"}
    assert invoices["INV-0002"]["amount"] == "12345678901234.56"  # exact money, never a float
    assert invoices["INV-0001"]["customer"] == "C0000001"
    assert view.staged("credit_notes")["CN-0001"]["amount"] == "-19.00"
    assert set(view.staged("customers")) == {"C0000001", "C0000002"}
    assert set(view.crosswalk().values()) == {"loaded"} and len(view.crosswalk()) == 8
    assert view.scalar("select count(distinct run_id) from staging") == 1
    # The bookmark is the tap's last state, saved in the store, and equal to what the target emitted.
    bookmark = view.bookmark("finance")
    assert bookmark == run.states[-1]
    assert bookmark["bookmarks"]["invoices"]["replication_key_last_key"] == ["INV-0004"]
    counts = run.counts()
    assert counts["invoices"]["plans"]["invoices"]["inserted"] == 4

    # Resume from the saved bookmark after a change at the source: only the changed row moves.
    engine = ledger.sa.create_engine(f"sqlite:///{ledger_path}")
    with engine.begin() as conn:
        conn.execute(ledger.invoices.update().where(ledger.invoices.c.invoice_no == "INV-0003")
                     .values(status="paid", updated_at=ledger.parse_timestamp("2026-03-09T00:00:00Z")))
    engine.dispose()
    config = write_config(tmp_path, store_url=store, mapping=MAPPINGS / "finance.yml", run_id="run-2")
    tap_exit, run2 = pipe("tap-crm2-finance", {"url": f"sqlite:///{ledger_path}"}, config, tmp_path,
                          state_value=bookmark)
    assert (tap_exit, run2.exit_code) == (0, 0), run2.stderr[-2000:]
    assert view.staged("invoices")["INV-0003"]["status"] == "paid"
    assert view.rows("select source_id from staging where run_id = 'run-2'")[0].source_id == "INV-0003"
    assert view.bookmark("finance")["bookmarks"]["invoices"]["replication_key_last_key"] == ["INV-0003"]
    view.close()


@pytest.fixture
def sales_standin(monkeypatch):
    server = SalesStandIn(rate_limit=RateLimit())
    server.load(sales_records(n_orders=12))
    server.start()
    monkeypatch.setenv(TOKEN_ENV, server.token)
    yield server
    server.stop()


def test_sales_tap_piped_into_target_over_loopback_http(tmp_path, sales_standin):
    store = tmp_path / "store.sqlite"
    config = write_config(tmp_path, store_url=store, mapping=MAPPINGS / "sales.yml")
    tap_exit, run = pipe("tap-crm2-sales", base_config(sales_standin), config, tmp_path)
    assert (tap_exit, run.exit_code) == (0, 0), run.stderr[-2000:]

    view = StoreView(store)
    assert set(view.staged("accounts")) == {"ACC-0000", "ACC-0001", "ACC-0002"}
    # one stream, two entities: each account is also a contact person
    contacts = view.staged("account_contacts")
    assert contacts["ACC-0001"]["last_name"] == "Lee" and contacts["ACC-0001"]["customer"] == "ACC-0001"
    orders = view.staged("orders")
    assert len(orders) == 12 and orders["SO-00000"]["total"] == "12345678901234.56"
    assert set(view.staged("opportunities")) == {"Q-0001"}
    # order_lines has no mapping and sales.yml lists it under ignore: skipped, counted, reported once
    assert view.scalar("select count(*) from staging where source_object = 'order_lines'") == 0
    assert run.counts()["order_lines"]["skipped"] == 12
    assert "stream order_lines is under 'ignore:' in sales.yml" in run.stderr
    assert view.bookmark("sales")["bookmarks"]["orders"]["replication_key_last_key"] == ["SO-00011"]
    # no personal data from the records in the target's log
    assert "ann0@example.com" not in run.stderr and "Ann Lee" not in run.stderr
    view.close()


def test_a_pypi_tap_with_its_own_mapping_loads_correctly(tmp_path):
    """tap-jsonfile (a third-party singer-sdk tap from PyPI) reading a local file, mapped by a YAML
    file written only for it."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(THIRDPARTY / "members.json", data / "members.json")
    tap_config = {"paths": [str(data / "*.json")], "stream_name": "members"}
    store = tmp_path / "store.sqlite"
    config = write_config(tmp_path, store_url=store, mapping=THIRDPARTY / "members.yml",
                          bookmark_name="members-file")
    tap_exit, run = pipe("tap-jsonfile", tap_config, config, tmp_path)
    assert (tap_exit, run.exit_code) == (0, 0), run.stderr[-2000:]

    view = StoreView(store)
    customers = view.staged("members")
    assert set(customers) == {"101", "102", "103"}
    assert customers["101"]["name"] == "Nordwind Handel GmbH"
    assert customers["101"]["phone"] == "+4930901820" and customers["101"]["country"] == "DE"
    assert customers["102"]["name"] == "Harbour & Co. Ltd"
    assert customers["103"]["phone"] == "+862162321234"
    walk = view.crosswalk("members")
    assert walk[("members", "104")] == "deleted"  # status: closed
    assert walk[("members", "105")] == "quarantined"  # no organisation name
    held = view.quarantine()
    assert [(r.source_object, r.source_id, r.field, r.reason) for r in held] == [
        ("members", "105", "name", "required field is missing")]
    kept = held[0].record if isinstance(held[0].record, dict) else json.loads(held[0].record)
    masked = json.dumps(kept, ensure_ascii=False)
    assert "jean.petit" not in masked and "Jean Petit" not in masked and "42 68 53" not in masked
    assert kept["member_id"] == 105 and kept["country"] == "FR"  # ids and plain fields stay readable
    assert kept["contact"]["email"].endswith("@example.org")
    contacts = view.staged("member_contacts")
    assert len(contacts) == 5 and contacts["104"]["email"] == "aoife@oldmill.example"
    assert contacts["101"]["customer"] == "101" and contacts["101"]["first_name"] == "Greta"
    assert "file_hashes" in view.bookmark("members-file")["bookmarks"]["members"]

    # One record fixed at the source: the tap re-reads the file, only that record changes, and
    # its quarantine row is closed.
    rows = json.loads((data / "members.json").read_text())
    rows[4]["org"] = "Petit Atelier SARL"
    (data / "members.json").write_text(json.dumps(rows))
    tap_exit, run2 = pipe("tap-jsonfile", tap_config, config, tmp_path,
                          state_value=view.bookmark("members-file"))
    assert (tap_exit, run2.exit_code) == (0, 0), run2.stderr[-2000:]
    plans = run2.counts()["members"]["plans"]
    assert plans["members"] == {"inserted": 1, "updated": 0, "unchanged": 4, "deleted": 0, "quarantined": 0,
                                "unprocessed": 0}
    # the contact read from that record maps to what is staged already: not rewritten
    assert plans["member_contacts"]["unchanged"] == 5 and plans["member_contacts"]["updated"] == 0
    assert view.crosswalk("members")[("members", "105")] == "loaded"
    assert view.staged("members")["105"]["name"] == "Petit Atelier SARL"
    assert view.quarantine() == []
    view.close()


def test_salesforce_tap_piped_into_target_over_https(tmp_path, monkeypatch):
    """tap-crm2-salesforce against the Salesforce stand-in (HTTPS, OAuth), into target-crm2."""
    from connectors.salesforce.standin import SalesforceStandIn

    sf = SalesforceStandIn(tmp_path / "org.sqlite", host="127.0.0.1", port=0)
    sf.start()
    try:
        stamp = "2026-10-01T08:00:00Z"
        sf.insert("Account", [
            {"Id": "001PIPE00000000001", "Name": " Nordwind Handel GmbH ", "BillingCountry": "Germany",
             "Phone": "030 901820", "Type": "Channel Partner / Reseller", "SystemModstamp": stamp},
            {"Id": "001PIPE00000000002", "Name": "Harbour Ltd", "BillingCountry": "GB", "SystemModstamp": stamp,
             "ParentId": "001PIPE00000000001"},
        ])
        sf.insert("Contact", [{"Id": "003PIPE00000000001", "LastName": "Lind", "FirstName": "Greta",
                               "AccountId": "001PIPE00000000001", "Email": "Greta@Nordwind.example",
                               "SystemModstamp": stamp}])
        monkeypatch.setenv("CRM2_PIPE_SF_SECRET", sf.credentials["client_secret"])
        tap_config = {"instance_url": sf.url, "ca_bundle": str(sf.ca_path), "auth_flow": "client_credentials",
                      "client_id": sf.credentials["client_id"], "client_secret_env": "CRM2_PIPE_SF_SECRET",
                      "objects": ["Account", "Contact"], "retry_initial_wait": 0.01, "retry_max_wait": 0.05}
        store = tmp_path / "store.sqlite"
        config = write_config(tmp_path, store_url=store, mapping=MAPPINGS / "salesforce.yml")
        tap_exit, run = pipe("tap-crm2-salesforce", tap_config, config, tmp_path)
        assert (tap_exit, run.exit_code) == (0, 0), (tmp_path / "tap.log").read_text()[-2000:] + run.stderr[-2000:]
    finally:
        sf.stop()

    view = StoreView(store)
    accounts = view.staged("Account")
    assert set(accounts) == {"001PIPE00000000001", "001PIPE00000000002"}
    assert accounts["001PIPE00000000001"]["kind"] == "partner"
    assert accounts["001PIPE00000000001"]["country"] == "DE"
    assert accounts["001PIPE00000000002"]["parent"] == "001PIPE00000000001"
    contact = view.staged("Contact")["003PIPE00000000001"]
    assert contact["customer"] == "001PIPE00000000001" and contact["email"] == "greta@nordwind.example"
    assert set(view.crosswalk().values()) == {"loaded"}
    assert view.bookmark("salesforce") == run.states[-1]
    assert "bookmarks" in view.bookmark("salesforce")
    assert "Greta@Nordwind" not in run.stderr
    view.close()
