"""Field values: wire form (JSON, CSV) <-> stored form, and the checks Salesforce applies.

Stored forms keep comparisons right in SQLite: datetimes as fixed-width UTC text
``YYYY-MM-DDTHH:MM:SS.fffZ`` (so text order is time order), dates as ``YYYY-MM-DD``, booleans
as 0/1, currency as exact decimal text rounded to the field's scale (money never passes through
a float), other numbers as numbers, everything else as text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from connectors.salesforce.standin.errors import RecordError
from connectors.salesforce.standin.ids import to_18
from connectors.salesforce.standin.schema import SOBJECTS, USER_PREFIX, FieldDef

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
"""A Bulk CSV cell left empty: the field is not touched (``#N/A`` is how CSV sets null)."""


class ValueTypeError(RecordError):
    """A value of the wrong type: JSON_PARSER_ERROR for JSON bodies, a per-row error for CSV."""


def normalize_datetime(text: str) -> str:
    """ISO 8601 (``Z``, ``+0000``, ``+00:00``, with or without fraction) -> ``YYYY-MM-DDTHH:MM:SS.fffZ``."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def now_stamp() -> str:
    return normalize_datetime(datetime.now(UTC).isoformat())


def _type_error(f: FieldDef, expected: str, source: str) -> ValueTypeError:
    if source == "csv":
        return ValueTypeError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{f.display_label}: value not of required type",
                              [f.name])
    return ValueTypeError("JSON_PARSER_ERROR", f"Cannot deserialize instance of {expected} for field {f.name} "
                          "or request may be missing a required field", [f.name])


def _decimal(f: FieldDef, value: Any, source: str) -> Decimal:
    if isinstance(value, bool):
        raise _type_error(f, f.type, source)
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _type_error(f, f.type, source) from None
        if number.is_finite():
            return number
    raise _type_error(f, f.type, source)


def from_wire(f: FieldDef, value: Any, source: str = "json") -> Any:
    """A JSON value (or CSV text with ``source="csv"``) -> the stored form; raises on a bad type.

    Like Salesforce's JSON reader, strings are accepted for numbers and booleans and scalars for
    text; objects and arrays never are.
    """
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise _type_error(f, f.type, source)
    storage = f.storage
    if storage == "id":
        if not isinstance(value, str):
            raise _type_error(f, "id", source)
        return to_18(value) or value  # a malformed id is kept for validate() to name
    if storage == "text":
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)
    if storage == "bool":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return int(value.strip().lower() in ("true", "1"))
        raise _type_error(f, "boolean", source)
    if storage == "int":
        number = _decimal(f, value, source)
        if number != number.to_integral_value():
            raise _type_error(f, "int", source)
        return int(number)
    if storage == "double":
        return float(_decimal(f, value, source))
    if storage == "currency":
        number = _decimal(f, value, source)
        return str(number.quantize(Decimal(1).scaleb(-f.scale), rounding=ROUND_HALF_UP))
    if not isinstance(value, str):
        raise _type_error(f, storage, source)
    if storage == "date":
        text = value.strip()
        try:
            if not _DATE.fullmatch(text):
                raise ValueError
            date.fromisoformat(text)
        except ValueError:
            raise _type_error(f, "date", source) from None
        return text
    try:
        return normalize_datetime(value)
    except ValueError:
        raise _type_error(f, "datetime", source) from None


def from_csv(f: FieldDef, text: str) -> Any:
    """A Bulk CSV cell: empty leaves the field alone, ``#N/A`` sets null."""
    if text == "":
        return UNSET
    if text == "#N/A":
        return None
    return from_wire(f, text, source="csv")


def validate(f: FieldDef, stored: Any) -> None:
    """Checks that do not depend on other records: length, picklist, e-mail, id shape, range."""
    if stored is None:
        return
    storage = f.storage
    if storage == "text":
        if f.length and len(stored) > f.length:
            raise RecordError("STRING_TOO_LONG", f"{f.display_label}: data value too large (max length={f.length})",
                              [f.name])
        if f.type == "email" and stored and not _EMAIL.fullmatch(stored):
            raise RecordError("INVALID_EMAIL_ADDRESS", f"{f.display_label}: invalid email address", [f.name])
        if f.type == "picklist" and f.restricted and stored not in f.picklist:
            raise RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                              f"{f.display_label}: bad value for restricted picklist field: {stored}", [f.name])
    elif storage == "id":
        prefixes = {o.key_prefix for o in SOBJECTS.values() if o.name in f.reference_to}
        if "User" in f.reference_to:
            prefixes.add(USER_PREFIX)
        if to_18(stored) is None or stored[:3] not in prefixes:
            raise RecordError("MALFORMED_ID", f"{f.display_label}: id value of incorrect type: {stored}", [f.name])
    elif storage in ("double", "currency") and f.precision:
        whole = int(abs(Decimal(str(stored))).to_integral_value(rounding=ROUND_DOWN))
        if whole and len(str(whole)) > f.precision - f.scale:
            raise RecordError("NUMBER_OUTSIDE_VALID_RANGE",
                              f"{f.display_label}: value outside of valid range on numeric field", [f.name])


def to_json(f: FieldDef, stored: Any) -> Any:
    """Stored -> the value REST returns (datetimes as ``...000+0000``, money as an exact number)."""
    if stored is None:
        return None
    storage = f.storage
    if storage == "datetime":
        return stored[:-1] + "+0000"
    if storage == "bool":
        return bool(stored)
    if storage == "currency":
        return Decimal(stored)
    return stored


def to_csv(f: FieldDef, stored: Any) -> str:
    """Stored -> a Bulk 2.0 query result cell (null is an empty cell)."""
    if stored is None:
        return ""
    storage = f.storage
    if storage == "bool":
        return "true" if stored else "false"
    if storage == "double":
        return repr(float(stored))
    return str(stored)
