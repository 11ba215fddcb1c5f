"""Ledger data built in the tests (the generator's finance objects, a handful of rows each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.finance.standin import write_ledger
from connectors.finance.tap import TapFinance

T0 = "2026-03-01T09:30:00Z"
T1 = "2026-03-02T10:00:00Z"


def ledger_records() -> list[tuple[str, dict[str, Any]]]:
    """Two customers; four invoices sharing one updated_at (a tie); amounts that floats would bend."""
    recs: list[tuple[str, dict[str, Any]]] = [
        ("customers", {"customer_no": "C0000001", "name": "Acme GmbH", "tax_id": "DE123", "country": "DE",
                       "currency": "EUR", "payment_terms_days": 30, "created_at": "2024-01-01T00:00:00Z",
                       "updated_at": T0}),
        ("customers", {"customer_no": "C0000002", "name": "Beta Ltd", "country": "GB", "currency": "GBP",
                       "payment_terms_days": 14, "created_at": "2024-02-01T00:00:00Z", "updated_at": T1}),
    ]
    amounts = [("0.10", "0.20", "0.30"), ("12345678901234.56", "0.00", "12345678901234.56"),
               ("100.00", "19.00", "119.00"), ("5.55", "1.05", "6.60")]
    for i, (net, tax, total) in enumerate(amounts, start=1):
        recs.append(("invoices", {"invoice_no": f"INV-{i:04d}", "customer_no": "C0000001", "issue_date": "2026-02-01",
                                  "due_date": "2026-03-03", "currency": "EUR", "net_amount": net, "tax_amount": tax,
                                  "total_amount": total, "status": "open", "paid_date": None, "updated_at": T0}))
    recs.append(("payments", {"payment_id": "PAY-0001", "invoice_no": "INV-0001", "customer_no": "C0000001",
                              "paid_at": "2026-03-01T12:00:00Z", "amount": "0.30", "currency": "EUR",
                              "method": "wire", "updated_at": T1}))
    recs.append(("credit_notes", {"credit_note_no": "CN-0001", "invoice_no": "INV-0003", "customer_no": "C0000001",
                                  "issued_at": "2026-03-02T08:00:00Z", "amount": "19.00", "currency": "EUR",
                                  "reason": "discount", "updated_at": T1}))
    return recs


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "finance.sqlite"
    write_ledger(path, ledger_records())
    return path


def run_tap(config: dict[str, Any], capsys: pytest.CaptureFixture[str],
            state: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    """Sync in-process; (records as messages, final state, raw stdout)."""
    capsys.readouterr()
    TapFinance(config=config, state=state or {}).sync_all()
    out = capsys.readouterr().out
    messages = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return [m for m in messages if m["type"] == "RECORD"], states[-1] if states else {}, out
