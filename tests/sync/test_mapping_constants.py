"""`currency: USD` in a mapping reads a source field named USD (a plain string is a path; docs/
mapping.md says so). When there is no such field, the errors say how to write the constant."""

from __future__ import annotations

from pathlib import Path

from sync.mapping import check_against_catalog, load_mapping_text
from sync.mapping.examples import run_examples

MAPPING = """\
source: shop
streams:
  invoices:
    entity: invoice
    key: id
    fields:
      customer: {ref: customer, from: customer_id}
      amount: total
      issued_on: day
      currency: USD
"""

CATALOG = {"streams": [{"tap_stream_id": "invoices", "stream": "invoices", "schema": {
    "type": "object", "properties": {"id": {"type": "string"}, "customer_id": {"type": "string"},
                                     "total": {"type": "number"},
                                     "day": {"type": "string", "format": "date"}}}}]}


def test_a_plain_string_that_is_no_field_hints_at_const() -> None:
    report = check_against_catalog(load_mapping_text(MAPPING, "m.yml"), CATALOG)
    assert [str(p) for p in report.errors] == [
        "m.yml:10:17: stream 'invoices' has no field 'USD' (a plain string names a source field; "
        "for the text 'USD' itself write {const: USD})"]


def test_const_block_is_the_constant() -> None:
    fixed = MAPPING.replace("currency: USD", "currency: {const: USD}")
    assert check_against_catalog(load_mapping_text(fixed, "m.yml"), CATALOG).errors == []


def test_a_failing_example_expecting_the_path_text_hints_at_const(tmp_path: Path) -> None:
    text = MAPPING + """    examples:
      - input: {id: "1", customer_id: c1, total: 5, day: "2026-01-02"}
        expect: {currency: USD}
"""
    [result] = run_examples(load_mapping_text(text, "m.yml"))
    assert not result.ok
    assert "for the text 'USD' itself write {const: USD}" in str(result)
