"""Field values on their way to Salesforce: one canonical form, comparison, wire and CSV spelling.

The diff compares what crm2 wants with what it last wrote, and crash recovery compares it with
what Salesforce now holds, so "the same value" must not depend on spelling: ``80``, ``80.00`` and
``Decimal("80.0")`` are one number; ``2026-11-01T00:00:00Z`` and ``2026-11-01T00:00:00.000+0000``
one instant; an empty text field is null (Salesforce stores "" as null). Money stays Decimal
from the tap's JSON to the wire.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

Kind = Literal["string", "number", "integer", "boolean", "date", "datetime"]
KINDS: tuple[Kind, ...] = ("string", "number", "integer", "boolean", "date", "datetime")

CSV_NULL = "#N/A"
"""Bulk API 2.0: a cell with #N/A sets the field to null (an empty cell leaves it alone)."""


class ValueProblem(ValueError):
    """A value that cannot become the field's kind; the message names the kind, never the value."""


def kind_from_schema(prop: dict[str, Any]) -> Kind:
    """The kind a JSON Schema property describes (the tap's SCHEMA message says what comes)."""
    types = prop.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    if prop.get("format") == "date-time":
        return "datetime"
    if prop.get("format") == "date":
        return "date"
    for name in ("integer", "number", "boolean"):
        if name in types:
            return name  # type: ignore[return-value]
    return "string"


def _datetime(value: Any) -> datetime:
    # Python 3.11 reads Salesforce's "...000+0000" as well as "Z" and "+00:00"
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def canonical(kind: Kind, value: Any) -> Any:
    """The one form of a value of this kind: Decimal, int, bool, str, or None for null."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    try:
        if kind == "number":
            if isinstance(value, bool):
                raise ValueProblem("expected a number, got a boolean")
            number = value if isinstance(value, Decimal) else Decimal(str(value))
            if not number.is_finite():
                raise ValueProblem("expected a finite number")
            return number
        if kind == "integer":
            if isinstance(value, bool):
                raise ValueProblem("expected an integer, got a boolean")
            number = Decimal(str(value))
            if number != number.to_integral_value():
                raise ValueProblem("expected an integer, got a fraction")
            return int(number)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1"):
                return True
            if text in ("false", "0"):
                return False
            raise ValueProblem("expected true or false")
        if kind == "datetime":
            stamp = _datetime(value)
            return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
        if kind == "date":
            if isinstance(value, date) and not isinstance(value, datetime):
                return value.isoformat()
            return _datetime(value).date().isoformat() if "T" in str(value) else date.fromisoformat(
                str(value)).isoformat()
    except (InvalidOperation, ValueError, TypeError) as exc:
        if isinstance(exc, ValueProblem):
            raise
        raise ValueProblem(f"not a valid {kind}") from None
    return str(value)


def same(kind: Kind, left: Any, right: Any) -> bool:
    """True when two spellings name the same value of this kind (unparseable ones compare as text)."""
    try:
        return bool(canonical(kind, left) == canonical(kind, right))
    except ValueProblem:
        return str(left) == str(right)


def stored(value: Any) -> Any:
    """JSON for the store: Decimals as exact strings (``canonical`` reads them back as numbers)."""
    return str(value) if isinstance(value, Decimal) else value


def csv_cell(value: Any) -> str:
    """A Bulk CSV cell; null is ``#N/A`` because an empty cell would leave the field unchanged."""
    if value is None:
        return CSV_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def shown(value: Any) -> str:
    """A value in dry-run and summary lines."""
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def same_loose(left: Any, right: Any) -> bool:
    """Equality when the kind is not known: as numbers if both read as numbers, as instants if both
    read as date-times, else as text (null and "" alike, booleans in lower case)."""
    for kind in ("number", "datetime"):
        try:
            return bool(canonical(kind, left) == canonical(kind, right))  # type: ignore[arg-type]
        except ValueProblem:
            continue

    def text(value: Any) -> str | None:
        if value is None or value == "":
            return None
        return str(value).lower() if isinstance(value, bool) else str(value)

    return text(left) == text(right)
