"""The transforms a mapping can name, registered by name with the parameters each accepts.

Transforms are small pure functions ``f(value, **params)``; the applier never calls one with
None (a missing value stays missing) and turns a :class:`TransformError` into the field's
``on_error`` behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync.mapping import contact_points, countries, privacy, text, values
from sync.mapping.errors import TransformError


@dataclass(frozen=True)
class Transform:
    name: str
    fn: Callable[..., Any]
    doc: str
    params: dict[str, type] = field(default_factory=dict)
    """Parameter name → expected type of a literal value (a ``{from: field}`` is allowed too)."""
    check: Callable[[dict[str, Any]], str | None] | None = None
    """Checks the constant parameters when the mapping loads: a problem to report, or None."""

    def __call__(self, value: Any, **params: Any) -> Any:
        return self.fn(value, **params)


_NULL_LIKE = ("", "n/a", "na", "null", "none", "-", "--", "nil", "无", "空")


def null_if(value: Any, values: list[Any] | None = None) -> Any:
    """None when the value is one of ``values`` (default: empty and N/A-like placeholders)."""
    candidates = values if values is not None else _NULL_LIKE
    probe = value.strip().lower() if isinstance(value, str) else value
    if values is None:
        return None if probe in candidates else value
    return None if value in candidates or probe in candidates else value


def _str(value: Any) -> str:
    return text.as_text(value)


def _country(value: Any) -> str:
    return countries.country_code(value)


TRANSFORMS: dict[str, Transform] = {t.name: t for t in (
    Transform("strip", text.strip, "trim leading and trailing whitespace"),
    Transform("lower", text.lower, "lower case"),
    Transform("upper", text.upper, "upper case"),
    Transform("title", text.title, "capitalise each word"),
    Transform("str", _str, "numbers to text (e.g. a numeric postal code)"),
    Transform("truncate", text.truncate, "cut to at most max_length characters", {"max_length": int}),
    Transform("fullwidth_to_halfwidth", text.fullwidth_to_halfwidth,
              "ＡＢＣ１２３ → ABC123; ideographic space → space"),
    Transform("nfkc", text.nfkc, "Unicode NFKC compatibility normalisation (also folds full-width)"),
    Transform("normalize_whitespace", text.normalize_whitespace, "collapse any whitespace run to one space; trim"),
    Transform("normalize_punctuation", text.normalize_punctuation, "Chinese/typographic punctuation to ASCII"),
    Transform("traditional_to_simplified", text.traditional_to_simplified, "traditional → simplified Chinese"),
    Transform("company_name", text.company_name, "tidy company name for display (width, spaces, punctuation)"),
    Transform("strip_legal_suffix", lambda v: text.strip_legal_suffix(text.as_text(v)),
              "remove legal forms: 有限公司, 股份有限公司, Co., Ltd., Inc., GmbH, S.A., ..."),
    Transform("company_key", text.company_key, "matching key: simplified, lower case, no legal suffix or punctuation"),
    Transform("email", contact_points.email, "validate and normalise an email address"),
    Transform("phone_e164", contact_points.phone_e164, "phone number to E.164 (+8613800138000)",
              {"default_region": str}),
    Transform("domain", contact_points.domain, "domain from a URL or an email address"),
    Transform("company_domain", contact_points.company_domain,
              "domain from a URL or an email address; null for free-mail providers (qq.com, gmail.com, ...)"),
    Transform("country", _country, "country name/code (English, Chinese, alpha-3, variants) → ISO alpha-2"),
    Transform("datetime", values.to_datetime, "parse a timestamp; naive values are read in 'timezone'",
              {"timezone": str, "dayfirst": bool, "format": str}),
    Transform("date", values.to_date, "parse a date; timestamps are converted to 'timezone' first",
              {"timezone": str, "dayfirst": bool, "format": str}),
    Transform("decimal", values.to_decimal,
              "exact Decimal amount from text or number, in one declared format: 'separator' ('.' default "
              "or ',') or a 'locale' (e.g. de_DE); ambiguous separators, non-finite or out-of-range amounts "
              "are quarantined", {"decimal_comma": bool, "places": int, "separator": str, "locale": str},
              values.check_number_format),
    Transform("currency", values.currency, "ISO 4217 code from code or symbol"),
    Transform("bool", values.to_bool, "yes/no, true/false, 1/0, 是/否 → boolean"),
    Transform("int", values.to_int, "whole number"),
    Transform("null_if", null_if, "None for placeholder values ('', N/A, null, -) or the given 'values'",
              {"values": list}),
    Transform("hash", privacy.hash_value, "salted sha256 (salt from the environment variable 'salt_env')",
              {"salt_env": str, "salt": str}),
    Transform("mask", privacy.mask, "mask all but the last 'keep' characters", {"keep": int, "char": str}),
)}

__all__ = ["TRANSFORMS", "Transform", "TransformError", "null_if"]
