"""tap-crm2-finance against a real PostgreSQL holding the same ledger as the SQLite stand-in."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from finance_ledger_data import T0, ledger_records, run_tap

from connectors.finance import ledger

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_ledger(fresh_postgres_db):
    engine = sa.create_engine(fresh_postgres_db)
    ledger.load(engine, ledger_records())
    yield fresh_postgres_db, engine
    engine.dispose()


def test_postgres_ledger_has_numeric_and_timestamptz_columns(pg_ledger):
    _, engine = pg_ledger
    with engine.connect() as conn:
        types = dict(conn.execute(sa.text(
            "SELECT column_name, data_type || coalesce('(' || numeric_precision || ',' || numeric_scale || ')', '') "
            "FROM information_schema.columns WHERE table_name = 'invoices'")).all())
    assert types["total_amount"] == "numeric(18,2)"
    assert types["updated_at"] == "timestamp with time zone"
    assert types["issue_date"] == "date"


def test_postgres_incremental_exact_and_tie_safe(pg_ledger, capsys):
    url, engine = pg_ledger
    config = {"url": url}
    records, state, out = run_tap(config, capsys)
    assert [m["record"]["invoice_no"] for m in records if m["stream"] == "invoices"] == [
        "INV-0001", "INV-0002", "INV-0003", "INV-0004"]
    assert '"net_amount":0.10,"tax_amount":0.20,"total_amount":0.30' in out
    assert '"total_amount":12345678901234.56' in out
    assert state["bookmarks"]["invoices"]["replication_key_last_key"] == ["INV-0004"]

    # PostgreSQL holds what SQLite cannot: 18 significant digits, exactly.
    with engine.begin() as conn:
        conn.execute(ledger.invoices.insert(), ledger.to_row(ledger.invoices, {
            "invoice_no": "INV-0005", "net_amount": "9999999999999999.99", "tax_amount": "0.00",
            "total_amount": "9999999999999999.99", "updated_at": T0}))
        later = datetime(2026, 4, 1, tzinfo=UTC)
        conn.execute(ledger.payments.update().values(amount=Decimal("0.31"), updated_at=later))
    records2, _, out2 = run_tap(config, capsys, state=state)
    assert [(m["stream"], m["record"].get("payment_id") or m["record"]["invoice_no"]) for m in records2] == [
        ("invoices", "INV-0005"), ("payments", "PAY-0001")]
    assert '"net_amount":9999999999999999.99' in out2
    assert '"amount":0.31' in out2


def test_values_without_a_json_spelling_and_unusual_column_types(pg_ledger, capsys):
    """A NUMERIC 'NaN' is sent as null (the tap converts plain columns itself, singer-sdk's
    conformance skipped); a table with a column type the tap does not convert (interval, bytea)
    still goes through singer-sdk's conformance, so its values reach the line as text."""
    url, engine = pg_ledger
    with engine.begin() as conn:
        conn.execute(ledger.invoices.insert(), ledger.to_row(ledger.invoices, {
            "invoice_no": "INV-NAN", "updated_at": T0}))
        conn.execute(sa.text("UPDATE invoices SET total_amount = 'NaN' WHERE invoice_no = 'INV-NAN'"))
        conn.execute(sa.text("CREATE TABLE adjustments (adj_no text PRIMARY KEY, grace interval, blob bytea, "
                             "updated_at timestamptz NOT NULL)"))
        conn.execute(sa.text("INSERT INTO adjustments VALUES ('A1', interval '2 days', '\\xcafe', :t)"), {"t": T0})
    config = {"url": url, "streams": {"adjustments": {"key": "adj_no", "replication_key": "updated_at"}}}
    records, _, out = run_tap(config, capsys)
    [nan] = [m["record"] for m in records if m["record"].get("invoice_no") == "INV-NAN"]
    assert nan["total_amount"] is None and "NaN" not in out
    [adjustment] = [m["record"] for m in records if m["stream"] == "adjustments"]
    assert adjustment["blob"] == "cafe"
    assert isinstance(adjustment["grace"], str)
