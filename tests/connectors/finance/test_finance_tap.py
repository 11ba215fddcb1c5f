"""tap-crm2-finance on SQLite: incremental without loss at ties, full table, overrides, exact money."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from finance_ledger_data import T0, T1, run_tap
from finance_ledger_data import ledger_path as ledger_path  # a fixture

from connectors.finance import ledger


def ids(records, stream):
    key = {"customers": "customer_no", "invoices": "invoice_no", "payments": "payment_id",
           "credit_notes": "credit_note_no"}[stream]
    return [m["record"][key] for m in records if m["stream"] == stream]


def test_first_run_reads_every_table_in_change_order(ledger_path, capsys):
    records, state, _ = run_tap({"url": f"sqlite:///{ledger_path}"}, capsys)
    assert ids(records, "customers") == ["C0000001", "C0000002"]
    assert ids(records, "invoices") == ["INV-0001", "INV-0002", "INV-0003", "INV-0004"]
    assert ids(records, "payments") == ["PAY-0001"]
    assert ids(records, "credit_notes") == ["CN-0001"]
    bookmark = state["bookmarks"]["invoices"]
    assert bookmark["replication_key_value"] == "2026-03-01T09:30:00.000000+00:00"
    assert bookmark["replication_key_last_key"] == ["INV-0004"]


def test_second_run_emits_only_new_and_changed_rows(ledger_path, capsys):
    config = {"url": f"sqlite:///{ledger_path}"}
    _, state, _ = run_tap(config, capsys)
    engine = sa.create_engine(f"sqlite:///{ledger_path}")
    later = datetime(2026, 3, 5, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(ledger.invoices.update().where(ledger.invoices.c.invoice_no == "INV-0002")
                     .values(status="paid", updated_at=later))
        # A new row in the same second as the bookmark, after it in key order: must not be lost.
        conn.execute(ledger.invoices.insert(), ledger.to_row(ledger.invoices, {
            "invoice_no": "INV-0005", "customer_no": "C0000002", "net_amount": "1.00", "tax_amount": "0.00",
            "total_amount": "1.00", "updated_at": T0}, sqlite=True))
    engine.dispose()

    records, state2, _ = run_tap(config, capsys, state=state)
    assert ids(records, "invoices") == ["INV-0005", "INV-0002"]
    assert [m["record"]["status"] for m in records if m["stream"] == "invoices"] == [None, "paid"]
    assert ids(records, "customers") == [] and ids(records, "payments") == [] and ids(records, "credit_notes") == []
    assert state2["bookmarks"]["invoices"]["replication_key_last_key"] == ["INV-0002"]

    records3, _, _ = run_tap(config, capsys, state=state2)
    assert records3 == []


def test_a_run_cut_inside_a_timestamp_tie_resumes_after_the_last_key(ledger_path, capsys):
    # As if the previous run stopped after INV-0002, two rows into the four-row tie at T0.
    state = {"bookmarks": {"invoices": {"replication_key": "updated_at", "replication_key_value": T0,
                                        "replication_key_last_key": ["INV-0002"]}}}
    records, _, _ = run_tap({"url": f"sqlite:///{ledger_path}"}, capsys, state=state)
    assert ids(records, "invoices") == ["INV-0003", "INV-0004"]


def test_start_date_bounds_a_first_run_inclusively(ledger_path, capsys):
    records, _, _ = run_tap({"url": f"sqlite:///{ledger_path}", "start_date": T1}, capsys)
    assert ids(records, "customers") == ["C0000002"]
    assert ids(records, "invoices") == []
    assert ids(records, "payments") == ["PAY-0001"]


def test_stream_without_replication_column_is_read_whole_every_run(ledger_path, capsys):
    config = {"url": f"sqlite:///{ledger_path}", "streams": {"customers": {"replication_key": None},
                                                             "payments": {"enabled": False}}}
    records, state, _ = run_tap(config, capsys)
    assert ids(records, "customers") == ["C0000001", "C0000002"]
    assert ids(records, "payments") == []
    records2, _, _ = run_tap(config, capsys, state=state)
    assert ids(records2, "customers") == ["C0000001", "C0000002"]
    assert "replication_key_value" not in state["bookmarks"].get("customers", {})


def test_table_key_and_replication_column_come_from_config(tmp_path, capsys):
    path = tmp_path / "erp.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ar_documents (company TEXT, doc_no INTEGER, total NUMERIC(18,2), "
                             "changed TIMESTAMP, PRIMARY KEY (company, doc_no))")
        conn.exec_driver_sql("INSERT INTO ar_documents VALUES ('A', 2, 0.2, '2026-01-01 00:00:00.000000'), "
                             "('A', 1, 0.1, '2026-01-01 00:00:00.000000'), ('B', 1, 7, '2025-12-31 00:00:00.000000')")
    engine.dispose()
    config = {"url": f"sqlite:///{path}",
              "streams": {"invoices": {"table": "ar_documents", "key": ["company", "doc_no"],
                                       "replication_key": "changed"},
                          **{name: {"enabled": False} for name in ("customers", "payments", "credit_notes")}}}
    records, state, out = run_tap(config, capsys)
    assert [(m["record"]["company"], m["record"]["doc_no"]) for m in records] == [("B", 1), ("A", 1), ("A", 2)]
    assert state["bookmarks"]["invoices"]["replication_key_last_key"] == ["A", 2]
    assert '"total":0.10' in out and '"total":0.20' in out and '"total":7.00' in out
    schema = next(json.loads(line) for line in out.splitlines() if '"SCHEMA"' in line)
    assert schema["key_properties"] == ["company", "doc_no"]
    assert schema["bookmark_properties"] == ["changed"]


def test_money_is_decimal_digit_for_digit_in_the_message_text(ledger_path, capsys):
    _, _, out = run_tap({"url": f"sqlite:///{ledger_path}"}, capsys)
    assert '"net_amount":0.10,"tax_amount":0.20,"total_amount":0.30' in out
    assert '"net_amount":12345678901234.56' in out
    assert "e+13" not in out and "E+13" not in out
    parsed = [json.loads(line, parse_float=Decimal) for line in out.splitlines() if '"INV-0001"' in line]
    record = parsed[0]["record"]
    assert record["net_amount"] + record["tax_amount"] == record["total_amount"] == Decimal("0.30")


def test_ledger_tables_have_proper_types_and_change_indexes(ledger_path):
    engine = sa.create_engine(f"sqlite:///{ledger_path}")
    inspector = sa.inspect(engine)
    columns = {c["name"]: c["type"] for c in inspector.get_columns("invoices")}
    assert isinstance(columns["total_amount"], sa.Numeric) and columns["total_amount"].scale == 2
    assert isinstance(columns["issue_date"], sa.Date)
    assert isinstance(columns["updated_at"], sa.DateTime)
    assert inspector.get_pk_constraint("invoices")["constrained_columns"] == ["invoice_no"]
    for table, key in (("customers", "customer_no"), ("invoices", "invoice_no"), ("payments", "payment_id"),
                       ("credit_notes", "credit_note_no")):
        indexed = [ix["column_names"] for ix in inspector.get_indexes(table)]
        assert ["updated_at", key] in indexed
    engine.dispose()


def test_sqlite_ledger_refuses_an_amount_it_cannot_store_exactly(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'l.sqlite'}")
    with pytest.raises(ledger.LedgerValueError, match=r"invoices\.net_amount of INV-9.*SQLite"):
        ledger.load(engine, [("invoices", {"invoice_no": "INV-9", "net_amount": "9999999999999999.99",
                                           "updated_at": T0})])
    engine.dispose()


def test_unknown_objects_are_skipped_and_unknown_fields_named_without_values(tmp_path, caplog):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'l.sqlite'}")
    counts = ledger.load(engine, [("Account", {"Id": "001"}),
                                  ("customers", {"customer_no": "C9", "name": "X", "iban": "DE89370400440532013000",
                                                 "updated_at": T0})])
    engine.dispose()
    assert counts["customers"] == 1
    assert "iban" in caplog.text and "DE8937" not in caplog.text


def test_standin_writes_the_generators_finance_objects_and_points_the_tap_at_them(tmp_path, capsys):
    pytest.importorskip("synthetic", reason="the synthetic generator is not in this checkout yet")
    from connectors.finance import standin

    handle = standin.start(tmp_path, customers=20, seed=7)
    assert handle.name == "finance"
    assert handle.tap_config == {"url": f"sqlite:///{tmp_path / 'finance.sqlite'}"}
    assert handle.counts["customers"] >= 15 and handle.counts["invoices"] > 0
    assert "finance.sqlite" in handle.describe()
    records, _, _ = run_tap(handle.tap_config, capsys)
    assert len(records) == sum(handle.counts.values())
    handle.stop()
