"""A field's transforms run once per distinct text value: results and failures are remembered,
and nothing a record must not share leaks into another record."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sync.mapping import Mapped, Quarantine
from sync.mapping.loader import load_mapping_text

MAPPING = """
source: shop
streams:
  invoices:
    entity: invoice
    key: no
    fields:
      customer: {from: customer, ref: customer}
      number: {from: no, transform: [strip]}
      issued_on: {from: day, transform: date}
      amount: {from: amount, transform: decimal}
      currency: {from: currency, transform: currency}
      status: {from: status, transform: [strip, lower], on_error: "null"}
"""


def _map(records: list[dict]) -> list:
    mapping = load_mapping_text(MAPPING)
    return [mapping.apply("invoices", r) for r in records]


def test_repeated_values_map_as_each_would_alone() -> None:
    records = [{"no": f"N{i}", "customer": "C1", "day": "2026-02-0" + str(1 + i % 3), "amount": "10.50",
                "currency": "eur", "status": " Paid "} for i in range(10)]
    fresh = [load_mapping_text(MAPPING).apply("invoices", r) for r in records]  # a new mapping each: no memo
    assert _map(records) == fresh
    first = fresh[0]
    assert isinstance(first, Mapped)
    assert first.entity.issued_on == date(2026, 2, 1) and first.entity.currency == "EUR"


def test_a_remembered_failure_still_quarantines_each_record_with_its_reason() -> None:
    results = _map([{"no": f"N{i}", "day": "not a date", "amount": "1", "currency": "EUR"} for i in range(3)])
    assert all(isinstance(r, Quarantine) for r in results)
    assert [(r.source_id, r.field) for r in results] == [("N0", "issued_on"), ("N1", "issued_on"),
                                                          ("N2", "issued_on")]
    assert len({r.reason for r in results}) == 1 and "not a date" in results[0].reason


def test_equal_values_of_other_types_are_not_confused() -> None:
    # 1, 1.0, True and "1" hash alike or compare equal; only text is remembered, by exact value
    results = _map([{"no": "A", "day": "2026-01-01", "amount": "1.00", "currency": "EUR"},
                    {"no": "B", "day": "2026-01-01", "amount": Decimal("1.0"), "currency": "EUR"},
                    {"no": "C", "day": "2026-01-01", "amount": 1, "currency": "EUR"}])
    amounts = [str(r.entity.amount) for r in results if isinstance(r, Mapped)]
    assert amounts == ["1.00", "1.0", "1"]


def test_values_stay_right_after_the_memo_starts_afresh() -> None:
    from sync.mapping import applier

    records = [{"no": f"N{i}", "day": "2026-01-01", "amount": f"{i}.00", "currency": "EUR"}
               for i in range(applier._MEMO_SIZE + 10)]
    results = _map(records)
    assert [str(r.entity.amount) for r in results if isinstance(r, Mapped)] == [f"{i}.00" for i in
                                                                                 range(len(records))]
