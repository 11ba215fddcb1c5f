"""Typed values from loosely typed sources: dates and times with zones, exact money, booleans."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from dateutil import parser as dateparser

from sync.mapping.errors import TransformError
from sync.mapping.text import as_text, fullwidth_to_halfwidth

_EPOCH_MS = 100_000_000_000  # numbers above this are epoch milliseconds (year 5138 in seconds)
_CJK_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")


@cache
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TransformError("unknown time zone") from None


def is_time_zone(name: str) -> bool:
    try:
        zone(name)
    except TransformError:
        return False
    return True


def _iso(text: str) -> datetime | None:
    """ISO 8601 text the fast way (most sources send it); None for anything else, left to dateutil."""
    if not (text[:4].isdigit() and text[4:5] == "-"):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _parse(value: Any, timezone: str, dayfirst: bool, fmt: str | None) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        seconds = float(value)
        if abs(seconds) >= _EPOCH_MS:
            seconds /= 1000
        try:
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        except OverflowError:
            raise TransformError("timestamp out of range") from None
    else:
        text = fullwidth_to_halfwidth(as_text(value)).strip()
        if not text or len(text) > 64:
            raise TransformError("not a date or time")
        text = _CJK_DATE.sub(r"\1-\2-\3 ", text).strip()
        try:
            parsed = datetime.strptime(text, fmt) if fmt else (_iso(text) or dateparser.parse(text, dayfirst=dayfirst))
        except (ValueError, OverflowError, TypeError):
            raise TransformError("not a date or time" + (" in the given format" if fmt else "")) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(timezone))
    return parsed


def to_datetime(value: Any, timezone: str = "UTC", dayfirst: bool = False, format: str | None = None) -> datetime:
    """An aware datetime in UTC; a value without an offset is read in ``timezone``."""
    return _parse(value, timezone, dayfirst, format).astimezone(UTC)


def to_date(value: Any, timezone: str = "UTC", dayfirst: bool = False, format: str | None = None) -> date:
    """The calendar date; a timestamp with an offset is first moved into ``timezone``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return _parse(value, timezone, dayfirst, format).astimezone(zone(timezone)).date()


_MONEY_JUNK = re.compile(r"[\s'’_\u00a0\u202f]|[A-Za-z]{3}|[$€£¥￥元₩₹₽]|RMB|CNY", re.IGNORECASE)
_NON_FINITE = frozenset({"nan", "snan", "inf", "infinity", "∞"})
AMOUNT_DIGITS = 18
"""An amount is out of range from 10^18 up, or when non-zero and below 10^-18: far beyond any
real money, and beyond what a 64-bit integer of minor units or a NUMERIC(38, 18) column holds."""


@cache
def number_format(separator: str | None = None, locale: str | None = None) -> tuple[str, str]:
    """(decimal separator, group separator) declared for a field: a separator, or a locale's
    (via Babel), or the default '.' with ',' grouping. Raises TransformError for an unknown locale."""
    if locale:
        from babel import Locale, UnknownLocaleError, numbers

        try:
            parsed = Locale.parse(locale.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            raise TransformError(f"unknown locale '{locale}'") from None
        decimal, group = numbers.get_decimal_symbol(parsed), numbers.get_group_symbol(parsed)
        # spaces and apostrophes as group marks are dropped before the check
        return decimal, "" if group.isspace() or group in "'’\u202f" else group
    decimal = separator or "."
    if decimal not in (".", ","):
        raise TransformError("the decimal separator must be '.' or ','")
    return decimal, "," if decimal == "." else "."


def _grouped(integer: str, group: str) -> bool:
    """Whether an integer part with group marks is grouped by thousands (1,234,567)."""
    head, *rest = integer.split(group)
    return 1 <= len(head.lstrip("+-")) <= 3 and all(len(part) == 3 and part.isdigit() for part in rest)


def _amount_text(text: str, decimal: str, group: str) -> str:
    """Text in the declared format as Decimal reads it; TransformError if the separators are
    ambiguous or contradict the format (never reinterpreted: '12,5' is not 125)."""
    others = {".", ","} - {decimal}
    if text.count(decimal) > 1:
        raise TransformError(f"amount has more than one decimal separator '{decimal}'")
    integer, _, fraction = text.partition(decimal)
    if any(mark in fraction for mark in (*others, group) if mark):
        raise TransformError(f"amount has a separator after the decimal separator '{decimal}'")
    if group and group in integer:
        if not _grouped(integer, group):
            raise TransformError(f"amount separators do not match the declared format "
                                 f"('{decimal}' decimal, '{group}' thousands)")
        integer = integer.replace(group, "")
    if any(mark in integer for mark in others):
        raise TransformError(f"amount separators do not match the declared format ('{decimal}' decimal)")
    return integer + ("." + fraction if decimal in text else "")


def to_decimal(value: Any, decimal_comma: bool = False, places: int | None = None, separator: str | None = None,
               locale: str | None = None) -> Decimal:
    """Exact Decimal from '1,234.50', '¥1,234.50', 'USD 99', '(12.00)' or a JSON number.

    Text is read in one declared format: ``separator`` ('.' by default, or ',' — which is what
    ``decimal_comma`` means too) or a ``locale``'s symbols (Babel). A value whose separators are
    ambiguous or contradict that format, a non-finite value and an amount out of range
    (:data:`AMOUNT_DIGITS`) raise TransformError, so the record is quarantined. A float goes
    through its shortest repr, so 0.1 stays 0.1 rather than 0.1000000000000000055.
    """
    if isinstance(value, bool):
        raise TransformError("expected an amount, got a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        if value.bit_length() > 128:
            raise TransformError("amount out of range")
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        text = fullwidth_to_halfwidth(as_text(value)).strip()
        if len(text) > 64:
            raise TransformError("not an amount")
        if text.lstrip("+-").lower() in _NON_FINITE:
            raise TransformError("amount is not a finite number")
        negative = text.startswith("(") and text.endswith(")")
        text = _MONEY_JUNK.sub("", text.strip("()"))
        decimal, group = number_format("," if decimal_comma and not separator else separator, locale)
        text = _amount_text(text, decimal, group)
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise TransformError("not an amount") from None
        if negative:
            result = -result
    if not result.is_finite():
        raise TransformError("amount is not a finite number")
    if result and not -AMOUNT_DIGITS <= result.adjusted() < AMOUNT_DIGITS:
        raise TransformError("amount out of range")
    if places is not None:
        try:
            result = result.quantize(Decimal(1).scaleb(-int(places)))
        except InvalidOperation:
            raise TransformError("amount too large") from None
    return result


def check_number_format(params: dict[str, Any]) -> str | None:
    """A mapping's constant decimal parameters that cannot work, as a load-time problem (or None)."""
    if params.get("separator") is not None and params.get("locale") is not None:
        return "declare either 'separator' or 'locale' for a decimal, not both"
    if params.get("decimal_comma") and params.get("separator") == ".":
        return "'decimal_comma' contradicts separator '.'"
    try:
        number_format(params.get("separator"), params.get("locale"))
    except TransformError as exc:
        return str(exc)
    return None


_CURRENCY_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "CNY", "￥": "CNY", "元": "CNY",
                     "RMB": "CNY", "人民币": "CNY", "美元": "USD", "欧元": "EUR", "英镑": "GBP", "日元": "JPY"}


def currency(value: Any) -> str:
    """ISO 4217 code from a code in any case or a common symbol ('rmb', '¥' → 'CNY')."""
    text = as_text(value).strip()
    code = _CURRENCY_SYMBOLS.get(text) or _CURRENCY_SYMBOLS.get(text.upper()) or text.upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise TransformError("not an ISO 4217 currency")
    return code


_TRUE = {"true", "t", "yes", "y", "1", "on", "是", "真", "x"}
_FALSE = {"false", "f", "no", "n", "0", "off", "否", "假", ""}


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value != 0
    text = as_text(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise TransformError("not a yes/no value")


def to_int(value: Any) -> int:
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise TransformError("not a whole number")
    return int(number)
