"""`decimal` reads amounts in one declared format per field and never reinterprets one.

'4.500,00' under the default ('.' decimal) is not 4.50000 and '12,5' is not 125: separators that
are ambiguous or contradict the declared format, non-finite values and amounts out of range are
refused, so the record is quarantined with the reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync.mapping import load_mapping_text
from sync.mapping.applier import Mapped, Quarantine, apply_record
from sync.mapping.errors import TransformError
from sync.mapping.values import to_decimal
from sync.yamlconf import ConfigError


@pytest.mark.parametrize(("text", "params", "expected"), [
    ("1,234.50", {}, "1234.50"), ("1,234", {}, "1234"), ("¥1,234.50", {}, "1234.50"), ("(12.00)", {}, "-12.00"),
    ("USD 99", {}, "99"), ("4.500,00", {"separator": ","}, "4500.00"), ("12,5", {"separator": ","}, "12.5"),
    ("12,5", {"decimal_comma": True}, "12.5"), ("1.234.567,89", {"locale": "de_DE"}, "1234567.89"),
    ("1 234,5", {"locale": "fr_FR"}, "1234.5"), ("1’234.50", {"locale": "de_CH"}, "1234.50"),
    ("1,234.5", {"locale": "en_US"}, "1234.5"), (12, {}, "12"), (0.1, {}, "0.1"),
])
def test_amounts_in_their_declared_format(text, params, expected):
    assert to_decimal(text, **params) == Decimal(expected)


@pytest.mark.parametrize(("text", "params", "reason"), [
    ("4.500,00", {}, "separator after the decimal separator"),
    ("12,5", {}, "do not match the declared format"),
    ("1,2,3", {}, "do not match the declared format"),
    ("1.5.3", {}, "more than one decimal separator"),
    ("12,34,567.00", {}, "do not match the declared format"),
    ("1,234.50", {"separator": ","}, "separator after the decimal separator"),
    ("1.5", {"separator": ","}, "do not match the declared format"),
    ("1.234,5", {"locale": "en_US"}, "separator after the decimal separator"),
    ("NaN", {}, "not a finite number"), ("-Infinity", {}, "not a finite number"),
    (Decimal("NaN"), {}, "not a finite number"),
    ("1e999999", {}, "out of range"), (Decimal("1e999999"), {}, "out of range"), (10**40, {}, "out of range"),
    ("1e-999999", {}, "out of range"), (1e300, {}, "out of range"),
])
def test_ambiguous_contradicting_non_finite_and_out_of_range_amounts_are_refused(text, params, reason):
    with pytest.raises(TransformError, match=reason):
        to_decimal(text, **params)


MAPPING = """\
source: shop
streams:
  orders:
    entity: order
    key: id
    fields:
      ordered_at: {from: at, transform: datetime}
      currency: {const: EUR}
      total: {from: total, transform: [{decimal: {separator: ","}}]}
"""


def test_a_mapping_declares_the_format_and_a_contradicting_value_is_quarantined():
    plan = load_mapping_text(MAPPING).plans_for("orders")[0]
    loaded = apply_record(plan, {"id": "O1", "at": "2026-01-05", "total": "4.500,00"})
    assert isinstance(loaded, Mapped) and loaded.entity.total == Decimal("4500.00")
    held = apply_record(plan, {"id": "O2", "at": "2026-01-05", "total": "4,500.00"})
    assert isinstance(held, Quarantine) and held.field == "total" and "decimal separator" in held.reason


@pytest.mark.parametrize(("params", "problem"), [
    ('{locale: xx_NOPE}', "unknown locale 'xx_NOPE'"),
    ('{separator: ";"}', "the decimal separator must be '.' or ','"),
    ('{separator: ",", locale: de_DE}', "either 'separator' or 'locale'"),
])
def test_a_format_that_cannot_work_is_a_load_error_with_its_position(params, problem):
    with pytest.raises(ConfigError) as info:
        load_mapping_text(MAPPING.replace('{separator: ","}', params), "m.yml")
    assert str(info.value.problems[0]).startswith("m.yml:9:") and problem in str(info.value.problems[0])
