"""JSON Schemas of the default sales endpoints (the fields in docs/synthetic-data.md)."""

from __future__ import annotations

from typing import Any

_STR = {"type": ["string", "null"]}
_TS = {"type": ["string", "null"], "format": "date-time"}
_DATE = {"type": ["string", "null"], "format": "date"}
_MONEY = {"type": ["number", "null"]}
_INT = {"type": ["integer", "null"]}
_NUM = {"type": ["number", "null"]}


def _obj(**props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props}


DEFAULT_SCHEMAS: dict[str, dict[str, Any]] = {
    "accounts": _obj(
        id={"type": "string"}, company=_STR,
        contact={"type": ["object", "null"], "properties": {"name": _STR, "email": _STR, "phone": _STR}},
        country=_STR, city=_STR, vat_or_tax_id=_STR, created_at=_TS, updated_at=_TS),
    "orders": _obj(
        id={"type": "string"}, number=_STR, account_id=_STR, placed_at=_TS, status=_STR, currency=_STR,
        total=_MONEY, cost=_MONEY, channel=_STR, updated_at=_TS),
    "order_lines": _obj(
        id={"type": "string"}, order_id=_STR, sku=_STR, product=_STR, quantity=_NUM, unit_price=_MONEY,
        line_total=_MONEY, updated_at=_TS),
    "opportunities": _obj(
        id={"type": "string"}, account_id=_STR, title=_STR, stage=_STR, amount=_MONEY, currency=_STR,
        probability=_NUM, expected_close=_DATE, updated_at=_TS),
}
