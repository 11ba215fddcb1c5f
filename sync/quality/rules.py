"""What each record-level check type considers a failure (pure functions, no store)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sync.quality.spec import AcceptedValues, Format, Range, Regex, Required
from sync.resolve.blocking import field_value
from sync.resolve.normalize import tax_id, uscc_valid

_FORMATS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    "e164": re.compile(r"^\+[1-9]\d{6,14}$"),
    "domain": re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$"),
    "country": re.compile(r"^[A-Z]{2}$"),
}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _format_ok(fmt: str, value: Any) -> bool:
    text = str(value).strip()
    if fmt == "uscc":
        code = tax_id(text)
        return code is not None and uscc_valid(code)
    if fmt == "date":
        try:
            date.fromisoformat(text)
            return True
        except ValueError:
            return False
    if fmt == "datetime":
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
            return True
        except ValueError:
            return False
    return bool(_FORMATS[fmt].match(text))


def failure(check: Required | AcceptedValues | Format | Regex | Range, record: Mapping[str, Any],
            pattern: re.Pattern[str] | None = None) -> str | None:
    """Why the record fails the check (no values: reasons end up in logs), or None."""
    if isinstance(check, Required):
        missing = [f for f in check.fields if _empty(field_value(record, f))]
        return f"missing {', '.join(missing)}" if missing else None
    value = field_value(record, check.field)
    if _empty(value):
        return None  # emptiness is the 'required' check's business
    if isinstance(check, AcceptedValues):
        return None if value in check.values else f"{check.field} not an accepted value"
    if isinstance(check, Format):
        return None if _format_ok(check.format, value) else f"{check.field} is not a valid {check.format}"
    if isinstance(check, Regex):
        assert pattern is not None
        return None if pattern.search(str(value)) else f"{check.field} does not match the pattern"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{check.field} is not a number"
    if check.min is not None and number < check.min:
        return f"{check.field} below {check.min:g}"
    if check.max is not None and number > check.max:
        return f"{check.field} above {check.max:g}"
    return None
